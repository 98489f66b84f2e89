"""Metric-sensitive process reward: how right are the predicted reasoning steps?

Each predicted step is matched to a ground-truth step of the same kind and subject (order does not
matter; each ground-truth step is used once; the best one-to-one assignment is taken). A matched
pair scores in [0, 1] by kind; the reward is the sum of pair scores divided by
``max(#predicted, #ground truth)``, so missing and hallucinated steps both count against, and the
ground-truth trace itself scores exactly 1.

Scores (``ProcessConfig``): Position by pixel L1 distance (``1 - d / position_tol_px``); Depth and
Distance by absolute error against ``max(abs_tol, rel_tol · |truth|)``; Size by the mean relative
error per dimension against ``size_rel_tol``; Orientation by cosine above ``orientation_min_cos``;
Region by box IoU. ``binary=True`` turns each into a pass/fail at its tolerance (the RoboRefer
paper's step accuracy: position L1 < 50 px, orientation cosine > 0.8, size within ±15 %).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from roboref.envs.tasks.records import ReasoningStep


@dataclass(frozen=True)
class ProcessConfig:
    position_tol_px: float = 50.0
    abs_tol: float = 0.05  # m
    rel_tol: float = 0.15
    size_rel_tol: float = 0.15
    orientation_min_cos: float = 0.8
    binary: bool = False


_ARTICLES = re.compile(r"\b(the|a|an)\b")


def normalize_subject(s: str) -> str:
    s = s.lower().replace("→", "->").replace("—", "-")
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.replace(" -> ", "->").split())


def _as_tuple(v) -> tuple[float, ...]:
    return tuple(float(x) for x in (v if isinstance(v, (tuple, list)) else (v,)))


def step_score(pred: ReasoningStep, gt: ReasoningStep, size: tuple[int, int], cfg: ProcessConfig) -> float:
    """Score of one predicted step against its ground truth (same kind), in [0, 1]."""
    p, g = _as_tuple(pred.value), _as_tuple(gt.value)
    if len(p) != len(g) or not all(math.isfinite(v) for v in p):
        return 0.0
    kind = gt.kind
    if kind == "Position":
        d = abs(p[0] - g[0]) * size[0] + abs(p[1] - g[1]) * size[1]
        return float(d < cfg.position_tol_px) if cfg.binary else max(0.0, 1.0 - d / cfg.position_tol_px)
    if kind in ("Depth", "Distance"):
        tol = max(cfg.abs_tol, cfg.rel_tol * abs(g[0]))
        err = abs(p[0] - g[0])
        return float(err <= tol) if cfg.binary else max(0.0, 1.0 - err / (2 * tol)) if err > 0 else 1.0
    if kind == "Size":
        rel = [abs(a - b) / max(abs(b), 1e-6) for a, b in zip(p, g, strict=True)]
        if cfg.binary:
            return float(all(r <= cfg.size_rel_tol for r in rel))
        return float(np.mean([max(0.0, 1.0 - r / (2 * cfg.size_rel_tol)) for r in rel]))
    if kind == "Orientation":
        a, b = np.asarray(p), np.asarray(g)
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na == 0 or nb == 0:
            return 0.0
        cos = float(a @ b / (na * nb))
        c0 = cfg.orientation_min_cos
        return float(cos > c0) if cfg.binary else min(1.0, max(0.0, (cos - c0) / (1.0 - c0)))
    if kind == "Region":
        ix = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
        iy = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
        inter = ix * iy
        union = (p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
        iou = inter / union if union > 0 else 0.0
        return float(iou >= 0.5) if cfg.binary else iou
    return 0.0


def process_reward(
    predicted: list[ReasoningStep],
    truth: list[ReasoningStep],
    size: tuple[int, int] = (224, 224),
    cfg: ProcessConfig | None = None,
) -> tuple[float, str, list[float]]:
    """``(reward, reason, per-predicted-step scores)``; ``size`` = (width, height) in pixels."""
    cfg = cfg or ProcessConfig()
    if not truth:
        return 0.0, "task has no reasoning steps", [0.0] * len(predicted)
    if not predicted:
        return 0.0, "no reasoning steps predicted", []
    scores = np.zeros((len(predicted), len(truth)))
    for i, p in enumerate(predicted):
        for j, g in enumerate(truth):
            if p.kind == g.kind and normalize_subject(p.subject) == normalize_subject(g.subject):
                scores[i, j] = step_score(p, g, size, cfg) + 1e-9  # matchable, even if scored 0
    rows, cols = linear_sum_assignment(-scores)
    per_step = [0.0] * len(predicted)
    for i, j in zip(rows, cols, strict=True):
        if scores[i, j] > 0:
            per_step[i] = float(scores[i, j] - 1e-9)
    total = sum(per_step) / max(len(predicted), len(truth))
    matched = sum(1 for i, j in zip(rows, cols, strict=True) if scores[i, j] > 0)
    reason = f"{matched}/{len(truth)} steps matched, {len(predicted) - matched} unmatched"
    return float(min(1.0, max(0.0, total))), reason, per_step
