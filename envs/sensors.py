"""RealSense-like depth noise, and a "no depth" sensor, for the observation's depth.

Real stereo depth is not the renderer's exact z-buffer: its axial noise grows with z² (Nguyen
et al. 2012: σ(z) = a + b (z − c)², a = 1.2 mm, b = 1.9 mm/m², c = 0.4 m), pixels are sampled a
little off where they should be (lateral jitter), depth edges and random spots return nothing
(depth 0, the sensor's "no data"), values come in fixed steps (quantization), and far surfaces
are out of range (0). ``apply_depth_noise(depth, rng, cfg)`` applies that model (a plain function:
envs, wrappers and the deploy ``mode=sim`` share it); ``cfg.no_depth`` gives all zeros, what an
RGB-only camera or benchmark gives: the observation keeps its ``depth`` array (same space, every
pixel "no data") and ``info["depth_mode"]`` says ``"none"``.

Only the observation is noisy: the task engine's ground truth keeps the renderer's exact depth.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DepthNoiseConfig:
    """Parameters of ``apply_depth_noise`` (all off by default: exact depth)."""

    axial_a: float = 0.0  # m: σ(z) = axial_a + axial_b (z − axial_c)²
    axial_b: float = 0.0  # m per m²
    axial_c: float = 0.4  # m
    lateral_px: float = 0.0  # σ of the per-pixel sampling offset, pixels (nearest-neighbour)
    edge_threshold: float = 0.02  # m: a pixel is on a depth edge if a 4-neighbour differs more
    edge_dropout: float = 0.0  # probability that an edge pixel reads 0
    hole_rate: float = 0.0  # probability that a pixel starts a hole (depth 0)
    hole_size: int = 1  # holes are hole_size × hole_size squares
    quantization: float = 0.0  # m: depth step (0: none; RealSense's default depth unit is 1 mm)
    max_range: float = 0.0  # m: farther pixels read 0 (0: no limit)
    no_depth: bool = False  # no depth sensor: the observation's depth is all zeros

    def __post_init__(self):
        for name in ("axial_a", "axial_b", "lateral_px", "quantization", "max_range"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"depth noise {name} must be a finite number >= 0, got {v!r}")
        if not np.isfinite(self.axial_c):
            raise ValueError(f"depth noise axial_c must be finite, got {self.axial_c!r}")
        if not (np.isfinite(self.edge_threshold) and self.edge_threshold > 0):
            raise ValueError(f"depth noise edge_threshold must be > 0 m, got {self.edge_threshold!r}")
        for name in ("edge_dropout", "hole_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"depth noise {name} is a probability in [0, 1], got {v!r}")
        if not (isinstance(self.hole_size, int | np.integer) and 1 <= self.hole_size <= 64):
            raise ValueError(f"depth noise hole_size must be an integer in [1, 64] pixels, got {self.hole_size!r}")

    @property
    def is_exact(self) -> bool:
        """True when the depth passes unchanged."""
        return self == DepthNoiseConfig()

    @property
    def mode(self) -> str:
        """``info["depth_mode"]``: ``"exact"``, ``"noisy"`` or ``"none"``."""
        return "none" if self.no_depth else ("exact" if self.is_exact else "noisy")

    def sigma(self, z: np.ndarray) -> np.ndarray:
        """Axial noise σ (m) at depth ``z`` (m)."""
        return self.axial_a + self.axial_b * (np.asarray(z) - self.axial_c) ** 2

    @classmethod
    def from_any(cls, value: Any) -> DepthNoiseConfig:
        """A preset name, a dict (``{"preset": name, field: value, …}``), a config, or ``None``."""
        return _from_any(cls, value, DEPTH_PRESETS, "depth_noise")


#: RealSense D4xx-like defaults (Nguyen et al. 2012; simkinect's edge and hole model).
DEPTH_PRESETS: dict[str, DepthNoiseConfig] = {
    "none": DepthNoiseConfig(),
    "realsense": DepthNoiseConfig(
        axial_a=0.0012,
        axial_b=0.0019,
        axial_c=0.4,
        lateral_px=0.8,
        edge_dropout=0.5,
        hole_rate=0.0005,
        hole_size=3,
        quantization=0.001,
        max_range=6.0,
    ),
    "strong": DepthNoiseConfig(
        axial_a=0.0025,
        axial_b=0.004,
        axial_c=0.4,
        lateral_px=1.2,
        edge_dropout=0.8,
        hole_rate=0.002,
        hole_size=4,
        quantization=0.002,
        max_range=4.0,
    ),
    "no_depth": DepthNoiseConfig(no_depth=True),
}


def _from_any(cls, value: Any, presets: dict, what: str):
    """Shared preset/dict/config parsing with errors that list the allowed names."""
    if value is None:
        return presets["none"]
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        if value not in presets:
            raise ValueError(f"unknown {what} preset {value!r}; allowed: {sorted(presets)}")
        return presets[value]
    if isinstance(value, dict):
        value = dict(value)
        base = _from_any(cls, value.pop("preset", "none"), presets, what)
        allowed = {f.name: f for f in fields(cls)}
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(f"unknown {what} parameter(s) {unknown}; allowed: {sorted(['preset', *allowed])}")
        value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        return replace(base, **value)
    raise ValueError(f"{what} must be a preset name {sorted(presets)}, a dict or a {cls.__name__}, got {value!r}")


def edge_mask(depth: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels with a 4-neighbour more than ``threshold`` metres nearer or farther."""
    d = depth.astype(np.float32)
    edge = np.zeros(d.shape, bool)
    dy = np.abs(np.diff(d, axis=0)) > threshold
    dx = np.abs(np.diff(d, axis=1)) > threshold
    edge[1:] |= dy
    edge[:-1] |= dy
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    return edge


