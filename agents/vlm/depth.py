"""Depth as a colour image, so a VLM can take it as a second picture (RoboRefer feeds depth
through its own image encoder). Turbo colours from Google's polynomial fit: no matplotlib."""

from __future__ import annotations

import numpy as np

# Turbo colormap, 5th-order polynomial approximation per channel (Mikhailov, Google AI, 2019).
_R = (0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943)
_G = (0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604)
_B = (0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973)


def colorize_depth(depth: np.ndarray, near: float | None = None, far: float | None = None) -> np.ndarray:
    """``(H, W)`` metres → ``(H, W, 3)`` uint8, near blue, far red. ``near``/``far`` default to the
    2nd/98th percentiles of the valid (finite, > 0) depths, i.e. relative depth like RoboRefer's."""
    d = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    if not valid.any():
        return np.zeros((*d.shape, 3), np.uint8)
    lo = float(np.percentile(d[valid], 2)) if near is None else near
    hi = float(np.percentile(d[valid], 98)) if far is None else far
    t = np.clip((np.where(valid, d, hi) - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    rgb = np.stack([sum(c * t**i for i, c in enumerate(coef)) for coef in (_R, _G, _B)], axis=-1)
    return (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
