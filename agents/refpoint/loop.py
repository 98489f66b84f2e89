"""The step loop SFT and RFT share, so their guarantees are written once.

``train_loop`` runs optimizer steps to ``cfg.max_steps``: resume from the newest checkpoint in
``out``, AdamW, deterministic batches (``batches.batch_indices``), the learning-rate schedule,
progress bar, ``metrics.csv`` / TensorBoard logging, periodic validation (``best/`` by
validation success; with depth dropout, by its mean with the RGB-only success), depth dropout
(``depth_dropout``: a seeded share of each batch's rows lose their depth, which trains the
model's missing-depth input), atomic checkpoints, ``data_indices.txt``, the NaN stop (the last
good checkpoint is kept and named), the wall-clock limit and the final plot. A trainer supplies
its model, data and step: ``train_step(model, opt, step, idx, batch) -> metrics`` does one
update and returns what to log; a non-finite ``metrics["loss"]`` means it did not update, and
the run stops. Same config and seed give bit-identical weights, whether or not the run was
resumed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from roboref.agents.refpoint.batches import TextCache, batch_indices, batch_tensors, evaluate
from roboref.agents.refpoint.checkpoint import list_checkpoints, resume_latest, save_checkpoint
from roboref.agents.refpoint.data import SampleSet
from roboref.agents.refpoint.metrics import MetricsLogger, plot_metrics
from roboref.agents.refpoint.model import RefPointModel, drop_depth


@dataclass(kw_only=True)
class LoopConfig:
    """The fields every RefPoint training run has: where it writes, the sample cache it reads,
    and the step loop's schedule and bookkeeping. A field without a default here gets it from
    the trainer's config (``RefPointSFTConfig``, ``RefPointRFTConfig``): their recipes differ."""

    out: str
    cache_dir: str = "outputs/refpoint/cache"  # generated samples as .npz shards, shared by every run
    num_samples: int  # training samples (env seeds of the run's block), split over ``robots``
    val_samples: int = 500
    robots: tuple[str, ...] = ("ur5e", "g1")
    shard_size: int = 250
    workers: int = 1  # processes generating missing shards
    batch_size: int
    max_steps: int
    lr: float  # peak learning rate (``lr_at``: linear warm-up, then cosine decay to 10 %)
    weight_decay: float
    warmup_steps: int
    grad_clip: float = 1.0
    save_every: int  # checkpoint every this many steps (and at the end)
    eval_every: int  # validate every this many steps (and at the end); ``best/`` by success
    log_every: int
    keep_checkpoints: int = 2
    max_minutes: float | None = None  # stop (with a checkpoint) after this much wall time
    seed: int = 0
    threads: int | None = 1  # torch threads for the run; 1 was ~6x faster than 2 on a loaded 2-core VM
    progress: bool = True
    #: extra options of the env that generates the samples (``gymnasium.make`` keyword arguments,
    #: e.g. ``randomization``, ``depth_noise``); not ``robot`` or ``task_split``, which the run sets
    env_kwargs: dict = field(default_factory=dict)
    val_env_kwargs: dict | None = None  # the validation samples' env options; None: ``env_kwargs``
    depth_dropout: float = 0.0  # probability that a training row loses its depth (RGB-only input)

    def __post_init__(self) -> None:
        from roboref.agents.refpoint.data import env_kwargs_key

        if not 0.0 <= self.depth_dropout <= 1.0:
            raise ValueError(f"depth_dropout must be a probability in [0, 1], got {self.depth_dropout}")
        env_kwargs_key(self.env_kwargs)  # unknown or reserved env options: an error now, not mid-run
        env_kwargs_key(self.val_env_kwargs)

    @property
    def val_env(self) -> dict:
        """The validation samples' env options."""
        return self.env_kwargs if self.val_env_kwargs is None else self.val_env_kwargs

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """The config of a composed hydra config; unknown options are an error (a typo must not
        silently train with the default)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} option(s) {unknown}; options: {sorted(names)}")
        d = dict(d)
        if "robots" in d:
            d["robots"] = tuple(d["robots"])
        return cls(**d)


@dataclass
class TrainResult:
    """How a run ended: ``status`` is ``done``, ``time`` (``max_minutes`` reached) or ``nan``."""

    status: str
    step: int
    out: Path
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


#: One update: ``(model, optimizer, step, batch indices, batch tensors) -> metrics to log``.
StepFn = Callable[[RefPointModel, torch.optim.Optimizer, int, np.ndarray, dict[str, torch.Tensor]], dict[str, float]]


def lr_at(step: int, cfg: LoopConfig) -> float:
    """Linear warm-up, then cosine decay to 10 % over ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def optimizer_step(model: RefPointModel, opt: torch.optim.Optimizer, loss: torch.Tensor, grad_clip: float) -> None:
    """Backward, clip the gradient norm to ``grad_clip``, step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()


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
    """``data_indices.txt`` as ``{step: sample indices}`` (to check a resumed run saw the same data)."""
    out = {}
    for ln in Path(path).read_text().splitlines():
        step, *idx = map(int, ln.split())
        out[step] = idx
    return out


def train_loop(
    name: str,
    cfg: LoopConfig,
    model: RefPointModel,
    train_set: SampleSet,
    val_set: SampleSet,
    train_step: StepFn,
    *,
    trainable: Callable[[str], bool] | None = None,
    state: dict[str, Any] | None = None,
    show: tuple[str, ...] = ("loss",),
    eval_first: bool = False,
) -> TrainResult:
    """Train ``model`` (or resume the newest checkpoint in ``cfg.out``) to ``cfg.max_steps``.

    ``name`` names the config file (``<name>_config.json``) and the progress bar; AdamW updates
    the parameters whose name ``trainable`` accepts (all without it; the rest are frozen);
    ``state`` joins every checkpoint's trainer state; ``show`` are the metrics on the progress
    bar; ``eval_first`` validates the starting model at step 0 (RFT: the SFT model is the score
    to beat)."""
    from tqdm import tqdm

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    def make_optimizer(m: RefPointModel) -> torch.optim.Optimizer:
        for param_name, p in m.named_parameters():
            p.requires_grad_(trainable is None or trainable(param_name))
        params = [p for p in m.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    model, opt, start, best = resume_latest(out, model, make_optimizer)
    (out / f"{name}_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=list) + "\n")
    model.train()
    texts, val_texts = TextCache(model, train_set), TextCache(model, val_set)
    logger = MetricsLogger(out / "metrics.csv", resume_step=start)
    index_log = IndexLog(out / "data_indices.txt", resume_step=start)
    step, n = start, len(train_set)
    bar = tqdm(total=cfg.max_steps, initial=step, desc=name, unit="step", disable=not cfg.progress)
    status, message, last = "done", "", {}

    def validate() -> None:
        nonlocal best
        val = evaluate(model, val_set, val_texts)
        rgb = ""
        if cfg.depth_dropout > 0:  # the model is also learning RGB-only input: score it without depth
            rgb_only = evaluate(model, val_set, val_texts, rgb_only=True)
            val.update({f"rgb_only_{k}": v for k, v in rgb_only.items()})
            rgb = f", RGB-only success {rgb_only['success']:.3f}"
        logger.log(step, "val", val)
        bar.write(f"step {step}: val success {val['success']:.3f}, ce {val['point_ce']:.3f}{rgb}")
        # with depth dropout the model serves both inputs: ``best/`` by the mean of both successes
        score = (val["success"] + val["rgb_only_success"]) / 2 if cfg.depth_dropout > 0 else val["success"]
        if score > best:
            best = score
            model.save_pretrained(out / "best")

    def checkpoint() -> None:
        info = {"best_success": best, "samples": n, **(state or {})}
        save_checkpoint(out, step, model, opt, info, cfg.keep_checkpoints)

    try:
        if eval_first and step == 0:
            validate()
        start_time = time.time()
        while step < cfg.max_steps:
            idx = batch_indices(cfg.seed, step, cfg.batch_size, n)
            batch = batch_tensors(model, train_set, texts, idx)
            if cfg.depth_dropout > 0:
                gen = torch.Generator().manual_seed(int(np.random.default_rng([cfg.seed, step, 1]).integers(2**62)))
                batch["depth"] = drop_depth(batch["depth"], cfg.depth_dropout, gen)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            metrics = train_step(model, opt, step, idx, batch)
            if not math.isfinite(metrics["loss"]):
                kept = list_checkpoints(out)
                status = "nan"
                message = (
                    f"non-finite loss {metrics['loss']} at step {step + 1}; stopped. Last good checkpoint: "
                    f"{kept[-1] if kept else 'none'}"
                )
                break
            index_log.log(step, idx)
            step += 1
            last = metrics
            bar.update()
            if step % cfg.log_every == 0:
                logger.log(step, "train", {**metrics, "lr": lr_at(step - 1, cfg)})
                bar.set_postfix({k: f"{metrics[k]:.3f}" for k in show if k in metrics})
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                validate()
            if step % cfg.save_every == 0 or step == cfg.max_steps:
                checkpoint()
            if cfg.max_minutes is not None and time.time() - start_time > 60 * cfg.max_minutes:
                checkpoint()
                status, message = "time", f"stopped after {cfg.max_minutes} min at step {step}"
                break
    finally:
        bar.close()
        logger.close()
        plot_metrics(out / "metrics.csv", out / "metrics.png")
    if status == "done":
        model.save_pretrained(out / "final")
    if message:
        print(f"roboref train {name}: {message}")
    return TrainResult(status, step, out, message, last)
