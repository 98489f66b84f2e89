"""The spatial-referring task engine: sample a 1–5 step program over a scene, evaluate it, and
turn it into a ``ReferringTask`` (instruction, mask, answer point, reasoning trace).

A **location** program is ``filter(category)`` followed by relation steps; it must select exactly
one visible object, with no candidate inside any relation's ambiguity margin. A **placement**
program starts from the free, visible, reachable table space (clearance sized for the object to
place) and intersects it with relation regions, or is a single step onto an object's top surface.
Programs are built target-first (location) or region-first (placement) and re-evaluated by the
same ``evaluate_*`` functions a test or a data loader can call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roboref.envs.tasks.color_category import interior_point
from roboref.envs.tasks.records import ReasoningStep, ReferringTask
from roboref.envs.tasks.relations import ORDINALS, RELATIONS, Params, Relation, get_relation
from roboref.envs.tasks.view import ObjectFacts, SceneView

KINDS = ("location", "placement")
SPLITS = ("all", "train", "unseen")
#: Held out of the ``train`` split, required in the ``unseen`` split (RefSpatial-Bench style).
UNSEEN_CATEGORIES = ("jar", "marker")
UNSEEN_COLORS = ("cyan",)
UNSEEN_RELATION_PAIRS = (
    frozenset({"left_of", "farthest_from"}),
    frozenset({"behind", "closest_to"}),
    frozenset({"within", "extreme"}),
    frozenset({"between", "next_to"}),
)

LOCATION_TEMPLATES = (
    "Point to the {t}{rel}.",
    "Please point at the {t}{rel}.",
    "Locate the {t}{rel}.",
    "Find the {t}{rel} and mark it with a point.",
)
PLACEMENT_TEMPLATES = (
    "Point to a free spot {rel}.",
    "Find a vacant area {rel}.",
    "Mark a free spot {rel}.",
)
PICK_TEMPLATES = (
    "Pick up the {t}{rel}.",
    "Grab the {t}{rel}.",
    "Pick the {t}{rel} up from the table.",
)
HELD_TEMPLATES = (
    "Put {held} {rel}. Point to where it should go.",
    "Where should {held} be placed {rel}? Point to the spot.",
    "Place {held} {rel}; answer with a point.",
)


@dataclass(frozen=True)
class TaskConfig:
    """What programs to sample. ``relations`` None means all 31."""

    relations: tuple[str, ...] | None = None
    kinds: tuple[str, ...] = KINDS
    num_steps: tuple[int, int] = (1, 5)
    split: str = "all"
    min_visible_pixels: int = 30
    min_region_pixels: int = 30
    tries: int = 30

    def __post_init__(self):
        for r in self.relations or ():
            get_relation(r)
        if self.relations is not None and not self.relations:
            raise ValueError("relations must be None (all) or a non-empty list")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad or not self.kinds:
            raise ValueError(f"unknown task kind(s) {bad or self.kinds}; allowed: {list(KINDS)}")
        lo, hi = self.num_steps
        if not 1 <= lo <= hi <= 5:
            raise ValueError(f"num_steps must be (min, max) with 1 <= min <= max <= 5, got {self.num_steps}")
        if self.split not in SPLITS:
            raise ValueError(f"task split must be one of {list(SPLITS)}, got {self.split!r}")
        rels = [RELATIONS[r] for r in self.relation_names]
        if "location" in self.kinds and not any(r.location for r in rels) and hi > 1:
            if self.kinds == ("location",):
                raise ValueError(f"none of the relations {self.relation_names} can select an object")
        if "placement" in self.kinds and not any(r.placement for r in rels) and self.kinds == ("placement",):
            raise ValueError(f"none of the relations {self.relation_names} can define a placement region")

    @property
    def relation_names(self) -> tuple[str, ...]:
        return tuple(self.relations) if self.relations else tuple(RELATIONS)


@dataclass(frozen=True)
class Step:
    """One evaluated program step: a relation with its anchors (object indices) and params."""

    relation: str
    anchors: tuple[int, ...]
    params: tuple[tuple[str, object], ...]
    phrase: str

    @property
    def p(self) -> Params:
        return dict(self.params)

    def program_text(self, view: SceneView) -> str:
        args = [f"anchor={view.objects[a].name}" for a in self.anchors]
        args += [f"{k}={v}" for k, v in self.params if not k.startswith("_")]
        return f"{self.relation}({', '.join(args)})"


# --- evaluation ----------------------------------------------------------------------------------


def _referable(view: SceneView) -> list[ObjectFacts]:
    """Objects a person can see in the image (candidates and distractors)."""
    return [o for o in view.objects if o.pixels >= 5]


def apply_location_step(
    view: SceneView, cands: list[ObjectFacts], rel: Relation, anchors: list[ObjectFacts], params: Params
) -> list[ObjectFacts] | None:
    """Candidates left after one step, or None if the step is ambiguous for any candidate."""
    pool = [o for o in cands if o.index not in {a.index for a in anchors}]
    if not pool:
        return []
    if rel.name == "nth_from":
        keys = np.array([rel.key(view, o, anchors, params) for o in pool])
        order = np.argsort(keys)
        n = params["n"]
        if n > len(pool) or np.any(np.diff(keys[order]) < rel.margin):
            return None
        return [pool[int(order[n - 1])]]
    if rel.selector and (rel.score is None or params.get("mode") in ("most", "least")):
        keys = np.array([rel.key(view, o, anchors, params) for o in pool])
        order = np.argsort(-keys)
        if len(pool) > 1 and keys[order[0]] - keys[order[1]] < rel.margin:
            return None
        return [pool[int(order[0])]]
    scores = np.array([rel.score(view, o, anchors, params) for o in pool])
    if np.any(np.abs(scores) <= rel.margin):
        return None
    return [o for o, s in zip(pool, scores, strict=True) if s > rel.margin]


def evaluate_location(view: SceneView, category: str, color: str | None, steps: list[Step]) -> list[int]:
    """Indices of the objects a location program selects (``[]`` if ambiguous or empty)."""
    cands = [o for o in _referable(view) if o.category == category and (color is None or o.color == color)]
    for st in steps:
        rel = RELATIONS[st.relation]
        anchors = [view.objects[i] for i in st.anchors]
        out = apply_location_step(view, cands, rel, anchors, st.p)
        if out is None:
            return []
        cands = out
    return [o.index for o in cands]


def apply_placement_step(
    view: SceneView, region: np.ndarray, rel: Relation, anchors: list[ObjectFacts], params: Params
) -> np.ndarray:
    return region & rel.region(view, anchors, {**params, "_region": region})


def evaluate_placement(view: SceneView, steps: list[Step], clearance: float, held: int = -1) -> np.ndarray:
    """The image mask a placement program selects."""
    first = RELATIONS[steps[0].relation]
    if first.surface is not None and len(steps) == 1:
        a = view.objects[steps[0].anchors[0]]
        return first.surface(view, a, steps[0].p)
    region = view.free_space(clearance, ignore=(held,) if held >= 0 else ())
    for st in steps:
        rel = RELATIONS[st.relation]
        region = apply_placement_step(view, region, rel, [view.objects[i] for i in st.anchors], st.p)
    return view.points_to_mask(region)


# --- sampling -------------------------------------------------------------------------------------


def _describe(view: SceneView, a: ObjectFacts, rng: np.random.Generator) -> tuple[str, str] | None:
    """A unique referring expression for an anchor, and its short name for reasoning steps."""
    from roboref.assets.objects import CATEGORIES

    seen = _referable(view)
    same_cat = [o for o in seen if o.category == a.category]
    same_both = [o for o in same_cat if o.color == a.color]
    if len(same_both) != 1:
        return None
    forms = [f"the {a.color} {a.category}", f"the {a.category} that is {a.color}"]
    forms += [f"the {a.color} {s}" for s in CATEGORIES[a.category].synonyms]
    if len(same_cat) == 1:
        forms.append(f"the {a.category}")
    return forms[int(rng.integers(len(forms)))], a.name


def _options(rel: Relation, view, t, anchors, rng, cands) -> list[Params]:
    if rel.name == "nth_from":
        out = []
        for side in ("left", "right"):
            keys = sorted((rel.key(view, o, anchors, {"side": side}), o.index) for o in cands)
            n = [i for _, i in keys].index(t.index) + 1
            if n <= 5:
                out.append({"side": side, "n": n, "nth": ORDINALS[n]})
        return out
    got = rel.fit(view, t, anchors, rng)
    if got is None:
        return []
    return got if isinstance(got, list) else [got]


def _pick_anchors(view, rel, params, exclude, rng, n=None) -> list[ObjectFacts] | None:
    need = rel.anchors_needed(params) if n is None else n
    pool = [
        o
        for o in view.visible(5)
        if o.index not in exclude and rel.anchor_ok(o) and _describe(view, o, rng) is not None
    ]
    pool = [o for o in pool if o.pixels >= 30]
    if len(pool) < need:
        return None
    idx = rng.choice(len(pool), size=need, replace=False) if need else []
    return [pool[int(i)] for i in idx]


def _make_step(view: SceneView, rel: Relation, anchors: list[ObjectFacts], params: Params, rng) -> Step:
    """A program step with one of the relation's paraphrases, its anchors named uniquely."""
    refs = [_describe(view, a, rng)[0] for a in anchors]
    phrases = rel.phrases(params, refs)
    return Step(
        rel.name,
        tuple(a.index for a in anchors),
        tuple(sorted(params.items())),
        phrases[int(rng.integers(len(phrases)))],
    )


