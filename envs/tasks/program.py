"""A referring program as data, and its execution on a ``SceneView``.

A **location** program is ``filter(category[, color])`` followed by relation steps; it must
select exactly one visible object, with no candidate inside any relation's ambiguity margin. A
**placement** program starts from the free, visible, reachable table space (clearance sized for
the object to place) and intersects it with relation regions, or is a single step onto an
object's top surface. The sampler and any re-evaluation (tests, data loaders) run the same
``evaluate_*`` functions, so a stored ``spec`` gives back the task's mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roboref.envs.tasks.relations import RELATIONS, Params, Relation
from roboref.envs.tasks.view import ObjectFacts, SceneView


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
        """``left_of(anchor=red bowl)``: the step as the program line shows it."""
        args = [f"anchor={view.objects[a].name}" for a in self.anchors]
        args += [f"{k}={v}" for k, v in self.params if not k.startswith("_")]
        return f"{self.relation}({', '.join(args)})"


def referable(view: SceneView) -> tuple[ObjectFacts, ...]:
    """Objects a person can see in the image (candidates and distractors); a tuple computed
    once per view (the sampler asks for it a few hundred times per task)."""
    return view.visible_tuple(5)


def apply_location_step(
    view: SceneView, cands: list[ObjectFacts], rel: Relation, anchors: list[ObjectFacts], params: Params
) -> list[ObjectFacts] | None:
    """Candidates left after one step, or None if the step is ambiguous for any candidate."""
    pool = [o for o in cands if o.index not in {a.index for a in anchors}]
    if not pool:
        return []
    return rel.narrow(view, pool, anchors, params)


def evaluate_location(view: SceneView, category: str, color: str | None, steps: list[Step]) -> list[int]:
    """Indices of the objects a location program selects (``[]`` if ambiguous or empty)."""
    cands = [o for o in referable(view) if o.category == category and (color is None or o.color == color)]
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
    """The table points of ``region`` that the step keeps."""
    return region & rel.region(view, anchors, {**params, "_region": region})


def evaluate_placement(view: SceneView, steps: list[Step], clearance: float, held: int = -1) -> np.ndarray:
    """The image mask a placement program selects."""
    first = RELATIONS[steps[0].relation]
    if first.on_surface and len(steps) == 1:
        a = view.objects[steps[0].anchors[0]]
        return first.surface(view, a, steps[0].p)
    region = view.free_space(clearance, ignore=(held,) if held >= 0 else ())
    for st in steps:
        rel = RELATIONS[st.relation]
        region = apply_placement_step(view, region, rel, [view.objects[i] for i in st.anchors], st.p)
    return view.points_to_mask(region)


def program_spec(kind: str, category: str | None, color: str | None, steps: list[Step], **extra) -> dict:
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
    """The steps of a ``program_spec`` (without their phrases)."""
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
