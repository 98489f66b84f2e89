"""Samples from a ``roboref datagen`` data set (parquet: image, depth as 16-bit PNG in mm, mask,
instruction, steps, kind, …) converted once into RefPoint shards in the cache."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from roboref.agents.refpoint.config import KINDS, RefPointConfig
from roboref.agents.refpoint.data import (
    TEXT_KEYS,
    atomic_savez,
    mask_target,
    preprocess_depth,
    preprocess_rgb,
    subject_labels,
    target_depth,
)
from roboref.envs.tasks.records import ReasoningStep


def _png(cell) -> np.ndarray:
    data = cell["bytes"] if isinstance(cell, dict) else cell
    if isinstance(data, bytes):
        return np.asarray(Image.open(io.BytesIO(data)))
    return np.asarray(data)  # already a PIL image


def import_datagen(
    data_dir: str | Path, cache_dir: str | Path, cfg: RefPointConfig, shard_size: int = 250
) -> list[Path]:
    """Shard paths holding every row of the data set at ``data_dir`` (converted on first use;
    the shard names carry a hash of the parquet files' names and sizes, so new data re-converts)."""
    import datasets

    files = sorted(Path(data_dir).rglob("*.parquet"))
    if not files:
        raise ValueError(f"datagen_dir {data_dir}: no parquet files found")
    key = hashlib.sha1("".join(f"{f.name}:{f.stat().st_size}" for f in files).encode()).hexdigest()[:10]
    ds = datasets.load_dataset("parquet", data_dir=str(data_dir), split="train")
    ds = ds.cast_column("image", datasets.Image(decode=False))
    ds = ds.cast_column("depth", datasets.Image(decode=False)).cast_column("mask", datasets.Image(decode=False))
    paths = []
    for start in range(0, len(ds), shard_size):
        path = Path(cache_dir) / (
            f"datagen-{key}-s{cfg.image_size}g{cfg.grid}d{cfg.max_depth:g}-{start:010d}-{shard_size}.npz"
        )
        paths.append(path)
        if path.exists():
            continue
        rows = [_row(ds[i], cfg) for i in range(start, min(start + shard_size, len(ds)))]
        arrays = {k: np.stack([r[k] for r in rows]) for k in rows[0] if k not in TEXT_KEYS}
        for k in TEXT_KEYS:
            arrays[k] = np.array([r[k] for r in rows], dtype=np.str_)
        atomic_savez(path, **arrays)
    return paths


def _row(row: dict, cfg: RefPointConfig) -> dict:
    depth = _png(row["depth"]).astype(np.float32) / 1000.0
    depth = np.where(depth > 0, depth, cfg.max_depth)  # 0 = no depth (the far background)
    mask = _png(row["mask"]) > 0
    steps_raw = json.loads(row["steps"]) if row.get("steps") else []
    steps = [ReasoningStep(d["kind"], d["subject"], d["value"]) for d in steps_raw]
    color, category = subject_labels(steps)
    return {
        "rgb": preprocess_rgb(_png(row["image"])[..., :3], cfg.image_size),
        "depth": preprocess_depth(depth, cfg.image_size, cfg.max_depth).astype(np.float16),
        "target": mask_target(mask, cfg.grid).astype(np.float16),
        "mask": np.packbits(mask, axis=None),
        "mask_shape": np.array(mask.shape, np.int32),
        "point": np.array(row["point"], np.float32),
        "kind": np.int8(KINDS.index(row["kind"])),
        "target_depth": np.float32(target_depth(depth, mask, cfg.max_depth)),
        "color": np.int8(color),
        "category": np.int8(category),
        "seed": np.int64(row.get("seed", -1)),
        "instruction": row["instruction"],
        "steps": json.dumps(steps_raw),
    }
