"""Point reward: 1 inside the ground-truth mask; outside, a value that falls with the distance.

A point ``(x, y)`` lands on pixel ``(floor(x·W), floor(y·H))``. Outside the mask the distance is
measured from the continuous point ``(x·W, y·H)`` to the nearest mask pixel centre, normalized by
the image diagonal ``D``, and the reward is ``outside_max · exp(-d / (sigma · D))``: in (0,
``outside_max``), strictly decreasing with distance.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def validate_point(point) -> tuple[tuple[float, float] | None, str]:
    """``((x, y), "")`` for a finite point in [0, 1]², else ``(None, reason)``."""
    if point is None:  # numpy would read None as one NaN coordinate
        return None, "no point"
    try:
        arr = np.asarray(point, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None, f"point is not numeric: {point!r}"
    if arr.shape != (2,):
        return None, f"point must have 2 coordinates (x, y), got {arr.size}"
    x, y = float(arr[0]), float(arr[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        return None, f"point is not finite: ({x}, {y})"
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        return None, f"point ({x:.4g}, {y:.4g}) is outside [0, 1]²"
    return (x, y), ""


def point_in_mask(point, mask: np.ndarray) -> tuple[float, str]:
    """1.0 if the normalized point falls on a mask pixel, else 0.0; with a reason."""
    p, reason = validate_point(point)
    if p is None:
        return 0.0, reason
    h, w = mask.shape
    col, row = min(int(p[0] * w), w - 1), min(int(p[1] * h), h - 1)
    if mask[row, col]:
        return 1.0, "inside mask"
    return 0.0, "outside mask"


@lru_cache(maxsize=64)
def _boundary(key: bytes, shape: tuple[int, int]) -> np.ndarray:
    """Pixel centres (N, 2) of the mask's boundary: the nearest mask pixel to any outside point
    is on it. Cached per mask because GRPO scores many completions against one mask."""
    mask = np.unpackbits(np.frombuffer(key, np.uint8))[: shape[0] * shape[1]].reshape(shape).astype(bool)
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    rows, cols = np.nonzero(mask & ~inner)
    return np.column_stack([cols + 0.5, rows + 0.5])


def distance_to_mask(point: tuple[float, float], mask: np.ndarray) -> float:
    """Distance (pixels) from the normalized point to the nearest mask pixel centre."""
    h, w = mask.shape
    edge = _boundary(np.packbits(mask).tobytes(), mask.shape)
    if len(edge) == 0:
        return math.inf
    d = edge - (point[0] * w, point[1] * h)
    return float(np.sqrt((d * d).sum(axis=1).min()))


def point_reward(point, mask: np.ndarray, outside_max: float = 0.5, sigma: float = 0.1) -> tuple[float, str]:
    """1 inside; ``outside_max · exp(-d / (sigma · diagonal))`` outside; 0 for a bad point."""
    p, reason = validate_point(point)
    if p is None:
        return 0.0, reason
    if not mask.any():
        return 0.0, "ground-truth mask is empty"
    inside, _ = point_in_mask(p, mask)
    if inside:
        return 1.0, "inside mask"
    d = distance_to_mask(p, mask)
    diag = math.hypot(*mask.shape)
    return outside_max * math.exp(-d / (sigma * diag)), f"outside mask by {d:.1f} px"


def points_reward(
    points, mask: np.ndarray, aggregate: str = "mean", outside_max: float = 0.5, sigma: float = 0.1
) -> tuple[float, str]:
    """Several points: ``mean`` of their rewards or ``all`` (every point must hit: the minimum)."""
    if aggregate not in ("mean", "all"):
        raise ValueError(f"aggregate must be 'mean' or 'all', got {aggregate!r}")
    if points is None or len(points) == 0:
        return 0.0, "no points"
    scored = [point_reward(p, mask, outside_max, sigma) for p in points]
    values = [v for v, _ in scored]
    value = float(np.mean(values)) if aggregate == "mean" else float(min(values))
    return value, scored[int(np.argmin(values))][1] if value < 1 else "inside mask"


def point_within_l1(point, gt_point, size: tuple[int, int], tol_px: float = 50.0) -> tuple[float, str]:
    """RoboRefer's RFT point reward: 1 if the L1 pixel distance to the ground-truth point is below
    ``tol_px`` (``size`` = (width, height)), else 0."""
    p, reason = validate_point(point)
    if p is None:
        return 0.0, reason
    d = abs(p[0] - gt_point[0]) * size[0] + abs(p[1] - gt_point[1]) * size[1]
    return (1.0, f"L1 {d:.1f} px") if d < tol_px else (0.0, f"L1 {d:.1f} px >= {tol_px:g}")
