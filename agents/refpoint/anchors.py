"""Anchor slots: RefPoint's reasoning steps about the objects an instruction refers *to*.

The heatmap answers "where is the target"; RoboRefer's reasoning also states where each anchor
object is (``[Position] red book``), how deep it is (``[Depth]``) and how far the target is from
it (``[Distance] cup -> red book``). ``anchor_slots`` learnable queries attend over the fused
image-and-text tokens; slot ``k`` predicts the ``k``-th anchor of the task engine's trace, in
order of first mention: whether it exists, its position (a softmax over the feature grid), its
depth (the depth input under that softmax plus a learned correction, as for the target), its
name (colour and category) and the target-to-anchor distance where the trace states one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from roboref.envs.tasks.records import ReasoningStep


def split_name(name: str, colors: Sequence[str], categories: Sequence[str]) -> tuple[int, int]:
    """``"red book"`` -> (index of red, index of book); -1 where a part is not in the vocabulary."""
    color, _, category = name.partition(" ")
    return (
        colors.index(color) if color in colors else -1,
        categories.index(category) if category in categories else -1,
    )


def anchor_labels(
    steps_json: str, slots: int, grid: int, colors: Sequence[str], categories: Sequence[str]
) -> dict[str, np.ndarray]:
    """Slot targets from one sample's trace (``SampleSet.arrays["steps"]``). The target is the
    subject of the trace's last ``Position`` step; every other ``Position`` subject is an anchor."""
    steps = json.loads(steps_json)
    positions = [s for s in steps if s["kind"] == "Position"]
    target = positions[-1]["subject"] if positions else ""
    anchors: list[str] = []
    for s in positions:
        if s["subject"] != target and s["subject"] not in anchors:
            anchors.append(s["subject"])
    out = {
        "exist": np.zeros(slots, np.float32),
        "cell": np.full(slots, -1, np.int64),
        "depth": np.full(slots, np.nan, np.float32),
        "dist": np.full(slots, np.nan, np.float32),
        "color": np.full(slots, -1, np.int64),
        "category": np.full(slots, -1, np.int64),
    }
    for k, name in enumerate(anchors[:slots]):
        out["exist"][k] = 1.0
        out["color"][k], out["category"][k] = split_name(name, colors, categories)
        for s in steps:
            if s["kind"] == "Position" and s["subject"] == name:
                x, y = s["value"]
                out["cell"][k] = min(int(y * grid), grid - 1) * grid + min(int(x * grid), grid - 1)
            elif s["kind"] == "Depth" and s["subject"] == name:
                out["depth"][k] = s["value"]
            elif s["kind"] == "Distance" and s["subject"] == f"{target} -> {name}":
                out["dist"][k] = s["value"]
    return out


def batch_anchor_labels(steps: Sequence[str], slots: int, grid: int, colors, categories) -> dict[str, torch.Tensor]:
    """``anchor_labels`` of a batch, stacked, as tensors keyed ``anchor_<name>``."""
    rows = [anchor_labels(str(s), slots, grid, colors, categories) for s in steps]
    return {f"anchor_{k}": torch.as_tensor(np.stack([r[k] for r in rows])) for k in rows[0]}


def anchor_loss(a, t: dict) -> torch.Tensor:
    """Cross-entropy of position, colour and category, Huber of depth and distance (on the slots
    whose trace states them), binary cross-entropy of existence and of "states a distance"."""
    exist = t["anchor_exist"]
    loss = F.binary_cross_entropy_with_logits(a.exist, exist)
    on = t["anchor_cell"] >= 0
    if on.any():
        loss = loss + F.cross_entropy(a.position[on], t["anchor_cell"][on])
    for key, pred in (("depth", a.depth), ("dist", a.dist)):
        ok = torch.isfinite(t[f"anchor_{key}"])
        if ok.any():
            loss = loss + F.smooth_l1_loss(pred[ok], t[f"anchor_{key}"][ok], beta=0.05)
    present = exist > 0
    if present.any():
        has_dist = torch.isfinite(t["anchor_dist"]).float()
        loss = loss + F.binary_cross_entropy_with_logits(a.has_dist[present], has_dist[present])
    for key, logits in (("color", a.color), ("category", a.category)):
        lab = t[f"anchor_{key}"]
        if (lab >= 0).any():
            loss = loss + F.cross_entropy(logits[lab >= 0], lab[lab >= 0])
    return loss


def anchor_steps(a, i: int, target: str, grid: int, colors, categories) -> list[ReasoningStep]:
    """The stated steps of sample ``i``'s existing slots: ``Position`` and ``Depth`` of each
    anchor, and ``Distance`` from ``target`` where the slot says the trace has one."""
    steps: list[ReasoningStep] = []
    for k in range(a.exist.shape[1]):
        if float(a.exist[i, k]) <= 0.0:
            continue
        name = f"{colors[int(a.color[i, k].argmax())]} {categories[int(a.category[i, k].argmax())]}"
        cell = int(a.position[i, k].argmax())
        xy = (round((cell % grid + 0.5) / grid, 3), round((cell // grid + 0.5) / grid, 3))
        steps += [ReasoningStep("Position", name, xy), ReasoningStep("Depth", name, round(float(a.depth[i, k]), 3))]
        if float(a.has_dist[i, k]) > 0.0:
            steps.append(ReasoningStep("Distance", f"{target} -> {name}", round(float(a.dist[i, k]), 3)))
    return steps
