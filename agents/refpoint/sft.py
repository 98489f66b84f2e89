"""Supervised fine-tuning of RefPoint on env-generated samples (``roboref train sft``).

Loss: cross-entropy of the heatmap against the normalized ground-truth mask (``target="mask"``,
dense labels only a simulator has) or against the cell of the single answer point
(``target="point"``, what a point-labelled data set such as RefSpatial gives: the analogue of a
VLM's token cross-entropy on ``[(x, y)]``), plus the step heads (target depth, task kind, target
colour and category). Checkpoints every ``save_every`` steps;
a rerun with the same ``out`` resumes from the newest checkpoint with the exact data order
(``batches.batch_indices``); a non-finite loss stops the run and keeps the last good checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from roboref.agents.refpoint.anchors import anchor_loss
from roboref.agents.refpoint.batches import TextCache, batch_indices, batch_tensors, evaluate
from roboref.agents.refpoint.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from roboref.agents.refpoint.config import RefPointConfig
from roboref.agents.refpoint.data import SampleSet, build_cache, shard_specs
from roboref.agents.refpoint.metrics import MetricsLogger, plot_metrics
from roboref.agents.refpoint.model import RefPointModel, RefPointOutput


@dataclass
class SFTConfig:
    """Everything an SFT run depends on (saved as ``out/sft_config.json``)."""

    out: str = "outputs/refpoint/sft"
    cache_dir: str = "outputs/refpoint/cache"
    num_samples: int = 20000  # training samples (env seeds 0…), split over ``robots``
    val_samples: int = 500
    robots: tuple[str, ...] = ("ur5e", "g1")
    shard_size: int = 250
    workers: int = 1  # processes generating missing shards
    datagen_dir: str | None = None  # optional extra data written by ``roboref datagen``
    target: str = "mask"  # heatmap target: the whole mask, or the answer point's cell ("point")
    batch_size: int = 32
    max_steps: int = 4500
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    grad_clip: float = 1.0
    depth_weight: float = 1.0
    kind_weight: float = 0.2
    subject_weight: float = 0.2
    save_every: int = 250
    eval_every: int = 500
    log_every: int = 10
    keep_checkpoints: int = 2
    max_minutes: float | None = None  # stop (with a checkpoint) after this much wall time
    seed: int = 0
    threads: int | None = 1  # torch threads; 1 was ~6x faster than 2 on a loaded 2-core VM
    progress: bool = True
    model: dict = field(default_factory=dict)  # RefPointConfig fields
    #: start from this checkpoint (its config, updated by ``model``; new heads start fresh)
    init: str | None = None
    train: str = "all"  # all | anchors: only the anchor slots learn, the rest stays as ``init`` has it
    block: str = "train"  # seed block of the samples: train | rft (prompts with reasoning traces)
    anchor_weight: float = 1.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SFTConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown SFT option(s) {unknown}; options: {sorted(names)}")
        d = dict(d)
        if "robots" in d:
            d["robots"] = tuple(d["robots"])
        cfg = cls(**d)
        if cfg.target not in ("mask", "point"):
            raise ValueError(f"target must be 'mask' or 'point', got {cfg.target!r}")
        if cfg.train not in ("all", "anchors"):
            raise ValueError(f"train must be 'all' or 'anchors', got {cfg.train!r}")
        if cfg.train == "anchors" and not cfg.init:
            raise ValueError("train=anchors needs init=CHECKPOINT (the model whose anchor slots to train)")
        return cfg

    def model_config(self) -> RefPointConfig:
        """``model`` over the defaults; from ``init``, the checkpoint's config, of which only
        ``anchor_slots`` may change (a started model keeps its shape; new slots start fresh)."""
        if not self.init:
            return RefPointConfig.from_dict(self.model)
        base = RefPointConfig.load(Path(self.init) / "config.json").to_dict()
        changed = sorted(k for k, v in self.model.items() if k != "anchor_slots" and base.get(k) != v)
        if changed:
            theirs = ", ".join(f"{k}={base.get(k)!r}" for k in changed)
            raise ValueError(f"init={self.init} has {theirs}; model.* must match it (only anchor_slots may change)")
        return RefPointConfig.from_dict({**base, **self.model})


@dataclass
class TrainResult:
    """How a run ended: ``status`` is ``done``, ``time`` (``max_minutes`` reached) or ``nan``."""

    status: str
    step: int
    out: Path
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def lr_at(step: int, cfg: Any) -> float:
    """Linear warm-up, then cosine decay to 10 % over ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def sft_loss(out: RefPointOutput, t: dict, cfg: SFTConfig) -> tuple[torch.Tensor, dict[str, float]]:
    logp = torch.log_softmax(out.logits.flatten(1), -1)
    if cfg.target == "point":
        point = F.nll_loss(logp, point_cells(t["point"], out.logits.shape[-1]))
    else:
        point = -(t["target"].flatten(1) * logp).sum(-1).mean()
    ok = torch.isfinite(t["target_depth"])
    depth = F.smooth_l1_loss(out.depth[ok], t["target_depth"][ok], beta=0.05) if ok.any() else out.depth.sum() * 0
    kind = F.cross_entropy(out.kind, t["kind"])
    color = _ce_ignore(out.color, t["color"])
    category = _ce_ignore(out.category, t["category"])
    loss = point + cfg.depth_weight * depth + cfg.kind_weight * kind + cfg.subject_weight * (color + category)
    parts = {
        "point_ce": point,
        "depth": depth,
        "kind": kind,
        "color": color,
        "category": category,
    }
    if out.anchors is not None and "anchor_exist" in t:
        parts["anchors"] = anchor_loss(out.anchors, t)
        loss = loss + cfg.anchor_weight * parts["anchors"]
    parts["loss"] = loss
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def point_cells(points: torch.Tensor, grid: int) -> torch.Tensor:
    """Flat heatmap cell of each normalized ``(x, y)`` point ``(B, 2)``."""
    col = (points[:, 0] * grid).long().clamp(0, grid - 1)
    row = (points[:, 1] * grid).long().clamp(0, grid - 1)
    return row * grid + col


