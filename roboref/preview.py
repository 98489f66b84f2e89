"""A PNG contact sheet of generated samples, so a person can check the data by eye.

Each tile is the RGB image with the target mask outlined, the answer point (yellow: ground
truth, unscored) and a caption: instruction, answer, kind and steps.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from roboref.datarows import mask_from_png
from roboref.envs.atomic import atomic_path
from roboref.envs.drawing import annotate

COLUMNS = ["index", "image", "mask", "instruction", "answer", "point", "kind", "num_steps"]


def read_samples(out: Path, split: str, n: int) -> list[dict]:
    """The first ``n`` samples of ``split`` (by index), reading only the shards needed."""
    import pyarrow.parquet as pq

    paths = sorted((out / "data").glob(f"{split}-*-of-*.parquet"))
    if not paths:
        raise ValueError(f"no {split!r} shards under {out / 'data'}; run roboref datagen first")
    rows: list[dict] = []
    for path in paths:
        rows += pq.read_table(path, columns=COLUMNS).to_pylist()
        if len(rows) >= n:
            break
    return sorted(rows, key=lambda r: r["index"])[:n]


def tile(row: dict) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB"))
    mask = mask_from_png(row["mask"]["bytes"])
    caption = (
        f"#{row['index']} {row['instruction']}  ->  {row['answer']}  "
        f"({row['kind']}, {row['num_steps']} step{'s' if row['num_steps'] != 1 else ''})"
    )
    return annotate(rgb, caption, row["point"], mask=mask, scale=2 if rgb.shape[1] < 320 else 1)


def grid(tiles: list[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Tiles left to right, top to bottom, on a dark background."""
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 40, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y : y + t.shape[0], x : x + t.shape[1]] = t
    return sheet


def write_preview(out: Path, split: str, n: int, columns: int | None = None) -> Path:
    """``out/preview-<split>.png`` with the first ``n`` samples."""
    if n < 1:
        raise ValueError(f"preview must be >= 1, got {n}")
    samples = read_samples(out, split, n)
    sheet = grid([tile(r) for r in samples], columns or math.ceil(math.sqrt(len(samples))))
    path = out / f"preview-{split}.png"
    with atomic_path(path) as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG")
    return path