def _anchor_count(rel: Relation, rng: np.random.Generator) -> int:
    if callable(rel.n_anchors):
        return int(rng.choice([0, 1]) if rel.name in ("size", "height", "width") else rng.choice([0, 2]))
    return rel.n_anchors


def _sample_location(view, cfg, rels, n, rng, held=None):
    targets = view.visible(cfg.min_visible_pixels)
    if not targets:
        return None
    if n >= 2 and rng.uniform() < 0.8:
        # multi-step programs read best when the category alone is ambiguous
        crowded = [t for t in targets if sum(o.category == t.category for o in _referable(view)) >= 2]
        targets = crowded or targets
    t = targets[int(rng.integers(len(targets)))]
    cands = [o for o in _referable(view) if o.category == t.category]
    color = None
    if n == 1:
        if len(cands) > 1:
            color = t.color
            cands = [o for o in cands if o.color == t.color]
        if len(cands) != 1:
            return None
        return t, color, [], ""
    loc_rels = [r for r in rels if r.location]
    steps: list[Step] = []
    used: set[int] = set()  # each anchor is used by one step (no "15 cm left of A, left of A")
    for k in range(n - 1):
        last = k == n - 2
        for _ in range(12):
            rel = loc_rels[int(rng.integers(len(loc_rels)))]
            if rel.selector and not last and rel.score is None:
                continue
            need = _anchor_count(rel, rng)
            if rel.name == "center" and need == 0:
                continue
            if rel.name in ("size", "height", "width") and need == 0 and not last:
                continue  # superlatives pick one object: only as the last step
            anchors = _pick_anchors(view, rel, {}, {t.index}, rng, n=need)
            if anchors is None or any(a.index in used for a in anchors):
                continue
            if rel.name in ("outside_of", "on_top_of", "above") and not any(
                o.support == anchors[0].index for o in view.objects
            ):
                continue  # "not on the plate" only says something when something is on it
            found = None
            for params in _options(rel, view, t, anchors, rng, [o for o in cands if o not in anchors]):
                if rel.anchors_needed(params) != len(anchors):
                    continue
                out = apply_location_step(view, cands, rel, anchors, params)
                if out is None or t not in out:
                    continue
                if last and out != [t]:
                    continue
                if not last and len(cands) > 1 and len(out) == len(cands):
                    continue  # prefer steps that narrow the candidates down
                found = (params, anchors, out)
                break
            if found:
                params, anchors, cands = found
                used.update(a.index for a in anchors)
                steps.append(_make_step(view, rel, anchors, params, rng))
                break
        else:
            return None
    if [o.index for o in cands] != [t.index]:
        return None
    return t, color, steps, ""


