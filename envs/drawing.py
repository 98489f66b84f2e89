"""Frames with the instruction, the point and the outcome drawn on them, and MP4 writing.

Drawing lives in ``envs`` because the ``RecordEpisodes`` wrapper draws its frames; the glue's
demo, video and failure videos use the same primitives.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from roboref.envs.atomic import atomic_path


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def annotate(
    rgb: np.ndarray,
    instruction: str,
    point=None,
    success: bool | None = None,
    mask: np.ndarray | None = None,
    scale: int = 2,
) -> np.ndarray:
    """Upscale ``rgb`` and draw the mask outline, the point (green hit / red miss / yellow
    unscored) and the instruction in a caption bar below the image."""
    h, w = rgb.shape[:2]
    img = Image.fromarray(rgb).resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    if mask is not None:
        edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
        rows, cols = np.nonzero(edge)
        for r, c in zip(rows, cols, strict=True):
            draw.rectangle([c * scale, r * scale, c * scale + scale - 1, r * scale + scale - 1], fill=(255, 255, 255))
    if point is not None:
        x, y = point[0] * w * scale, point[1] * h * scale
        color = (255, 220, 0) if success is None else ((40, 230, 40) if success else (240, 40, 40))
        r = 3 * scale
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(0, 0, 0), fill=color, width=1)
        draw.line([x - 2 * r, y, x + 2 * r, y], fill=color, width=1)
        draw.line([x, y - 2 * r, x, y + 2 * r], fill=color, width=1)
    font = _font(12)
    lines = textwrap.wrap(instruction, width=max(20, (w * scale) // 7)) or [""]
    if success is not None:
        lines.append("success" if success else "miss")
    bar = Image.new("RGB", (img.width, 16 * len(lines) + 8), (20, 20, 20))
    bdraw = ImageDraw.Draw(bar)
    for i, line in enumerate(lines):
        bdraw.text((6, 4 + 16 * i), line, fill=(240, 240, 240), font=font)
    out = Image.new("RGB", (img.width, img.height + bar.height))
    out.paste(img, (0, 0))
    out.paste(bar, (0, img.height))
    return np.asarray(out)


def side_by_side(*frames: np.ndarray) -> np.ndarray:
    """Frames placed left to right, padded to the tallest, width and height made even."""
    h = max(f.shape[0] for f in frames)
    padded = [np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0))) for f in frames]
    out = np.concatenate(padded, axis=1)
    return np.pad(out, ((0, out.shape[0] % 2), (0, out.shape[1] % 2), (0, 0)))


def pad_to_common(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames padded (bottom, right, black) to the largest height and width among them."""
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    return [np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1]), (0, 0))) for f in frames]


def write_mp4(path: str | Path, frames: list[np.ndarray], fps: int = 2) -> Path:
    """Write frames (same size) to an H.264 MP4 atomically (temp file, then rename)."""
    path = Path(path)
    if not frames:
        raise ValueError("write_mp4: no frames")
    shape = frames[0].shape
    if any(f.shape != shape for f in frames):
        raise ValueError("write_mp4: all frames must have the same shape")
    with atomic_path(path) as tmp:
        with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=8, macro_block_size=1) as writer:
            for f in frames:
                writer.append_data(f)
    return path
