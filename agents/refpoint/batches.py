"""Deterministic batches and the tensors the model takes.

The batch at step ``k`` is a pure function of ``(seed, k, data size)``: sample positions
``k·B … k·B+B-1`` of an endless stream of seeded per-epoch permutations. A resumed run therefore
continues exactly where the checkpoint left off, without repeating or skipping a sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from roboref.agents.refpoint.anchors import batch_anchor_labels
from roboref.agents.refpoint.data import SampleSet, atomic_savez
from roboref.agents.refpoint.model import RefPointModel


def batch_indices(seed: int, step: int, batch_size: int, n: int) -> np.ndarray:
    pos = np.arange(step * batch_size, (step + 1) * batch_size)
    epochs, offs = pos // n, pos % n
    out = np.empty(batch_size, np.int64)
    for e in np.unique(epochs):
        perm = np.random.default_rng([seed, int(e)]).permutation(n)
        sel = epochs == e
        out[sel] = perm[offs[sel]]
    return out


class TextCache:
    """Text inputs of every sample of a ``SampleSet``, computed once. Frozen MiniLM features are
    also cached beside each shard (``<shard>.minilm<L>.npz``), since encoding is the slow part."""

    def __init__(self, model: RefPointModel, samples: SampleSet):
        c = model.config
        instructions = list(samples.arrays["instruction"])
        if c.text_encoder != "minilm" or not getattr(samples, "paths", None):
            feats, mask = model.encode_text(instructions)
        else:  # filled shard by shard: peak memory is the features plus one shard's
            feats = torch.zeros((len(instructions), c.max_tokens, c.text_dim), dtype=torch.float16)
            mask, start = torch.zeros((len(instructions), c.max_tokens), dtype=torch.bool), 0
            for path, size in zip(samples.paths, samples.sizes, strict=True):
                f, m = _cached_minilm(model, path, instructions[start : start + size])
                feats[start : start + size, : f.shape[1]] = f
                mask[start : start + size, : m.shape[1]] = m
                start += size
        self.text = feats.half() if feats.is_floating_point() else feats
        self.mask = mask

    def get(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.as_tensor(idx)
        text = self.text[t]
        return (text.float() if text.is_floating_point() else text), self.mask[t]


def _cached_minilm(model: RefPointModel, shard: Path, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    path = shard.with_name(f"{shard.stem}.minilm{model.config.max_tokens}.npz")
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            if len(z["feats"]) == len(texts):
                return torch.from_numpy(z["feats"]), torch.from_numpy(z["mask"])
    feats, mask = model.encode_text(texts)
    atomic_savez(path, feats=feats.half().numpy(), mask=mask.numpy())
    return feats.half(), mask


def batch_tensors(model: RefPointModel, samples: SampleSet, texts: TextCache, idx: np.ndarray) -> dict:
    b = samples.batch(idx)
    rgb, depth = model.image_inputs(b["rgb"], b["depth"].astype(np.float32), b["has_depth"])
    text, text_mask = texts.get(idx)
    c = model.config
    anchors = {}
    if c.anchor_slots and samples.has_steps:
        anchors = batch_anchor_labels(
            samples.arrays["steps"][idx], c.anchor_slots, c.feature_grid, c.colors, c.categories
        )
    return {
        **anchors,
        "rgb": rgb,
        "depth": depth,
        "text": text,
        "text_mask": text_mask,
        "target": torch.as_tensor(b["target"].astype(np.float32)),
        "target_depth": torch.as_tensor(b["target_depth"]),
        "kind": torch.as_tensor(b["kind"].astype(np.int64)),
        "color": torch.as_tensor(b["color"].astype(np.int64)),
        "category": torch.as_tensor(b["category"].astype(np.int64)),
        "point": torch.as_tensor(b["point"]),
    }


def cell_centers(grid: int, cells: torch.Tensor) -> torch.Tensor:
    """Normalized ``(x, y)`` centres of flat cell indices on a ``grid × grid`` heatmap."""
    row, col = cells // grid, cells % grid
    return torch.stack([(col.float() + 0.5) / grid, (row.float() + 0.5) / grid], -1)


@torch.no_grad()
def evaluate(
    model: RefPointModel, samples: SampleSet, texts: TextCache, batch_size: int = 64, rgb_only: bool = False
) -> dict[str, float]:
    """Pointing success (arg-max cell centre inside the full-resolution mask), heatmap
    cross-entropy and depth error on ``samples`` (``rgb_only``: every sample without its depth)."""
    was_training = model.training
    model.eval()
    hits, ce, derr, n = 0.0, 0.0, 0.0, 0
    grid = model.config.grid
    for start in range(0, len(samples), batch_size):
        idx = np.arange(start, min(start + batch_size, len(samples)))
        t = batch_tensors(model, samples, texts, idx)
        depth = torch.zeros_like(t["depth"]) if rgb_only else t["depth"]  # zeros: the missing-depth input
        out = model(t["rgb"], depth, t["text"], t["text_mask"])
        logp = torch.log_softmax(out.logits.flatten(1), -1)
        ce += float(-(t["target"].flatten(1) * logp).sum(-1).sum())
        ok = torch.isfinite(t["target_depth"])
        derr += float((out.depth - t["target_depth"]).abs()[ok].sum())
        pts = cell_centers(grid, logp.argmax(-1)).numpy()
        for j, i in enumerate(idx):
            m = samples.mask(int(i))
            h, w = m.shape
            x, y = pts[j]
            hits += float(m[min(int(y * h), h - 1), min(int(x * w), w - 1)])
        n += len(idx)
    model.train(was_training)
    return {"success": hits / n, "point_ce": ce / n, "depth_mae": derr / n}
