"""Region relations (3): parts of the table itself. They can open a placement program on their own
(``starter``). The table's placement area is ``view.area`` (world x and y ranges), its corners and
edges named as the camera sees them.
"""

from __future__ import annotations

import numpy as np

from roboref.envs.tasks.relations.base import Objs, Params, Relation
from roboref.envs.tasks.relations.geometry import unit, xy
from roboref.envs.tasks.view import ObjectFacts, SceneView

CORNERS = ("near-left", "near-right", "far-left", "far-right")
EDGES = ("left", "right", "near", "far")


def corner_point(view: SceneView, which: str) -> np.ndarray:
    """A corner of the placement area, named as the camera sees it: the one that is most
    near/far (camera front/behind) plus most left/right."""
    (x0, x1), (y0, y1) = view.area
    corners = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1]])
    dirs = view.camera_dirs()
    near, side = which.split("-")
    depth_key = corners @ dirs["front"] * (1 if near == "near" else -1)
    side_key = corners @ dirs[side]
    return corners[int(np.argmax(depth_key + side_key))]


class TableRegion(Relation):
    """A corner or an edge of the table. Location (corners): ``key = −|o − corner|``, the candidate
    nearest the corner wins by 3 cm.

    Placement: a corner is the table within 20 cm of it; an edge the reachable table's last 12 cm
    along that camera direction."""

    name, group, anchor_choices, starter = "table_region", "region", (0,), True

    def phrases(self, params: Params, refs: list[str]) -> list[str]:
        w = params["which"]
        if params["what"] == "edge":
            return [
                f"along the {w} edge of the table",
                f"near the {w} edge of the table",
                f"close to the table's {w} edge",
            ]
        return [f"in the {w} corner of the table", f"near the {w} corner of the table", f"at the table's {w} corner"]

    def key(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return -float(np.linalg.norm(xy(o) - corner_point(view, params["which"])))

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        p = view.table_points[:, :2]
        if params["what"] == "corner":
            return view.center_dist(corner_point(view, params["which"])) < 0.2
        d = view.camera_dirs()[{"near": "front", "far": "behind"}.get(params["which"], params["which"])]
        proj = p @ d
        return proj > proj[view.table_ok].max() - 0.12 if view.table_ok.any() else np.zeros(len(p), bool)

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        return [{"what": "corner", "which": w} for w in CORNERS]

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        if rng.uniform() < 0.5:
            return {"what": "corner", "which": str(rng.choice(CORNERS))}
        return {"what": "edge", "which": str(rng.choice(EDGES))}


class FreeSpace(Relation):
    """Any free table point: the identity region (the program's free, reachable table space,
    cleared of every footprint by the held object's radius + 1 cm). Placement only."""

    name, group, anchor_choices, starter, constrains = "free_space", "region", (0,), True, False
    forms = ("in any free space on the table", "on a free part of the table", "in an empty area of the table")

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        return np.ones(len(view.table_points), bool)


class Center(Relation):
    """The centre of the table or of a group, or aligned with two anchors (``mode``).

    Location (aligned only): with ``u`` the unit direction a → b and ``rel = o − b``,
    ``score = min(0.045 − |u × rel|, u·rel − r_b − r_o)`` (margin 1.2 cm): on the line through a
    and b within 4.5 cm, beyond b with the footprints clear.

    Placement: table mode, within 8 cm of the placement area's centre; group, within 6 cm of the
    anchors' mean; aligned, ``r_b + 0.04 < u·rel < r_b + 0.22`` and ``|u × rel| < 3.5 cm``."""

    name, group, margin, starter = "center", "region", 0.012, True
    anchor_choices = (0, 2)

    def anchors_needed(self, params: Params) -> int:
        return {"table": 0, "group": 2, "aligned": 2}[params.get("mode", "table")]

    def location_use(self, n_anchors: int) -> str | None:
        return "any" if n_anchors else None  # the table's centre is not an object

    def phrases(self, params: Params, refs: list[str]) -> list[str]:
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

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        a, b = anchors
        u = unit(xy(b) - xy(a))
        rel = xy(o) - xy(b)
        along = float(rel @ u)
        perp = abs(float(rel @ np.array([-u[1], u[0]])))
        return min(0.045 - perp, along - b.radius - o.radius) if params["mode"] == "aligned" else -1.0

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        p = view.table_points[:, :2]
        if params["mode"] == "table":
            (x0, x1), (y0, y1) = view.area
            c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            return view.center_dist(c) < 0.08
        if params["mode"] == "group":
            c = np.mean([xy(a) for a in anchors], axis=0)
            return view.center_dist(c) < 0.06
        a, b = anchors
        u = unit(xy(b) - xy(a))
        rel = p - xy(b)
        along = rel @ u
        perp = np.abs(rel @ np.array([-u[1], u[0]]))
        return (along > b.radius + 0.04) & (along < b.radius + 0.22) & (perp < 0.035)

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        return [{"mode": "aligned"}] if len(anchors) == 2 else []

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        return {"mode": str(rng.choice(["table", "group", "aligned"]))}


REGION: tuple[Relation, ...] = (TableRegion(), FreeSpace(), Center())