def apply_depth_noise(depth: np.ndarray, rng: np.random.Generator, cfg: DepthNoiseConfig) -> np.ndarray:
    """A noisy copy of ``depth`` (H, W float z-depth in metres; 0 = no data) under ``cfg``.

    Order: lateral jitter (each pixel reads a neighbour offset by round(N(0, lateral_px)) px),
    axial noise N(0, σ(z)), quantization, out of range → 0, edge dropout (edges of the exact
    depth), holes. Draws from ``rng`` only: the same generator state gives the same noise."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth must be an (H, W) array, got shape {depth.shape}")
    if cfg.no_depth:
        return np.zeros_like(depth)
    out = depth.copy()
    valid_in = np.isfinite(out) & (out > 0)
    out[~valid_in] = 0.0
    h, w = out.shape
    if cfg.lateral_px > 0:
        dr = np.rint(rng.normal(0.0, cfg.lateral_px, (h, w))).astype(np.int64)
        dc = np.rint(rng.normal(0.0, cfg.lateral_px, (h, w))).astype(np.int64)
        rows = np.clip(np.arange(h)[:, None] + dr, 0, h - 1)
        cols = np.clip(np.arange(w)[None, :] + dc, 0, w - 1)
        out = out[rows, cols]
    valid = out > 0
    if cfg.axial_a > 0 or cfg.axial_b > 0:
        out = out + (rng.standard_normal((h, w)) * cfg.sigma(out)).astype(np.float32)
    if cfg.quantization > 0:
        out = (np.rint(out / cfg.quantization) * cfg.quantization).astype(np.float32)
    invalid = ~valid | (out <= 0)
    if cfg.max_range > 0:
        invalid |= out > cfg.max_range
    if cfg.edge_dropout > 0:
        invalid |= edge_mask(depth, cfg.edge_threshold) & (rng.random((h, w)) < cfg.edge_dropout)
    if cfg.hole_rate > 0:
        invalid |= holes(rng, (h, w), cfg.hole_rate, cfg.hole_size)
    out[invalid] = 0.0
    return out.astype(np.float32)


def holes(rng: np.random.Generator, shape: tuple[int, int], rate: float, size: int) -> np.ndarray:
    """Random square holes: each pixel starts one (its top-left corner) with probability ``rate``.
    Expected covered fraction away from the borders: 1 − (1 − rate)^(size²)."""
    seeds = rng.random(shape) < rate
    if size == 1:
        return seeds
    out = np.zeros(shape, bool)
    h, w = shape
    for i in range(size):
        for j in range(size):
            out[i:, j:] |= seeds[: h - i, : w - j]
    return out