def _ce_ignore(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if (labels >= 0).any():
        return F.cross_entropy(logits, labels, ignore_index=-1)
    return logits.sum() * 0


def load_samples(cfg: SFTConfig, model_cfg: RefPointConfig) -> tuple[SampleSet, SampleSet]:
    """Train and validation samples, generating (and caching) missing shards."""
    args = (list(cfg.robots), model_cfg.image_size, model_cfg.grid, model_cfg.max_depth)
    train_specs = shard_specs(cfg.num_samples, cfg.block, *args, shard_size=cfg.shard_size)
    val_specs = shard_specs(cfg.val_samples, "val", *args, shard_size=cfg.shard_size)
    paths = build_cache(val_specs + train_specs, cfg.cache_dir, cfg.workers, cfg.progress)
    val_paths, train_paths = paths[: len(val_specs)], paths[len(val_specs) :]
    if cfg.datagen_dir:
        from roboref.agents.refpoint.datagen_import import import_datagen

        train_paths += import_datagen(cfg.datagen_dir, cfg.cache_dir, model_cfg)
    return SampleSet(train_paths), SampleSet(val_paths)


class IndexLog:
    """``data_indices.txt``: one line ``step i1 i2 …`` per optimizer step (what the run saw)."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [ln for ln in lines if ln and int(ln.split()[0]) < resume_step]
        path.write_text("".join(ln + "\n" for ln in kept))

    def log(self, step: int, idx: np.ndarray) -> None:
        with self.path.open("a") as f:
            f.write(f"{step} " + " ".join(map(str, idx.tolist())) + "\n")


def read_index_log(path: str | Path) -> dict[int, list[int]]:
    out = {}
    for ln in Path(path).read_text().splitlines():
        step, *idx = map(int, ln.split())
        out[step] = idx
    return out


def train_sft(cfg: SFTConfig, train_set: SampleSet | None = None, val_set: SampleSet | None = None) -> TrainResult:
    """Run (or resume) SFT. ``train_set``/``val_set`` replace the generated samples if given."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model_cfg = cfg.model_config()
    if train_set is None or val_set is None:
        gen_train, gen_val = load_samples(cfg, model_cfg)
        train_set, val_set = train_set or gen_train, val_set or gen_val
    torch.manual_seed(cfg.seed)
    model = RefPointModel(model_cfg)
    if cfg.init:
        base = RefPointModel.from_pretrained(cfg.init).state_dict()
        model.load_state_dict(base, strict=False)  # model_config() allows new anchor slots only

    def optimizer(m: RefPointModel) -> torch.optim.Optimizer:
        for name, p in m.named_parameters():
            p.requires_grad_(cfg.train == "all" or name.startswith("anchor_"))
        trainable = [p for p in m.parameters() if p.requires_grad]
        return torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)

    opt = optimizer(model)
    step, best = 0, -1.0
    ckpts = list_checkpoints(out)
    if ckpts:
        model, state = load_checkpoint(ckpts[-1])
        if model.config != model_cfg:
            raise ValueError(f"{ckpts[-1]}: checkpoint model config differs from this run's model config")
        opt = optimizer(model)
        opt.load_state_dict(torch.load(ckpts[-1] / "optimizer.pt", weights_only=True))
        step, best = state["step"], state.get("best_success", -1.0)
    (out / "sft_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=list) + "\n")
    model.train()
    texts, val_texts = TextCache(model, train_set), TextCache(model, val_set)
    logger = MetricsLogger(out / "metrics.csv", resume_step=step)
    index_log = IndexLog(out / "data_indices.txt", resume_step=step)
    start_time, n = time.time(), len(train_set)
    bar = tqdm(total=cfg.max_steps, initial=step, desc="sft", unit="step", disable=not cfg.progress)
    status, message, last = "done", "", {}

    def checkpoint(s: int) -> None:
        save_checkpoint(out, s, model, opt, {"best_success": best, "samples": n}, cfg.keep_checkpoints)

    try:
        while step < cfg.max_steps:
            idx = batch_indices(cfg.seed, step, cfg.batch_size, n)
            t = batch_tensors(model, train_set, texts, idx)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            out_ = model(t["rgb"], t["depth"], t["text"], t["text_mask"])
            loss, parts = sft_loss(out_, t, cfg)
            if not math.isfinite(parts["loss"]):
                status = "nan"
                kept = list_checkpoints(out)
                message = (
                    f"non-finite loss {parts['loss']} at step {step + 1}; stopped. Last good checkpoint: "
                    f"{kept[-1] if kept else 'none'}"
                )
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            index_log.log(step, idx)
            step += 1
            last = parts
            bar.update()
            if step % cfg.log_every == 0:
                logger.log(step, "train", {**parts, "lr": lr_at(step - 1, cfg)})
                bar.set_postfix(loss=f"{parts['loss']:.3f}", ce=f"{parts['point_ce']:.3f}")
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                val = evaluate(model, val_set, val_texts)
                logger.log(step, "val", val)
                bar.write(f"step {step}: val success {val['success']:.3f}, ce {val['point_ce']:.3f}")
                if val["success"] > best:
                    best = val["success"]
                    model.save_pretrained(out / "best")
            if step % cfg.save_every == 0 or step == cfg.max_steps:
                checkpoint(step)
            if cfg.max_minutes is not None and time.time() - start_time > 60 * cfg.max_minutes:
                checkpoint(step)
                status, message = "time", f"stopped after {cfg.max_minutes} min at step {step}"
                break
    finally:
        bar.close()
        logger.close()
        plot_metrics(out / "metrics.csv", out / "metrics.png")
    if status == "done":
        model.save_pretrained(out / "final")
    if message:
        print(f"roboref train sft: {message}")
    return TrainResult(status, step, out, message, last)
