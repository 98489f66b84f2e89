"""What a program says: instruction templates, unique names for anchors, step phrases, and the
reasoning trace; and the ``ReferringTask`` that carries them with the mask and answer point.
"""

from __future__ import annotations

import numpy as np

from roboref.assets.objects import CATEGORIES
from roboref.envs.tasks.color_category import interior_point
from roboref.envs.tasks.program import Step, program_spec, referable
from roboref.envs.tasks.records import ReasoningStep, ReferringTask
from roboref.envs.tasks.relations import RELATIONS, Params, Relation
from roboref.envs.tasks.view import ObjectFacts, SceneView

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


def describe(view: SceneView, a: ObjectFacts, rng: np.random.Generator) -> tuple[str, str] | None:
    """A unique referring expression for an anchor and its short name for reasoning steps, or
    None when its colour and category do not single it out."""
    forms = _forms(view, a)
    if forms is None:
        return None
    return forms[int(rng.integers(len(forms)))], a.name


def _forms(view: SceneView, a: ObjectFacts) -> list[str] | None:
    """The unique expressions for ``a`` (cached per view: the sampler asks ~150 times a task)."""
    memo = view.memo.setdefault("forms", {})
    if a.index not in memo:
        seen = referable(view)
        same_cat = [o for o in seen if o.category == a.category]
        same_both = [o for o in same_cat if o.color == a.color]
        forms = None
        if len(same_both) == 1:
            forms = [f"the {a.color} {a.category}", f"the {a.category} that is {a.color}"]
            forms += [f"the {a.color} {s}" for s in CATEGORIES[a.category].synonyms]
            if len(same_cat) == 1:
                forms.append(f"the {a.category}")
        memo[a.index] = forms
    return memo[a.index]


def make_step(
    view: SceneView, rel: Relation, anchors: list[ObjectFacts], params: Params, rng: np.random.Generator
) -> Step:
    """A program step with one of the relation's paraphrases, its anchors named uniquely."""
    refs = [describe(view, a, rng)[0] for a in anchors]
    phrases = rel.phrases(params, refs)
    return Step(
        rel.name,
        tuple(a.index for a in anchors),
        tuple(sorted(params.items())),
        phrases[int(rng.integers(len(phrases)))],
    )


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _cam2d(view: SceneView, v: np.ndarray) -> tuple[float, float]:
    d = view.camera_dirs()
    return round(float(v @ d["right"]), 3), round(float(v @ d["behind"]), 3)


def trace(view: SceneView, steps: list[Step], subject: str, target_xy: np.ndarray) -> list[ReasoningStep]:
    """The reasoning steps for the anchors: position and depth once each, and the metric value
    (distance, size or orientation) each relation relies on."""
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


def location_task(
    view: SceneView,
    t: ObjectFacts,
    color: str | None,
    steps: list[Step],
    rng: np.random.Generator,
    templates: tuple[str, ...] | None = None,
) -> ReferringTask:
    """The task for a location program that selects ``t``."""
    ref = t.category if color is None else f"{color} {t.category}"
    rel = _join([s.phrase for s in steps])
    templates = templates or LOCATION_TEMPLATES
    template = templates[int(rng.integers(len(templates)))]
    instruction = template.format(t=ref, rel=(" " + rel) if rel else "")
    steps_out = trace(view, steps, t.name, t.center[:2])
    if any(RELATIONS[s.relation].metric == "size" for s in steps):
        steps_out.append(ReasoningStep("Size", t.name, tuple(round(float(v), 3) for v in t.size)))
    if any(RELATIONS[s.relation].metric == "orientation" for s in steps) and t.has_front:
        steps_out.append(ReasoningStep("Orientation", t.name, _cam2d(view, t.front)))
    cx, cy = t.centroid
    steps_out.append(ReasoningStep("Position", t.name, (round(cx, 3), round(cy, 3))))
    steps_out.append(ReasoningStep("Depth", t.name, round(float(t.cam[2]), 3)))
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
        steps=tuple(steps_out),
        relations=tuple(s.relation for s in steps),
        program=program,
        num_steps=1 + len(steps),
        spec=program_spec("location", t.category, color, steps),
    )


def placement_task(
    view: SceneView,
    held: ObjectFacts | None,
    clearance: float,
    steps: list[Step],
    mask: np.ndarray,
    rng: np.random.Generator,
) -> ReferringTask:
    """The task for a placement program whose free region is ``mask`` (``held``: the object to
    place, named in the instruction)."""
    rel = _join([s.phrase for s in steps])
    if held is not None:
        ref = describe(view, held, rng)
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
    steps_out = trace(view, steps, "free space", p3[:2])
    rows, cols = np.nonzero(mask)
    box = (
        round((cols.min()) / view.width, 3),
        round((rows.min()) / view.height, 3),
        round((cols.max() + 1) / view.width, 3),
        round((rows.max() + 1) / view.height, 3),
    )
    steps_out.append(ReasoningStep("Region", "free space", box))
    steps_out.append(ReasoningStep("Position", "free space", (round(point[0], 3), round(point[1], 3))))
    program = " -> ".join(s.program_text(view) for s in steps)
    return ReferringTask(
        instruction=instruction,
        kind="placement",
        mask=mask,
        point=point,
        target=-1,
        steps=tuple(steps_out),
        relations=tuple(s.relation for s in steps),
        program=program,
        num_steps=len(steps),
        held=held.index if held is not None else -1,
        spec=program_spec("placement", None, None, steps, clearance=clearance, held=held.index if held else -1),
    )
