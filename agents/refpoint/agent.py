"""``RefPointAgent``: RefPoint as an ``Agent`` (arg-max point, plus its predicted reasoning steps)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from roboref.agents.base import AgentOutput, BaseAgent
from roboref.agents.inputs import observed_depth, strip_answer_suffix
from roboref.agents.refpoint.anchors import anchor_steps
from roboref.agents.refpoint.config import KINDS
from roboref.agents.refpoint.data import preprocess_depth, preprocess_rgb
from roboref.agents.refpoint.model import RefPointModel
from roboref.agents.refpoint.sampling import argmax_points
from roboref.envs.tasks.records import ReasoningStep

#: The checkpoint shipped with roboref (``assets/models/refpoint``).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "assets" / "models" / "refpoint"


def shipped_checkpoint(name: str = "refpoint") -> Path:
    """A shipped checkpoint folder (``refpoint``, the default, or ``refpoint-dr``, fine-tuned
    through domain randomization and depth noise), from a checkout or an install."""
    from importlib.resources import files

    installed = Path(str(files("roboref.assets"))) / "models" / name
    return installed if (installed / "model.safetensors").is_file() else DEFAULT_CHECKPOINT.parent / name


class RefPointAgent(BaseAgent):
    """Points with a RefPoint checkpoint. Deterministic (arg-max), so ``reset`` needs no seed.
    Constructing one changes no process state: torch's thread count is the caller's to set.

    An observation without depth (``None`` or all zeros) goes in as the model's missing-depth
    input (its learned ``no_depth`` map); a benchmark's answer-format suffix is taken off the
    instruction (``agents.inputs``), so ``"… the red mug. Your answer should be formatted …"``
    gets the point of ``"… the red mug."``."""

    def __init__(self, checkpoint: str | Path | None = None, model: RefPointModel | None = None):
        self.model = model if model is not None else RefPointModel.from_pretrained(checkpoint or shipped_checkpoint())
        self.model.eval()

    def act(self, observation: dict) -> AgentOutput:
        return self.act_batch([observation])[0]

    @torch.no_grad()
    def act_batch(self, observations: Sequence[dict]) -> list[AgentOutput]:
        c = self.model.config
        rgb = np.stack([preprocess_rgb(np.asarray(o["rgb"], np.uint8), c.image_size) for o in observations])
        depths = [observed_depth(o) for o in observations]
        blank = np.zeros((c.image_size, c.image_size), np.float32)
        depth = np.stack([blank if d is None else preprocess_depth(d, c.image_size, c.max_depth) for d in depths])
        rgb_t, depth_t = self.model.image_inputs(rgb, depth, has_depth=[d is not None for d in depths])
        text, text_mask = self.model.encode_text([strip_answer_suffix(o["instruction"]) for o in observations])
        out = self.model(rgb_t, depth_t, text, text_mask)
        points = argmax_points(out.logits).numpy()
        outputs = []
        for i, (x, y) in enumerate(points):
            steps = predicted_steps((float(x), float(y)), *stated_trace(out, i, c))
            outputs.append(AgentOutput(point=(float(x), float(y)), text=answer_text((x, y), steps), steps=steps))
        return outputs


def answer_text(point, steps: Sequence[ReasoningStep]) -> str:
    """RoboRefer's answer layout: the reasoning steps in the task engine's text form inside
    ``<think>``, the point inside ``<answer>``."""
    think = "\n".join(s.to_text() for s in steps)
    return f"<think>\n{think}\n</think>\n<answer>[({point[0]:.3f}, {point[1]:.3f})]</answer>"


def stated_trace(out, i: int, config) -> tuple[str, float, tuple[ReasoningStep, ...]]:
    """Everything batch row ``i`` of a forward pass states besides the point: the target's
    subject, named the way the task engine names things (``free space`` for placements,
    ``<colour> <category>``), its depth, and the anchor slots' steps (none without slots)."""
    c = config
    category = c.categories[int(out.category[i].argmax())]
    if KINDS[int(out.kind[i].argmax())] == "placement" or category == "free space":
        subject = "free space"
    else:
        subject = f"{c.colors[int(out.color[i].argmax())]} {category}"
    anchors = ()
    if out.anchors is not None:
        anchors = tuple(anchor_steps(out.anchors, i, subject, c.feature_grid, c.colors, c.categories))
    return subject, float(out.depth[i]), anchors


def predicted_steps(
    point, subject: str, depth: float, anchors: Sequence[ReasoningStep] = ()
) -> tuple[ReasoningStep, ...]:
    """The trace RefPoint states: the anchors' steps, then the target's position (and depth,
    for an object; a placement's free space has none)."""
    target = [ReasoningStep("Position", subject, (round(point[0], 3), round(point[1], 3)))]
    if subject != "free space":
        target.append(ReasoningStep("Depth", subject, round(depth, 3)))
    return (*anchors, *target)