def _sample_placement(view, cfg, rels, n, rng, held_index=None):
    place_rels = [r for r in rels if r.placement]
    if not place_rels:
        return None
    movable = [o for o in view.visible(cfg.min_visible_pixels) if o.support < 0 and o.radius < 0.08]
    if held_index is not None:
        held = view.objects[held_index]
    else:
        held = movable[int(rng.integers(len(movable)))] if movable and rng.uniform() < 0.5 else None
    clearance = (held.radius + 0.01) if held else 0.04
    min_px = cfg.min_region_pixels
    surface_rels = [r for r in place_rels if r.surface is not None]
    table_rels = [r for r in place_rels if r.region is not None]
    if n == 1 and surface_rels and (not table_rels or rng.uniform() < 0.5):
        rel = surface_rels[int(rng.integers(len(surface_rels)))]
        exclude = {held.index} if held else set()
        anchors = _pick_anchors(view, rel, {}, exclude, rng, n=1)
        if anchors is None or any(o.support == anchors[0].index for o in view.objects):
            return None
        a = anchors[0]
        if held is not None and held.radius > 0.5 * min(a.size[0], a.size[1]):
            if held_index is not None:
                return None  # the object in the hand does not fit on it
            held, clearance = None, 0.04
        step = _make_step(view, rel, [a], {}, rng)
        mask = evaluate_placement(view, [step], clearance)
        return (held, clearance, [step], mask) if mask.sum() >= min_px else None
    if not table_rels:
        return None
    base = RELATIONS["free_space"]
    region = view.free_space(clearance, ignore=(held.index,) if held else ())
    if region.sum() < min_px:
        return None
    steps: list[Step] = []
    if n == 1 or rng.uniform() < 0.5 or base not in table_rels:
        starters = [r for r in table_rels if r.name in ("free_space", "table_region", "center")] or table_rels
    else:
        starters = table_rels
    for k in range(n):
        pool = starters if k == 0 else [r for r in table_rels if r.name != "free_space"]
        for _ in range(12):
            rel = pool[int(rng.integers(len(pool)))]
            params = rel.draw(view, [], rng) or {}
            need = rel.anchors_needed(params)
            exclude = {held.index} if held else set()
            anchors = _pick_anchors(view, rel, params, exclude, rng, n=need)
            if anchors is None:
                continue
            if rel.name == "angle" or rel.name == "offset":
                params = rel.draw(view, anchors, rng) or params
            new = apply_placement_step(view, region, rel, anchors, params)
            count = int(new.sum())
            if count < min_px or (rel.name != "free_space" and count > 0.85 * region.sum()):
                continue
            region = new
            steps.append(_make_step(view, rel, anchors, params, rng))
            break
        else:
            return None
    mask = view.points_to_mask(region)
    return held, clearance, steps, mask


