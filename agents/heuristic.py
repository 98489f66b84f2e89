"""A heuristic pointing baseline that uses only the observation: colour and depth cues plus a few
rules on the instruction's words. It gives the benchmark a non-trivial floor; it reads nothing
from the simulator.

Objects are the pixels standing above the table plane (depth unprojected with the camera's K and
pose; the table height is the most common height), split into connected blobs. The first colour
word in the instruction picks blobs by colour, a side word ("left", "right", "front", "behind",
"largest", "smallest") picks among them. Placement instructions ("free spot", "put …") point at
free table next to the blob of the mentioned anchor colour, on the named side.

Without depth (``None`` or all zeros: an RGB-only camera) the table is found by colour instead:
the pixels of the lower-centre region's chromaticity, holes filled; objects are what lies on it
in another colour. The same colour and side rules then pick a blob or a free spot.
"""

from __future__ import annotations

import re

import numpy as np
from scipy import ndimage

from roboref.agents.base import AgentOutput, BaseAgent
from roboref.agents.inputs import observed_depth, strip_answer_suffix
from roboref.assets.objects import PALETTE

_PLACEMENT = re.compile(r"\b(free|vacant|empty|put|place|placed|spot)\b", re.I)
_SIDES = {
    "left": ("left",),
    "right": ("right",),
    "front": ("front", "nearer", "closest to the camera", "nearest to the viewer", "frontmost", "below"),
    "behind": ("behind", "farther", "back", "furthest back", "backmost", "above"),
    "largest": ("largest", "larger", "biggest", "tallest", "taller", "wider", "widest"),
    "smallest": ("smallest", "smaller", "shortest", "shorter", "thinner"),
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


#: Height ranges (m) of the categories a shape cue can tell apart.
_HEIGHTS = {
    "bottle": (0.15, 0.3),
    "plate": (0.0, 0.03),
    "book": (0.0, 0.05),
    "marker": (0.0, 0.03),
    "banana": (0.0, 0.045),
    "jar": (0.08, 0.15),
    "cup": (0.08, 0.12),
    "can": (0.1, 0.13),
}


def _target_color(text: str) -> str | None:
    """The colour of the referred object: "the red mug" or "the mug that is red" (not an anchor's)."""
    words = _words(text)
    for i, wd in enumerate(words[:6]):
        if wd in PALETTE:
            return wd
        if wd == "is" and i + 1 < len(words) and words[i + 1] in PALETTE and i < 6:
            return words[i + 1]
    return None


def _side(text: str) -> str | None:
    low = text.lower()
    hits = [(low.find(w), side) for side, words in _SIDES.items() for w in words if w in low]
    return min(hits)[1] if hits else None


class HeuristicAgent(BaseAgent):
    """Colour + depth + keyword rules; see the module docstring."""

    def __init__(self, seed: int | None = None, min_blob: int = 12):
        self.rng = np.random.default_rng(seed)
        self.min_blob = min_blob

    def act(self, obs: dict) -> AgentOutput:
        rgb, depth = np.asarray(obs["rgb"]), observed_depth(obs)
        text = strip_answer_suffix(obs["instruction"])
        if depth is None or obs.get("intrinsics") is None or obs.get("extrinsics") is None:
            point = self._act_rgb(rgb, text)
        else:
            point = self._act_depth(rgb, depth, text, obs)
        point = (float(np.clip(point[0], 0, 1)), float(np.clip(point[1], 0, 1)))
        return AgentOutput(point=point, text=f"[({point[0]:.3f}, {point[1]:.3f})]")

    def _act_depth(self, rgb, depth, text, obs) -> tuple[float, float]:
        xyz, table = self._points(depth, np.asarray(obs["intrinsics"], float), np.asarray(obs["extrinsics"], float))
        z = xyz[..., 2]
        on_table = np.abs(z - table) < 0.006
        # only what stands over the table top (not the robot beside it)
        tx, ty = xyz[..., 0][on_table], xyz[..., 1][on_table]
        inside = (
            (xyz[..., 0] > np.percentile(tx, 1))
            & (xyz[..., 0] < np.percentile(tx, 99))
            & (xyz[..., 1] > np.percentile(ty, 1))
            & (xyz[..., 1] < np.percentile(ty, 99))
        )
        objects = (z > table + 0.01) & (z < table + 0.4) & inside
        labels, n = ndimage.label(objects)
        sizes = ndimage.sum(objects, labels, range(1, n + 1))
        blobs = [i + 1 for i in range(n) if sizes[i] >= self.min_blob]
        colors = [wd for wd in _words(text) if wd in PALETTE]
        if _PLACEMENT.search(text):
            free = (np.abs(z - table) < 0.006) & ~ndimage.binary_dilation(objects, iterations=6)
            return self._place(text, rgb, labels, blobs, colors, free)
        blobs = self._by_shape(blobs, labels, z - table, _words(text)) or blobs
        return self._locate(text, rgb, labels, blobs, _target_color(text))

    def _act_rgb(self, rgb, text) -> tuple[float, float]:
        """The same rules on blobs found by colour: the table is the lower-centre region's
        chromaticity (holes filled), objects are the other colours on it."""
        img = rgb[..., :3].astype(np.float64)
        h, w = img.shape[:2]
        chroma = img / (img.sum(-1, keepdims=True) + 1e-6)
        ref = np.median(chroma[2 * h // 3 :, w // 4 : 3 * w // 4].reshape(-1, 3), axis=0)
        bright = img.mean(-1)
        ref_bright = float(np.median(bright[2 * h // 3 :, w // 4 : 3 * w // 4]))
        table = (np.abs(chroma - ref).sum(-1) < 0.06) & (bright > 0.35 * ref_bright)
        table = ndimage.binary_opening(table, iterations=1)
        labels, n = ndimage.label(table)
        if n == 0:
            return (0.5, 0.6)
        table = labels == 1 + int(np.argmax(ndimage.sum(table, labels, range(1, n + 1))))
        objects = ndimage.binary_fill_holes(table) & ~table
        labels, n = ndimage.label(objects)
        sizes = ndimage.sum(objects, labels, range(1, n + 1))
        blobs = [i + 1 for i in range(n) if sizes[i] >= self.min_blob]
        if _PLACEMENT.search(text):
            free = table & ~ndimage.binary_dilation(objects, iterations=6)
            return self._place(text, rgb, labels, blobs, [wd for wd in _words(text) if wd in PALETTE], free)
        return self._locate(text, rgb, labels, blobs, _target_color(text))

    @staticmethod
    def _points(depth, K, T) -> tuple[np.ndarray, float]:
        """World points of every pixel (H, W, 3) and the table height (the most common z)."""
        h, w = depth.shape
        u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        cam = np.stack([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth], axis=-1)
        xyz = cam @ T[:3, :3].T + T[:3, 3]
        valid = depth < 50
        xyz[~valid] = -np.inf
        z = xyz[..., 2][valid]
        hist, edges = np.histogram(z[(z > 0.3)], bins=300)
        k = int(np.argmax(hist))
        return xyz, float((edges[k] + edges[k + 1]) / 2)

    @staticmethod
    def _by_shape(blobs, labels, height, words) -> list[int]:
        """Blobs whose top height fits the first category word with a known height range."""
        cat = next((wd for wd in words if wd in _HEIGHTS), None)
        if cat is None:
            return blobs
        lo, hi = _HEIGHTS[cat]
        tops = {b: float(np.percentile(height[labels == b], 95)) for b in blobs}
        return [b for b in blobs if lo - 0.01 <= tops[b] <= hi + 0.01]

    @staticmethod
    def _color_score(rgb, labels, blob, name) -> float:
        mean = rgb[labels == blob].mean(axis=0) / 255.0
        ref = np.asarray(PALETTE[name])
        return -float(np.linalg.norm(mean / (mean.sum() + 1e-6) - ref / (ref.sum() + 1e-6))) - 0.3 * abs(
            mean.mean() - ref.mean()
        )

    def _pick(self, blobs, labels, text, rgb, color):
        if not blobs:
            return None
        if color:
            scores = [self._color_score(rgb, labels, b, color) for b in blobs]
            best = max(scores)
            blobs = [b for b, s in zip(blobs, scores, strict=True) if s >= best - 0.05]
        side = _side(text)
        cent = {b: np.argwhere(labels == b).mean(axis=0) for b in blobs}  # (row, col)
        size = {b: int((labels == b).sum()) for b in blobs}
        key = {
            "left": lambda b: -cent[b][1],
            "right": lambda b: cent[b][1],
            "front": lambda b: cent[b][0],
            "behind": lambda b: -cent[b][0],
            "largest": lambda b: size[b],
            "smallest": lambda b: -size[b],
        }.get(side, lambda b: size[b])
        return max(blobs, key=key)

    def _locate(self, text, rgb, labels, blobs, color):
        blob = self._pick(blobs, labels, text, rgb, color)
        if blob is None:
            return (0.5, 0.6)
        rows, cols = np.nonzero(labels == blob)
        dist = ndimage.distance_transform_edt(labels == blob)
        r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
        h, w = labels.shape
        return ((c + 0.5) / w, (r + 0.5) / h)

    def _place(self, text, rgb, labels, blobs, colors, free):
        h, w = labels.shape
        free = free.copy()
        free[: h // 5] = False  # the far table edge, behind everything
        anchor = self._pick(blobs, labels, "", rgb, colors[-1] if colors else None) if colors else None
        rows, cols = np.nonzero(free)
        if len(rows) == 0:
            return (0.5, 0.6)
        if anchor is None:
            d = ndimage.distance_transform_edt(free)
            r, c = np.unravel_index(int(np.argmax(d)), d.shape)
            return ((c + 0.5) / w, (r + 0.5) / h)
        ar, ac = np.argwhere(labels == anchor).mean(axis=0)
        dr, dc = {"left": (0, -1), "right": (0, 1), "front": (1, 0), "behind": (-1, 0)}.get(_side(text), (0, 0))
        target = np.array([ar + dr * 18, ac + dc * 18])
        k = int(np.argmin((rows - target[0]) ** 2 + (cols - target[1]) ** 2))
        return ((cols[k] + 0.5) / w, (rows[k] + 0.5) / h)
