"""The 31 spatial relations of DESIGN.md as predicates, selectors and placement regions.

Each ``Relation`` can do up to three things:

- ``score(view, o, anchors, params) -> float`` (filters): > ``margin`` true, < -``margin`` false,
  in between ambiguous (a program that hits an ambiguous object is rejected);
- ``key(view, o, anchors, params) -> float`` (selectors): the candidate with the largest key wins,
  if it beats the runner-up by ``margin``;
- ``region(view, anchors, params) -> bool over view.table_points`` (placement on the table), or
  ``surface(view, anchor, params) -> image mask`` (placement on an object's top).

``fit`` picks parameters that make a given target true (location programs are built target-first);
``draw`` picks parameters at random (placement). ``phrases`` give at least three paraphrases.
Distances are metres in code and centimetres in text. Camera-centric terms: left/right = camera X,
front (nearer the camera)/behind = camera depth Z; object-centric: the object's own +x front.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roboref.assets.objects import CATEGORIES
from roboref.envs.tasks.view import ObjectFacts, SceneView

Params = dict[str, Any]
M = 0.03  # default ambiguity margin (m)


@dataclass(frozen=True)
class Relation:
    name: str
    group: str
    n_anchors: int | Callable[[Params], int]
    phrases: Callable[[Params, list[str]], list[str]]
    score: Callable[..., float] | None = None
    key: Callable[..., float] | None = None
    region: Callable[..., np.ndarray] | None = None
    surface: Callable[..., np.ndarray] | None = None
    fit: Callable[..., Params | None] = lambda view, t, anchors, rng: {}
    draw: Callable[..., Params | None] = lambda view, anchors, rng: {}
    anchor_ok: Callable[[ObjectFacts], bool] = lambda a: True
    margin: float = M
    metric: str = ""  # which metric reasoning step it adds: distance | size | orientation | depth
    extra: dict = field(default_factory=dict)

    @property
    def location(self) -> bool:
        return self.score is not None or self.key is not None

    @property
    def placement(self) -> bool:
        return self.region is not None or self.surface is not None

    @property
    def selector(self) -> bool:
        return self.key is not None

    def anchors_needed(self, params: Params) -> int:
        return self.n_anchors(params) if callable(self.n_anchors) else self.n_anchors


# --- geometry helpers ---------------------------------------------------------------------------


def _xy(o: ObjectFacts) -> np.ndarray:
    return o.center[:2]


def _dist(a: ObjectFacts, b: ObjectFacts) -> float:
    return float(np.linalg.norm(_xy(a) - _xy(b)))


def _pdist(view: SceneView, a: ObjectFacts) -> np.ndarray:
    return np.linalg.norm(view.table_points[:, :2] - _xy(a), axis=1)


def _gap(a: ObjectFacts, b: ObjectFacts) -> float:
    """Edge-to-edge distance of two footprints."""
    return _dist(a, b) - a.radius - b.radius


def _cross2(u: np.ndarray, v: np.ndarray) -> float:
    """z of the 2D cross product u × v (positive when v is counter-clockwise of u)."""
    return float(u[0] * v[1] - u[1] * v[0])


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


def _cm(d: float) -> str:
    return f"{round(d * 100):d} cm"


def _p(*forms: str) -> Callable[[Params, list[str]], list[str]]:
    """Phrase factory: format strings over {a}, {b}, {c} (anchor references) and params."""

    def make(params: Params, refs: list[str]) -> list[str]:
        names = dict(zip("abc", refs, strict=False))
        return [f.format(**names, **params) for f in forms]

    return make


# --- camera-centric position -----------------------------------------------------------------


def _side_region(axis: int, sign: int):
    """Table points on one side of the anchor along camera axis 0 (X) or 2 (Z), near it."""
    other = 2 if axis == 0 else 0

    def region(view, anchors, params):
        (a,) = anchors
        pc = view.table_cam
        off = sign * (pc[:, axis] - a.cam[axis])
        return (off > a.radius + 0.02) & (np.abs(pc[:, other] - a.cam[other]) < 0.15) & (_pdist(view, a) < 0.35)

    return region


def _side_score(axis: int, sign: int):
    return lambda view, o, anchors, params: sign * (o.cam[axis] - anchors[0].cam[axis])


def _image_region(sign: int):
    def region(view, anchors, params):
        (a,) = anchors
        v = (view.table_rows + 0.5) / view.height
        u = (view.table_cols + 0.5) / view.width
        return (sign * (v - a.uv[1]) > 0.05) & (np.abs(u - a.uv[0]) < 0.15)

    return region


def _on(view, o, anchors, params):
    return 1.0 if o.support == anchors[0].index else -1.0


def _under(view, o, anchors, params):
    return 1.0 if anchors[0].support == o.index else -1.0


def _container_room(a: ObjectFacts) -> float:
    return 0.3 * a.size[0] if a.category == "bowl" else 0.35 * min(a.size[0], a.size[1])


def _top_surface(view: SceneView, a: ObjectFacts, params: Params, room: float, depth_tol: float = 0.012) -> np.ndarray:
    """Pixels of ``a`` whose 3D points lie on its top, within ``room`` of its vertical axis."""
    from roboref.envs.camera import unproject

    rows, cols = np.nonzero(a.mask)
    if len(rows) == 0:
        return np.zeros_like(a.mask)
    pts = unproject(np.column_stack([cols + 0.5, rows + 0.5]), view.depth[rows, cols], view.K, view.T)
    near_axis = np.linalg.norm(pts[:, :2] - a.center[:2], axis=1) <= room
    on_top = pts[:, 2] >= a.top_z - depth_tol
    mask = np.zeros_like(a.mask)
    keep = near_axis & on_top
    mask[rows[keep], cols[keep]] = True
    return mask


def _support_room(a: ObjectFacts) -> float:
    return 0.28 * a.size[0] if a.category == "plate" else 0.4 * min(a.size[0], a.size[1])


def _between_score(view, o, anchors, params):
    a, b = anchors
    ab = _xy(b) - _xy(a)
    L = float(np.linalg.norm(ab))
    t = float(np.dot(_xy(o) - _xy(a), ab) / (L * L + 1e-12))
    perp = float(abs(_cross2(ab / (L + 1e-12), _xy(o) - _xy(a))))
    return min(0.06 - perp, (t - 0.15) * L, (0.85 - t) * L)


def _between_region(view, anchors, params):
    a, b = anchors
    p = view.table_points[:, :2]
    ab = _xy(b) - _xy(a)
    L = float(np.linalg.norm(ab))
    t = (p - _xy(a)) @ ab / (L * L + 1e-12)
    perp = np.abs((p - _xy(a)) @ np.array([-ab[1], ab[0]]) / (L + 1e-12))
    return (t > 0.3) & (t < 0.7) & (perp < 0.06)


# --- selection ---------------------------------------------------------------------------------


def _nearest_band(view, anchors, params, sign):
    d = _pdist(view, anchors[0])
    region = params["_region"]
    if not region.any():
        return region
    best = d[region].min() if sign > 0 else d[region].max()
    return region & (np.abs(d - best) <= 0.03)


EXTREMES = {  # name -> (key over an object, camera-axis for placement or None, phrase)
    "leftmost": (lambda o: -o.cam[0], (0, -1)),
    "rightmost": (lambda o: o.cam[0], (0, 1)),
    "frontmost": (lambda o: -o.cam[2], (2, -1)),
    "backmost": (lambda o: o.cam[2], (2, 1)),
    "highest": (lambda o: o.top_z, None),
    "lowest": (lambda o: -o.top_z, None),
}
_EXTREME_WORDS = {
    "leftmost": ("leftmost", "farthest to the left", "furthest left"),
    "rightmost": ("rightmost", "farthest to the right", "furthest right"),
    "frontmost": ("closest to the camera", "frontmost", "nearest to the viewer"),
    "backmost": ("farthest from the camera", "backmost", "furthest back"),
    "highest": ("highest", "with the highest top", "tallest-reaching"),
    "lowest": ("lowest", "with the lowest top", "lowest-lying"),
}


def _extreme_fit(view, t, anchors, rng):
    names = list(EXTREMES)
    rng.shuffle(names)
    return [{"which": n} for n in names]


def _extreme_region(view, anchors, params):
    region = params["_region"]
    spec = EXTREMES[params["which"]][1]
    if spec is None or not region.any():
        return np.zeros_like(region)
    axis, sign = spec
    vals = sign * view.table_cam[:, axis]
    best = vals[region].max()
    return region & (vals >= best - 0.05)


def _nth_key(view, o, anchors, params):
    """Sort key: ascending order counts from the named side (first = smallest key)."""
    return o.cam[0] if params["side"] == "left" else -o.cam[0]


ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


# --- size -----------------------------------------------------------------------------------


def _size_relation(name: str, attr: str, more: str, less: str) -> Relation:
    words = {
        "more": (f"{more} than {{a}}", f"that is {more} than {{a}}", f"which is {more} than {{a}}"),
        "less": (f"{less} than {{a}}", f"that is {less} than {{a}}", f"which is {less} than {{a}}"),
        "most": (f"that is the {_sup(more)} one", f"which is the {_sup(more)}", f"of the {_sup(more)} size"),
        "least": (
            f"that is the {_sup(less)} one",
            f"which is the {_sup(less)}",
            f"of the {_sup(less)} size",
        ),
    }

    def val(o):
        return getattr(o, attr)

    def score(view, o, anchors, params):
        ratio = math.log(val(o) / val(anchors[0]))
        return ratio if params["mode"] == "more" else -ratio

    def key(view, o, anchors, params):
        # superlatives only: comparatives are filters (``score``)
        return math.log(val(o)) if params["mode"] == "most" else -math.log(val(o))

    def fit(view, t, anchors, rng):
        if anchors:
            r = math.log(val(t) / val(anchors[0]))
            return {"mode": "more" if r > 0 else "less"}
        return [{"mode": "most"}, {"mode": "least"}]

    rel = Relation(
        name=name,
        group="size",
        n_anchors=lambda p: 0 if p.get("mode") in ("most", "least") else 1,
        phrases=lambda p, refs: [f.format(**dict(zip("abc", refs, strict=False))) for f in words[p["mode"]]],
        score=score,
        key=key,
        fit=fit,
        margin=math.log(1.25),
        metric="size",
    )
    return rel


def _sup(adj: str) -> str:
    return {"larger": "largest", "smaller": "smallest", "taller": "tallest", "shorter": "shortest"}.get(
        adj, adj + "est" if not adj.endswith("er") else adj[:-2] + "est"
    )


# --- metric --------------------------------------------------------------------------------------


def _offset_target(view, a, params):
    return _xy(a) + params["d"] * view.camera_dirs()[params["dir"]]


def _offset_fit(view, t, anchors, rng):
    (a,) = anchors
    rel = _xy(t) - _xy(a)
    dirs = view.camera_dirs()
    best = max(dirs, key=lambda k: float(np.dot(rel, dirs[k])))
    d = round(round(float(np.dot(rel, dirs[best])) / 0.05) * 0.05, 2)
    if d < 0.1:
        return None
    return {"d": d, "dir": best, "cm": _cm(d)}


def _offset_draw(view, anchors, rng):
    d = float(rng.choice([0.1, 0.15, 0.2, 0.25]))
    return {"d": d, "dir": str(rng.choice(["left", "right", "front", "behind"])), "cm": _cm(d)}


_DIR_WORDS = {
    "left": "to the left of",
    "right": "to the right of",
    "front": "in front of",
    "behind": "behind",
}


def _within_fit(view, t, anchors, rng):
    d = round(math.ceil((_dist(t, anchors[0]) + 0.04) / 0.05) * 0.05, 2)
    return {"d": d, "cm": _cm(d)}


def _within_draw(view, anchors, rng):
    d = float(rng.choice([0.15, 0.2, 0.25, 0.3]))
    return {"d": d, "cm": _cm(d)}


def _depth_fit(view, t, anchors, rng):
    d = round(math.ceil((float(t.cam[2]) + 0.04) / 0.05) * 0.05, 2)
    return {"d": d, "dm": f"{d:.2f} m"}


def _depth_draw(view, anchors, rng):
    z = view.table_cam[view.table_ok, 2]
    if len(z) == 0:
        return None
    d = round(round(float(np.quantile(z, rng.uniform(0.3, 0.7))) / 0.05) * 0.05, 2)
    return {"d": d, "dm": f"{d:.2f} m"}


# --- orientation -------------------------------------------------------------------------------


def _front_score(sign):
    def score(view, o, anchors, params):
        (a,) = anchors
        rel = _xy(o) - _xy(a)
        f = sign * a.front
        along = float(np.dot(rel, f))
        lateral = abs(_cross2(f, rel))
        return min(along - lateral, 0.4 - float(np.linalg.norm(rel)), along - a.radius * 0.5)

    return score


def _front_region(sign):
    def region(view, anchors, params):
        (a,) = anchors
        rel = view.table_points[:, :2] - _xy(a)
        f = sign * a.front
        along = rel @ f
        lateral = np.abs(rel @ np.array([-f[1], f[0]]))
        return (along > a.radius + 0.02) & (along < a.radius + 0.2) & (lateral < 0.07)

    return region


def _facing_score(view, o, anchors, params):
    if not o.has_front:
        return -1.0
    cos = float(np.dot(o.front, _unit(_xy(anchors[0]) - _xy(o))))
    return (cos - 0.7) if params["toward"] else (-cos - 0.7)


def _facing_fit(view, t, anchors, rng):
    if not t.has_front:
        return None
    cos = float(np.dot(t.front, _unit(_xy(anchors[0]) - _xy(t))))
    return {"toward": cos > 0, "word": "toward" if cos > 0 else "away from"}


def _angle_dir(a, b, deg):
    return _rot(_unit(_xy(a) - _xy(b)), deg)


def _angle_score(view, o, anchors, params):
    a, b = anchors
    rel = _xy(o) - _xy(a)
    cos = float(np.dot(_unit(rel), _angle_dir(a, b, params["deg"])))
    return min(cos - math.cos(math.radians(25)), 0.4 - float(np.linalg.norm(rel))) * 0.5


def _angle_fit(view, t, anchors, rng):
    a, b = anchors
    u = _unit(_xy(a) - _xy(b))
    rel = _unit(_xy(t) - _xy(a))
    deg = math.degrees(math.atan2(u[0] * rel[1] - u[1] * rel[0], float(np.dot(u, rel))))
    snapped = int(round(deg / 45.0) * 45)
    if abs(deg - snapped) > 12 or snapped in (0, 180, -180):
        return None
    return _angle_params(snapped)


def _angle_params(deg):
    side = "left" if deg > 0 else "right"
    return {"deg": deg, "abs_deg": abs(deg), "side": side}


def _angle_draw(view, anchors, rng):
    return _angle_params(int(rng.choice([-90, -45, 45, 90])))


def _angle_region(view, anchors, params):
    a, b = anchors
    target = _xy(a) + (a.radius + 0.12) * _angle_dir(a, b, params["deg"])
    return np.linalg.norm(view.table_points[:, :2] - target, axis=1) < 0.05


# --- table regions -----------------------------------------------------------------------------

CORNERS = ("near-left", "near-right", "far-left", "far-right")
EDGES = ("left", "right", "near", "far")


def _corner_point(view, which: str) -> np.ndarray:
    """A corner of the placement area, named as the camera sees it."""
    (x0, x1), (y0, y1) = view.area
    corners = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1]])
    dirs = view.camera_dirs()
    near, side = which.split("-")
    depth_key = corners @ dirs["front"] * (1 if near == "near" else -1)
    side_key = corners @ dirs[side]
    return corners[int(np.argmax(depth_key + side_key))]


def _corner_region(view, anchors, params):
    p = view.table_points[:, :2]
    if params["what"] == "corner":
        return np.linalg.norm(p - _corner_point(view, params["which"]), axis=1) < 0.2
    d = view.camera_dirs()[{"near": "front", "far": "behind"}.get(params["which"], params["which"])]
    proj = p @ d
    return proj > proj[view.table_ok].max() - 0.12 if view.table_ok.any() else np.zeros(len(p), bool)


def _corner_key(view, o, anchors, params):
    return -float(np.linalg.norm(_xy(o) - _corner_point(view, params["which"])))


def _corner_fit(view, t, anchors, rng):
    return [{"what": "corner", "which": w} for w in CORNERS]


def _corner_draw(view, anchors, rng):
    if rng.uniform() < 0.5:
        return {"what": "corner", "which": str(rng.choice(CORNERS))}
    return {"what": "edge", "which": str(rng.choice(EDGES))}


def _corner_phrases(params, refs):
    w = params["which"]
    if params["what"] == "edge":
        edge = {"near": "near", "far": "far"}.get(w, w)
        return [
            f"along the {edge} edge of the table",
            f"near the {edge} edge of the table",
            f"close to the table's {edge} edge",
        ]
    return [
        f"in the {w} corner of the table",
        f"near the {w} corner of the table",
        f"at the table's {w} corner",
    ]


def _center_region(view, anchors, params):
    p = view.table_points[:, :2]
    if params["mode"] == "table":
        (x0, x1), (y0, y1) = view.area
        c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        return np.linalg.norm(p - c, axis=1) < 0.08
    if params["mode"] == "group":
        c = np.mean([_xy(a) for a in anchors], axis=0)
        return np.linalg.norm(p - c, axis=1) < 0.06
    a, b = anchors  # aligned: on the line a -> b, beyond b
    u = _unit(_xy(b) - _xy(a))
    rel = p - _xy(b)
    along = rel @ u
    perp = np.abs(rel @ np.array([-u[1], u[0]]))
    return (along > b.radius + 0.04) & (along < b.radius + 0.22) & (perp < 0.035)


def _aligned_score(view, o, anchors, params):
    a, b = anchors
    u = _unit(_xy(b) - _xy(a))
    rel = _xy(o) - _xy(b)
    along = float(rel @ u)
    perp = abs(float(rel @ np.array([-u[1], u[0]])))
    return min(0.045 - perp, along - b.radius - o.radius) if params["mode"] == "aligned" else -1.0


def _center_draw(view, anchors_available, rng):
    return {"mode": str(rng.choice(["table", "group", "aligned"]))}


def _center_phrases(params, refs):
    if params["mode"] == "table":
        return ["at the centre of the table", "in the middle of the table", "around the table's centre"]
    if params["mode"] == "group":
        return [
            f"at the centre of {refs[0]} and {refs[1]}",
            f"in the middle of {refs[0]} and {refs[1]}",
            f"midway among {refs[0]} and {refs[1]}",
        ]
    return [
        f"in line with {refs[0]} and {refs[1]}, beyond {refs[1]}",
        f"aligned with {refs[0]} and {refs[1]}, past {refs[1]}",
        f"on the line from {refs[0]} through {refs[1]}, beyond it",
    ]


# --- the registry ------------------------------------------------------------------------------


def _supports(a: ObjectFacts) -> bool:
    return CATEGORIES[a.category].support_top is not None


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        # position (14)
        Relation(
            "left_of",
            "position",
            1,
            _p("to the left of {a}", "left of {a}", "on the left side of {a}"),
            score=_side_score(0, -1),
            region=_side_region(0, -1),
        ),
        Relation(
            "right_of",
            "position",
            1,
            _p("to the right of {a}", "right of {a}", "on the right side of {a}"),
            score=_side_score(0, 1),
            region=_side_region(0, 1),
        ),
        Relation(
            "in_front_of",
            "position",
            1,
            _p("in front of {a}", "nearer to the camera than {a}", "before {a}, closer to the viewer"),
            score=_side_score(2, -1),
            region=_side_region(2, -1),
        ),
        Relation(
            "behind",
            "position",
            1,
            _p("behind {a}", "farther from the camera than {a}", "at the back of {a}"),
            score=_side_score(2, 1),
            region=_side_region(2, 1),
        ),
        Relation(
            "above",
            "position",
            1,
            _p("above {a}", "over {a}", "higher up than {a}, resting over it"),
            score=_on,
            surface=lambda view, a, p: _top_surface(view, a, p, _support_room(a)),
            anchor_ok=_supports,
            margin=0.5,
        ),
        Relation(
            "below",
            "position",
            1,
            _p("below {a}", "under {a}", "underneath {a}"),
            score=_under,
            margin=0.5,
        ),
        Relation(
            "above_in_image",
            "position",
            1,
            _p("above {a} in the image", "higher than {a} in the picture", "over {a} in the image"),
            score=lambda view, o, anchors, p: float(anchors[0].uv[1] - o.uv[1]),
            region=_image_region(-1),
            margin=0.03,
        ),
        Relation(
            "below_in_image",
            "position",
            1,
            _p("below {a} in the image", "lower than {a} in the picture", "under {a} in the image"),
            score=lambda view, o, anchors, p: float(o.uv[1] - anchors[0].uv[1]),
            region=_image_region(1),
            margin=0.03,
        ),
        Relation(
            "on_top_of",
            "position",
            1,
            _p("on top of {a}", "on {a}", "resting on {a}"),
            score=_on,
            surface=lambda view, a, p: _top_surface(view, a, p, _support_room(a)),
            anchor_ok=_supports,
            margin=0.5,
        ),
        Relation(
            "inside",
            "position",
            1,
            _p("inside {a}", "in {a}", "into {a}"),
            surface=lambda view, a, p: _top_surface(view, a, p, _container_room(a), 0.03),
            anchor_ok=lambda a: a.container,
        ),
        Relation(
            "outside_of",
            "position",
            1,
            _p("outside of {a}", "not on {a}", "off {a}"),
            score=lambda view, o, anchors, p: -_on(view, o, anchors, p),
            region=lambda view, anchors, p: (
                (_pdist(view, anchors[0]) > anchors[0].radius + 0.03)
                & (_pdist(view, anchors[0]) < anchors[0].radius + 0.2)
            ),
            margin=0.5,
        ),
        Relation(
            "next_to",
            "position",
            1,
            _p("next to {a}", "beside {a}", "touching or right beside {a}"),
            score=lambda view, o, anchors, p: 0.06 - _gap(o, anchors[0]),
            region=lambda view, anchors, p: _pdist(view, anchors[0]) < anchors[0].radius + 0.12,
            margin=0.02,
            metric="distance",
        ),
        Relation(
            "far_from",
            "position",
            1,
            _p("far from {a}", "far away from {a}", "at a distance from {a}"),
            score=lambda view, o, anchors, p: _gap(o, anchors[0]) - 0.3,
            region=lambda view, anchors, p: _pdist(view, anchors[0]) > anchors[0].radius + 0.3,
            metric="distance",
        ),
        Relation(
            "between",
            "position",
            2,
            _p("between {a} and {b}", "in between {a} and {b}", "halfway between {a} and {b}"),
            score=_between_score,
            region=_between_region,
            margin=0.015,
        ),
        # selection (4)
        Relation(
            "closest_to",
            "selection",
            1,
            _p("closest to {a}", "nearest to {a}", "that is the closest one to {a}"),
            key=lambda view, o, anchors, p: -_dist(o, anchors[0]),
            region=lambda view, anchors, p: _nearest_band(view, anchors, p, 1),
            metric="distance",
        ),
        Relation(
            "farthest_from",
            "selection",
            1,
            _p("farthest from {a}", "furthest away from {a}", "that is the farthest one from {a}"),
            key=lambda view, o, anchors, p: _dist(o, anchors[0]),
            region=lambda view, anchors, p: _nearest_band(view, anchors, p, -1),
            metric="distance",
        ),
        Relation(
            "nth_from",
            "selection",
            0,
            _p("{nth} from the {side}", "that is {nth} from the {side}", "{nth} counting from the {side}"),
            key=_nth_key,
        ),
        Relation(
            "extreme",
            "selection",
            0,
            lambda p, refs: [
                f"that is {_EXTREME_WORDS[p['which']][0]}",
                f"{_EXTREME_WORDS[p['which']][1]}",
                f"which is {_EXTREME_WORDS[p['which']][2]}",
            ],
            key=lambda view, o, anchors, p: EXTREMES[p["which"]][0](o),
            region=_extreme_region,
            fit=_extreme_fit,
            draw=lambda view, anchors, rng: {
                "which": str(rng.choice(["leftmost", "rightmost", "frontmost", "backmost"]))
            },
        ),
        # size (3)
        _size_relation("size", "volume", "larger", "smaller"),
        _size_relation("height", "height", "taller", "shorter"),
        _size_relation("width", "width", "wider", "thinner"),
        # metric (3)
        Relation(
            "offset",
            "metric",
            1,
            lambda p, refs: [
                f"about {p['cm']} {_DIR_WORDS[p['dir']]} {refs[0]}",
                f"{p['cm']} {_DIR_WORDS[p['dir']]} {refs[0]}",
                f"roughly {p['cm']} away, {_DIR_WORDS[p['dir']]} {refs[0]}",
            ],
            score=lambda view, o, anchors, p: (
                0.05 - float(np.linalg.norm(_xy(o) - _offset_target(view, anchors[0], p)))
            ),
            region=lambda view, anchors, p: (
                np.linalg.norm(view.table_points[:, :2] - _offset_target(view, anchors[0], p), axis=1) < 0.045
            ),
            fit=_offset_fit,
            draw=_offset_draw,
            margin=0.015,
            metric="distance",
        ),
        Relation(
            "within",
            "metric",
            1,
            _p("within {cm} of {a}", "no more than {cm} from {a}", "less than {cm} away from {a}"),
            score=lambda view, o, anchors, p: p["d"] - _dist(o, anchors[0]),
            region=lambda view, anchors, p: _pdist(view, anchors[0]) < p["d"],
            fit=_within_fit,
            draw=_within_draw,
            margin=0.02,
            metric="distance",
        ),
        Relation(
            "depth",
            "metric",
            0,
            _p(
                "at most {dm} from the camera",
                "no farther than {dm} from the camera",
                "within {dm} of the camera",
            ),
            score=lambda view, o, anchors, p: p["d"] - float(o.cam[2]),
            region=lambda view, anchors, p: view.table_cam[:, 2] < p["d"],
            fit=_depth_fit,
            draw=_depth_draw,
            margin=0.025,
            metric="depth",
        ),
        # orientation (4)
        Relation(
            "front_side",
            "orientation",
            1,
            _p("on the front side of {a}", "in front of {a}, on its own front side", "facing {a}'s front"),
            score=_front_score(1),
            region=_front_region(1),
            anchor_ok=lambda a: a.has_front,
            margin=0.02,
            metric="orientation",
        ),
        Relation(
            "back_side",
            "orientation",
            1,
            _p("on the back side of {a}", "behind {a}, on its own back side", "at {a}'s back"),
            score=_front_score(-1),
            region=_front_region(-1),
            anchor_ok=lambda a: a.has_front,
            margin=0.02,
            metric="orientation",
        ),
        Relation(
            "facing",
            "orientation",
            1,
            _p("turned {word} {a}", "with its front pointing {word} {a}", "facing {word} {a}"),
            score=_facing_score,
            fit=_facing_fit,
            margin=0.15,
            metric="orientation",
        ),
        Relation(
            "angle",
            "orientation",
            2,
            _p(
                "{abs_deg} degrees to the {side} of {a} as seen from {b}",
                "at {abs_deg}° to the {side} of {a}, looking from {b}",
                "{abs_deg} degrees {side} of {a} when viewed from {b}",
            ),
            score=_angle_score,
            region=_angle_region,
            fit=_angle_fit,
            draw=_angle_draw,
            margin=0.02,
            metric="orientation",
        ),
        # region (3)
        Relation(
            "table_region",
            "region",
            0,
            _corner_phrases,
            key=_corner_key,
            region=_corner_region,
            fit=_corner_fit,
            draw=_corner_draw,
        ),
        Relation(
            "free_space",
            "region",
            0,
            _p(
                "in any free space on the table",
                "on a free part of the table",
                "in an empty area of the table",
            ),
            region=lambda view, anchors, p: np.ones(len(view.table_points), bool),
        ),
        Relation(
            "center",
            "region",
            lambda p: {"table": 0, "group": 2, "aligned": 2}[p.get("mode", "table")],
            _center_phrases,
            score=_aligned_score,
            region=_center_region,
            fit=lambda view, t, anchors, rng: {"mode": "aligned"} if len(anchors) == 2 else None,
            draw=_center_draw,
            margin=0.012,
        ),
    )
}

GROUPS = ("position", "selection", "size", "metric", "orientation", "region")


def get_relation(name: str) -> Relation:
    try:
        return RELATIONS[name]
    except KeyError:
        raise ValueError(f"unknown relation {name!r}; known relations: {', '.join(RELATIONS)}") from None