def _split_ok(view: SceneView, split: str, objs: list[ObjectFacts], steps: list[Step]) -> bool:
    if split == "all":
        return True
    names = {s.relation for s in steps}
    pair = any(p <= names for p in UNSEEN_RELATION_PAIRS)
    novel = pair or any(o.category in UNSEEN_CATEGORIES or o.color in UNSEEN_COLORS for o in objs)
    return novel if split == "unseen" else not pair


def sample_task(
    rng: np.random.Generator,
    view: SceneView,
    cfg: TaskConfig,
    held: int | None = None,
    style: str = "point",
) -> ReferringTask | None:
    """A task from ``cfg`` on this scene view, or None after ``cfg.tries`` failed programs.

    ``held`` fixes the object to place in placement tasks (a robot holding it); ``style="pick"``
    words location tasks as manipulation ("Pick up the mug behind the bowl.")."""
    if style not in ("point", "pick"):
        raise ValueError(f"style must be 'point' or 'pick', got {style!r}")
    rels = [RELATIONS[r] for r in cfg.relation_names]
    held_index = held
    for _ in range(cfg.tries):
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        n = int(rng.integers(cfg.num_steps[0], cfg.num_steps[1] + 1))
        if kind == "location":
            got = _sample_location(view, cfg, rels, n, rng)
            if got is None:
                continue
            t, color, steps, _ = got
            objs = [t] + [view.objects[i] for s in steps for i in s.anchors]
            if not _split_ok(view, cfg.split, objs, steps):
                continue
            if t.pixels < cfg.min_visible_pixels:
                continue
            return _location_task(view, t, color, steps, rng, PICK_TEMPLATES if style == "pick" else None)
        got = _sample_placement(view, cfg, rels, n, rng, held_index)
        if got is None:
            continue
        held, clearance, steps, mask = got
        objs = ([held] if held else []) + [view.objects[i] for s in steps for i in s.anchors]
        if mask.sum() < cfg.min_region_pixels or not _split_ok(view, cfg.split, objs, steps):
            continue
        return _placement_task(view, held, clearance, steps, mask, rng)
    return None


