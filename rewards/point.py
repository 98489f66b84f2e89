"""Point reward: is the referring point inside the ground-truth mask?"""

from __future__ import annotations

import math

import numpy as np


def validate_point(point) -> tuple[tuple[float, float] | None, str]:
    """``((x, y), "")`` for a finite point in [0, 1]², else ``(None, reason)``."""
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
    """1.0 if the normalized point falls on a mask pixel, else 0.0; with a reason.

    The point ``(x, y)`` lands on pixel ``(floor(x·W), floor(y·H))`` (clamped to the image).
    """
    p, reason = validate_point(point)
    if p is None:
        return 0.0, reason
    h, w = mask.shape
    col, row = min(int(p[0] * w), w - 1), min(int(p[1] * h), h - 1)
    if mask[row, col]:
        return 1.0, "inside mask"
    return 0.0, "outside mask"
