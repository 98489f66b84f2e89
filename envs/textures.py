"""Procedural textures for domain randomization, drawn from a generator in numpy.

Training kinds (``TRAIN_KINDS``): noise, checker, gradient, wood. Held-out kinds
(``HELDOUT_KINDS``: marble, stripes, dots) are for the shifted evaluation suite only, so that a
model is measured on patterns it never saw. Each generator returns a luminance-like pattern in
[0, 1] (H, W); ``texture`` maps it between two colours and returns uint8 RGB.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Pattern = Callable[[np.random.Generator, int], np.ndarray]


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / np.float32(n)
    return x, y


def _value_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a random ``cells``² grid, bilinearly upsampled to ``n``², tiling."""
    g = rng.random((cells, cells), dtype=np.float32)
    t = np.arange(n, dtype=np.float32) * cells / n
    i0 = t.astype(int)
    f = t - i0
    f = f * f * (3 - 2 * f)  # smoothstep
    i1 = (i0 + 1) % cells
    rows = g[i0] * (1 - f)[:, None] + g[i1] * f[:, None]
    return rows[:, i0] * (1 - f)[None] + rows[:, i1] * f[None]


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two octaves of value noise plus a little per-pixel grain."""
    out = 0.65 * _value_noise(rng, n, int(rng.integers(3, 9))) + 0.3 * _value_noise(rng, n, int(rng.integers(10, 24)))
    return np.clip(out + 0.05 * rng.random((n, n), dtype=np.float32), 0, 1)


def checker(rng: np.random.Generator, n: int) -> np.ndarray:
    k = int(rng.integers(2, 9))
    x, y = _grid(n)
    return ((np.floor(x * k) + np.floor(y * k)) % 2).astype(np.float32)


def gradient(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    x, y = _grid(n)
    t = np.cos(a) * (x - 0.5) + np.sin(a) * (y - 0.5)
    return ((t - t.min()) / max(float(t.max() - t.min()), 1e-6)).astype(np.float32)


def wood(rng: np.random.Generator, n: int) -> np.ndarray:
    """Growth rings around an off-image centre, warped by noise (tiles only roughly)."""
    x, y = _grid(n)
    cx, cy = rng.uniform(-1.0, 2.0), rng.uniform(-2.0, -0.5)
    r = np.hypot((x - cx) * rng.uniform(0.3, 1.0), y - cy) + 0.08 * _value_noise(rng, n, 6)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * r * rng.uniform(8, 20))
    return (0.75 * rings**3 + 0.25 * _value_noise(rng, n, 16)).astype(np.float32)


def marble(rng: np.random.Generator, n: int) -> np.ndarray:
    x, y = _grid(n)
    turb = _value_noise(rng, n, 4) + 0.5 * _value_noise(rng, n, 12)
    v = np.sin(2 * np.pi * (x * rng.integers(1, 4) + y * rng.integers(1, 4) + rng.uniform(1, 3) * turb))
    return (1 - np.abs(v) ** 0.3).astype(np.float32)


def stripes(rng: np.random.Generator, n: int) -> np.ndarray:
    x, y = _grid(n)
    kx, ky = int(rng.integers(0, 6)), int(rng.integers(1, 6))
    return (np.sin(2 * np.pi * (kx * x + ky * y)) > rng.uniform(-0.5, 0.5)).astype(np.float32)


def dots(rng: np.random.Generator, n: int) -> np.ndarray:
    k = int(rng.integers(3, 9))
    x, y = _grid(n)
    fx, fy = (x * k) % 1 - 0.5, (y * k) % 1 - 0.5
    return (np.hypot(fx, fy) < rng.uniform(0.15, 0.4)).astype(np.float32)


PATTERNS: dict[str, Pattern] = {
    "noise": noise,
    "checker": checker,
    "gradient": gradient,
    "wood": wood,
    "marble": marble,
    "stripes": stripes,
    "dots": dots,
}
TRAIN_KINDS = ("noise", "checker", "gradient", "wood")
HELDOUT_KINDS = ("marble", "stripes", "dots")


def check_kinds(kinds: tuple[str, ...]) -> None:
    if not kinds:
        raise ValueError(f"texture kinds must not be empty; allowed: {sorted(PATTERNS)}")
    bad = [k for k in kinds if k not in PATTERNS]
    if bad:
        raise ValueError(f"unknown texture kind(s) {bad}; allowed: {sorted(PATTERNS)}")


def texture(rng: np.random.Generator, kind: str, n: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """An ``n``×``n`` RGB uint8 texture of pattern ``kind`` between colours ``low`` and ``high``
    (RGB in [0, 1])."""
    p = PATTERNS[kind](rng, n)[..., None]
    rgb = np.asarray(low, np.float32) * (1 - p) + np.asarray(high, np.float32) * p
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