# --- tasks, instructions and reasoning traces -----------------------------------------------------


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _cam2d(view: SceneView, v: np.ndarray) -> tuple[float, float]:
    d = view.camera_dirs()
    return round(float(v @ d["right"]), 3), round(float(v @ d["behind"]), 3)


def _trace(view: SceneView, steps: list[Step], subject: str, target_xy: np.ndarray) -> list[ReasoningStep]:
    out: list[ReasoningStep] = []
    seen: set[int] = set()
    for st in steps:
        rel = RELATIONS[st.relation]
        for i in st.anchors:
            a = view.objects[i]
            if i not in seen:
                seen.add(i)
                cx, cy = a.centroid
                out.append(ReasoningStep("Position", a.name, (round(cx, 3), round(cy, 3))))
                out.append(ReasoningStep("Depth", a.name, round(float(a.cam[2]), 3)))
            if rel.metric == "distance":
                d = float(np.linalg.norm(target_xy - a.center[:2]))
                out.append(ReasoningStep("Distance", f"{subject} -> {a.name}", round(d, 3)))
            elif rel.metric == "size":
                out.append(ReasoningStep("Size", a.name, tuple(round(float(v), 3) for v in a.size)))
            elif rel.metric == "orientation" and a.has_front:
                out.append(ReasoningStep("Orientation", a.name, _cam2d(view, a.front)))
    return out


