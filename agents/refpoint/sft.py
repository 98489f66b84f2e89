"""Supervised fine-tuning of RefPoint on env-generated samples (``roboref train sft``).

Loss: cross-entropy of the heatmap against the normalized ground-truth mask (``target="mask"``,
dense labels only a simulator has) or against the cell of the single answer point
(``target="point"``, what a point-labelled data set such as RefSpatial gives: the analogue of a
VLM's token cross-entropy on ``[(x, y)]``), plus the step heads (target depth, task kind, target
colour and category). Checkpoints every ``save_every`` steps (``loop.train_loop``);
a rerun with the same ``out`` resumes from the newest checkpoint with the exact data order
(``batches.batch_indices``); a non-finite loss stops the run and keeps the last good checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from roboref.agents.refpoint.anchors import anchor_loss
from roboref.agents.refpoint.config import RefPointConfig
from roboref.agents.refpoint.data import SampleSet, build_cache, shard_specs
from roboref.agents.refpoint.loop import LoopConfig, TrainResult, optimizer_step, train_loop
from roboref.agents.refpoint.model import RefPointModel, RefPointOutput
from roboref.agents.threads import torch_threads

#: What ``train=`` may name: the parameters that learn (None: all).
TRAIN_PARTS = {
    "all": None,
    "anchors": lambda name: name.startswith("anchor_"),
    "no_depth": lambda name: name == "no_depth",
}


@dataclass(kw_only=True)
class RefPointSFTConfig(LoopConfig):
    """Everything an SFT run of RefPoint depends on (saved as ``out/sft_config.json``): the
    loop's fields (``LoopConfig``) with the shipped recipe's defaults, and SFT's own. Named apart
    from TRL's ``SFTConfig``, which configures the VLM path (``agents/vlm/train.py``)."""

    out: str = "outputs/refpoint/sft"
    num_samples: int = 20000
    batch_size: int = 32
    max_steps: int = 4500
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    save_every: int = 250
    eval_every: int = 500
    log_every: int = 10
    block: str = "train"  # seed block of the samples: train | rft (prompts with reasoning traces)
    datagen_dir: str | None = None  # optional extra data written by ``roboref datagen``
    target: str = "mask"  # heatmap target: the whole mask, or the answer point's cell ("point")
    depth_weight: float = 1.0
    kind_weight: float = 0.2
    subject_weight: float = 0.2
    anchor_weight: float = 1.0
    model: dict = field(default_factory=dict)  # RefPointConfig fields
    #: start from this checkpoint (its config, updated by ``model``; new heads start fresh)
    init: str | None = None
    #: all | anchors: only the anchor slots learn | no_depth: only the missing-depth map learns (the
    #: model's answers on depth input stay exactly ``init``'s); the rest stays as ``init`` has it
    train: str = "all"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target not in ("mask", "point"):
            raise ValueError(f"target must be 'mask' or 'point', got {self.target!r}")
        if self.train not in TRAIN_PARTS:
            raise ValueError(f"train must be one of {list(TRAIN_PARTS)}, got {self.train!r}")
        if self.train != "all" and not self.init:
            raise ValueError(f"train={self.train} needs init=CHECKPOINT (the model whose {self.train} part to train)")
        if self.train == "no_depth" and not self.depth_dropout > 0:
            raise ValueError("train=no_depth needs depth_dropout > 0 (only rows without depth train the no_depth map)")

    def model_config(self) -> RefPointConfig:
        """``model`` over the defaults (a ``None`` value: not set); from ``init``, the
        checkpoint's config, of which only ``anchor_slots`` may change (a started model keeps its
        shape; new slots start fresh), and nothing with ``train=no_depth``."""
        model = {k: v for k, v in self.model.items() if v is not None}
        if not self.init:
            return RefPointConfig.from_dict(model)
        base = RefPointConfig.load(Path(self.init) / "config.json").to_dict()
        changed = sorted(k for k, v in model.items() if k != "anchor_slots" and base.get(k) != v)
        if changed:
            theirs = ", ".join(f"{k}={base.get(k)!r}" for k in changed)
            raise ValueError(f"init={self.init} has {theirs}; model.* must match it (only anchor_slots may change)")
        if self.train == "no_depth" and model.get("anchor_slots", base["anchor_slots"]) != base["anchor_slots"]:
            raise ValueError(
                f"train=no_depth keeps init's shape: init={self.init} has anchor_slots={base['anchor_slots']}"
            )
        return RefPointConfig.from_dict({**base, **model})


def sft_loss(out: RefPointOutput, t: dict, cfg: RefPointSFTConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted SFT loss of a forward pass on batch ``t``, and each term as a float to log."""
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


def load_samples(cfg: RefPointSFTConfig, model_cfg: RefPointConfig) -> tuple[SampleSet, SampleSet]:
    """Train and validation samples, generating (and caching) missing shards."""
    args = (list(cfg.robots), model_cfg.image_size, model_cfg.grid, model_cfg.max_depth, cfg.shard_size)
    train_specs = shard_specs(cfg.num_samples, cfg.block, *args, env_kwargs=cfg.env_kwargs)
    val_specs = shard_specs(cfg.val_samples, "val", *args, env_kwargs=cfg.val_env)
    paths = build_cache(val_specs + train_specs, cfg.cache_dir, cfg.workers, cfg.progress)
    val_paths, train_paths = paths[: len(val_specs)], paths[len(val_specs) :]
    if cfg.datagen_dir:
        from roboref.agents.refpoint.datagen_import import import_datagen

        train_paths += import_datagen(cfg.datagen_dir, cfg.cache_dir, model_cfg)
    return SampleSet(train_paths), SampleSet(val_paths)


def train_sft(
    cfg: RefPointSFTConfig, train_set: SampleSet | None = None, val_set: SampleSet | None = None
) -> TrainResult:
    """Run (or resume) SFT. ``train_set``/``val_set`` replace the generated samples if given."""
    with torch_threads(cfg.threads):
        model_cfg = cfg.model_config()
        if train_set is None or val_set is None:
            gen_train, gen_val = load_samples(cfg, model_cfg)
            train_set, val_set = train_set or gen_train, val_set or gen_val
        torch.manual_seed(cfg.seed)
        model = RefPointModel(model_cfg)
        if cfg.init:
            base = RefPointModel.from_pretrained(cfg.init).state_dict()
            model.load_state_dict(base, strict=False)  # model_config() allows new anchor slots only

        def train_step(
            model: RefPointModel, opt: torch.optim.Optimizer, step: int, idx: np.ndarray, t: dict[str, torch.Tensor]
        ) -> dict[str, float]:
            loss, parts = sft_loss(model(t["rgb"], t["depth"], t["text"], t["text_mask"]), t, cfg)
            if math.isfinite(parts["loss"]):
                optimizer_step(model, opt, loss, cfg.grad_clip)
            return parts

        parts = TRAIN_PARTS[cfg.train]
        return train_loop("sft", cfg, model, train_set, val_set, train_step, trainable=parts, show=("loss", "point_ce"))
