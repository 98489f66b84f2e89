"""Sampling referring tasks: ``TaskConfig`` (which programs), the train / unseen splits, and
``sample_task``, which builds location programs target-first and placement programs region-first,
then checks them with the same evaluation a re-run of the program uses (``program.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roboref.envs.tasks.language import PICK_TEMPLATES, describe, location_task, make_step, placement_task
from roboref.envs.tasks.program import Step, apply_location_step, apply_placement_step, evaluate_placement, referable
from roboref.envs.tasks.records import ReferringTask
from roboref.envs.tasks.relations import RELATIONS, Params, Relation, get_relation
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


def _anchor_count(rel: Relation, rng: np.random.Generator) -> int:
    """The anchor count for a location step: drawn when the relation allows several."""
    choices = rel.anchor_choices
    return int(rng.choice(list(choices))) if len(choices) > 1 else choices[0]


def _pick_anchors(
    view: SceneView, rel: Relation, params: Params, exclude: set[int], rng: np.random.Generator, n: int | None = None
) -> list[ObjectFacts] | None:
    need = rel.anchors_needed(params) if n is None else n
    pool = [
        o for o in view.visible(5) if o.index not in exclude and rel.anchor_ok(o) and describe(view, o, rng) is not None
    ]
    pool = [o for o in pool if o.pixels >= 30]
    if len(pool) < need:
        return None
    idx = rng.choice(len(pool), size=need, replace=False) if need else []
    return [pool[int(i)] for i in idx]


def _sample_location(view: SceneView, cfg: TaskConfig, rels: list[Relation], n: int, rng: np.random.Generator):
    targets = view.visible(cfg.min_visible_pixels)
    if not targets:
        return None
    if n >= 2 and rng.uniform() < 0.8:
        # multi-step programs read best when the category alone is ambiguous
        crowded = [t for t in targets if sum(o.category == t.category for o in referable(view)) >= 2]
        targets = crowded or targets
    t = targets[int(rng.integers(len(targets)))]
    cands = [o for o in referable(view) if o.category == t.category]
    color = None
    if n == 1:
        if len(cands) > 1:
            color = t.color
            cands = [o for o in cands if o.color == t.color]
        if len(cands) != 1:
            return None
        return t, color, []
    loc_rels = [r for r in rels if r.location]
    steps: list[Step] = []
    used: set[int] = set()  # each anchor is used by one step (no "15 cm left of A, left of A")
    for k in range(n - 1):
        last = k == n - 2
        for _ in range(12):
            rel = loc_rels[int(rng.integers(len(loc_rels)))]
            need = _anchor_count(rel, rng)
            use = rel.location_use(need)
            if use is None or (use == "last" and not last):
                continue  # a superlative picks one object: only as the last step
            anchors = _pick_anchors(view, rel, {}, {t.index}, rng, n=need)
            if anchors is None or any(a.index in used for a in anchors):
                continue
            if not all(rel.anchor_useful(view, a) for a in anchors):
                continue
            found = None
            for params in rel.fit(view, t, anchors, [o for o in cands if o not in anchors], rng):
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
                steps.append(make_step(view, rel, anchors, params, rng))
                break
        else:
            return None
    if [o.index for o in cands] != [t.index]:
        return None
    return t, color, steps


def _sample_placement(
    view: SceneView,
    cfg: TaskConfig,
    rels: list[Relation],
    n: int,
    rng: np.random.Generator,
    held_index: int | None = None,
):
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
    surface_rels = [r for r in place_rels if r.on_surface]
    table_rels = [r for r in place_rels if r.on_table]
    if n == 1 and surface_rels and (not table_rels or rng.uniform() < 0.5):
        rel = surface_rels[int(rng.integers(len(surface_rels)))]
        exclude = {held.index} if held else set()
        anchors = _pick_anchors(view, rel, {}, exclude, rng, n=1)
        if anchors is None or any(o.support == anchors[0].index for o in view.objects):
            return None
        a = anchors[0]
        if not view.in_area(a.center[:2]):
            return None  # the surface lies outside the area placements are drawn in
        if held is not None and held.radius > 0.5 * min(a.size[0], a.size[1]):
            if held_index is not None:
                return None  # the object in the hand does not fit on it
            held, clearance = None, 0.04
        step = make_step(view, rel, [a], {}, rng)
        mask = evaluate_placement(view, [step], clearance)
        return (held, clearance, [step], mask) if mask.sum() >= min_px else None
    if not table_rels:
        return None
    region = view.free_space(clearance, ignore=(held.index,) if held else ())
    if region.sum() < min_px:
        return None
    steps: list[Step] = []
    has_identity = any(not r.constrains for r in table_rels)
    if n == 1 or rng.uniform() < 0.5 or not has_identity:
        starters = [r for r in table_rels if r.starter] or table_rels
    else:
        starters = table_rels
    for k in range(n):
        pool = starters if k == 0 else [r for r in table_rels if r.constrains]
        if not pool:
            return None  # only the identity region is allowed: it cannot make a longer program
        for _ in range(12):
            rel = pool[int(rng.integers(len(pool)))]
            params = rel.draw(view, [], rng) or {}
            need = rel.anchors_needed(params)
            exclude = {held.index} if held else set()
            anchors = _pick_anchors(view, rel, params, exclude, rng, n=need)
            if anchors is None:
                continue
            if rel.redraw_with_anchors:
                params = rel.draw(view, anchors, rng) or params
            new = apply_placement_step(view, region, rel, anchors, params)
            count = int(new.sum())
            if count < min_px or (rel.constrains and count > 0.85 * region.sum()):
                continue
            region = new
            steps.append(make_step(view, rel, anchors, params, rng))
            break
        else:
            return None
    mask = view.points_to_mask(region)
    return held, clearance, steps, mask


def _split_ok(split: str, objs: list[ObjectFacts], steps: list[Step]) -> bool:
    """Whether a program belongs to ``split``: train never uses a held-out relation pair; unseen
    needs a held-out pair, category or colour."""
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
            t, color, steps = got
            objs = [t] + [view.objects[i] for s in steps for i in s.anchors]
            if not _split_ok(cfg.split, objs, steps):
                continue
            if t.pixels < cfg.min_visible_pixels:
                continue
            return location_task(view, t, color, steps, rng, PICK_TEMPLATES if style == "pick" else None)
        got = _sample_placement(view, cfg, rels, n, rng, held_index)
        if got is None:
            continue
        held_obj, clearance, steps, mask = got
        objs = ([held_obj] if held_obj else []) + [view.objects[i] for s in steps for i in s.anchors]
        if mask.sum() < cfg.min_region_pixels or not _split_ok(cfg.split, objs, steps):
            continue
        return placement_task(view, held_obj, clearance, steps, mask, rng)
    return None