def _location_task(view, t: ObjectFacts, color, steps: list[Step], rng, templates=None) -> ReferringTask:
    ref = t.category if color is None else f"{color} {t.category}"
    rel = _join([s.phrase for s in steps])
    templates = templates or LOCATION_TEMPLATES
    template = templates[int(rng.integers(len(templates)))]
    instruction = template.format(t=ref, rel=(" " + rel) if rel else "")
    trace = _trace(view, steps, t.name, t.center[:2])
    if any(RELATIONS[s.relation].metric == "size" for s in steps):
        trace.append(ReasoningStep("Size", t.name, tuple(round(float(v), 3) for v in t.size)))
    if any(RELATIONS[s.relation].metric == "orientation" for s in steps) and t.has_front:
        trace.append(ReasoningStep("Orientation", t.name, _cam2d(view, t.front)))
    cx, cy = t.centroid
    trace.append(ReasoningStep("Position", t.name, (round(cx, 3), round(cy, 3))))
    trace.append(ReasoningStep("Depth", t.name, round(float(t.cam[2]), 3)))
    program = " -> ".join(
        [f"filter(category={t.category}" + (f", color={color})" if color else ")")]
        + [s.program_text(view) for s in steps]
    )
    return ReferringTask(
        instruction=instruction,
        kind="location",
        mask=t.mask.copy(),
        point=interior_point(t.mask),
        target=t.index,
        steps=tuple(trace),
        relations=tuple(s.relation for s in steps),
        program=program,
        num_steps=1 + len(steps),
        spec=_spec("location", t.category, color, steps),
    )


def _placement_task(view, held, clearance, steps: list[Step], mask: np.ndarray, rng) -> ReferringTask:
    rel = _join([s.phrase for s in steps])
    if held is not None:
        ref = _describe(view, held, rng)
        held_ref = ref[0] if ref else f"the {held.category}"
        template = HELD_TEMPLATES[int(rng.integers(len(HELD_TEMPLATES)))]
        instruction = template.format(held=held_ref, rel=rel)
    else:
        template = PLACEMENT_TEMPLATES[int(rng.integers(len(PLACEMENT_TEMPLATES)))]
        instruction = template.format(rel=rel)
    instruction = instruction[0].upper() + instruction[1:]
    point = interior_point(mask)
    from roboref.envs.camera import point_to_pixel, unproject

    col, row = point_to_pixel(point, view.width, view.height)
    p3 = unproject(np.array([[col + 0.5, row + 0.5]]), view.depth[row : row + 1, col], view.K, view.T)[0]
    trace = _trace(view, steps, "free space", p3[:2])
    rows, cols = np.nonzero(mask)
    box = (
        round((cols.min()) / view.width, 3),
        round((rows.min()) / view.height, 3),
        round((cols.max() + 1) / view.width, 3),
        round((rows.max() + 1) / view.height, 3),
    )
    trace.append(ReasoningStep("Region", "free space", box))
    trace.append(ReasoningStep("Position", "free space", (round(point[0], 3), round(point[1], 3))))
    program = " -> ".join(s.program_text(view) for s in steps)
    return ReferringTask(
        instruction=instruction,
        kind="placement",
        mask=mask,
        point=point,
        target=-1,
        steps=tuple(trace),
        relations=tuple(s.relation for s in steps),
        program=program,
        num_steps=len(steps),
        held=held.index if held is not None else -1,
        spec=_spec("placement", None, None, steps, clearance=clearance, held=held.index if held else -1),
    )


def _spec(kind, category, color, steps: list[Step], **extra) -> dict:
    """The program as data, enough to re-evaluate it on the same scene (tests, data loaders)."""
    return {
        "kind": kind,
        "category": category,
        "color": color,
        "steps": [
            {"relation": s.relation, "anchors": list(s.anchors), "params": {k: v for k, v in s.params}} for s in steps
        ],
        **extra,
    }


def steps_from_spec(spec: dict) -> list[Step]:
    return [Step(s["relation"], tuple(s["anchors"]), tuple(sorted(s["params"].items())), "") for s in spec["steps"]]


def reevaluate(view: SceneView, spec: dict) -> np.ndarray:
    """The target mask a program spec selects on ``view`` (empty if ambiguous)."""
    steps = steps_from_spec(spec)
    if spec["kind"] == "location":
        idx = evaluate_location(view, spec["category"], spec["color"], steps)
        if len(idx) != 1:
            return np.zeros((view.height, view.width), bool)
        return view.objects[idx[0]].mask.copy()
    return evaluate_placement(view, steps, spec["clearance"], spec.get("held", -1))
