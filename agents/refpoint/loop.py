"""The step loop SFT and RFT share, so their guarantees are written once.

``train_loop`` runs optimizer steps from ``start`` to ``cfg.max_steps``: deterministic batches
(``batches.batch_indices``), the learning-rate schedule, progress bar, ``metrics.csv`` /
TensorBoard logging, periodic validation (``best/`` by validation success), atomic checkpoints
that a rerun with the same ``out`` resumes from, ``data_indices.txt``, the NaN stop (the last good
checkpoint is kept and named), the wall-clock limit and the final plot. A trainer supplies only
its step: ``train_step(step, idx, batch) -> metrics`` does one update and returns what to log;
a non-finite ``metrics["loss"]`` means it did not update, and the run stops.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch

from roboref.agents.refpoint.batches import TextCache, batch_indices, batch_tensors, evaluate
from roboref.agents.refpoint.checkpoint import list_checkpoints, save_checkpoint
from roboref.agents.refpoint.data import SampleSet
from roboref.agents.refpoint.metrics import MetricsLogger, plot_metrics
from roboref.agents.refpoint.model import RefPointModel


class LoopConfig(Protocol):
    """The fields of a trainer config that the loop reads."""

    out: str
    seed: int
    batch_size: int
    max_steps: int
    lr: float
    warmup_steps: int
    save_every: int
    eval_every: int
    log_every: int
    keep_checkpoints: int
    max_minutes: float | None
    progress: bool


@dataclass
class TrainResult:
    """How a run ended: ``status`` is ``done``, ``time`` (``max_minutes`` reached) or ``nan``."""

    status: str
    step: int
    out: Path
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


#: One optimizer step: ``(step, batch indices, batch tensors) -> metrics to log`` (with ``loss``).
StepFn = Callable[[int, np.ndarray, dict[str, torch.Tensor]], dict[str, float]]

C = TypeVar("C")


def config_from_dict(cls: type[C], d: dict[str, Any], what: str) -> C:
    """``cls(**d)`` that names unknown options (a typo must not silently train the default)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown {what} option(s) {unknown}; options: {sorted(names)}")
    d = dict(d)
    if "robots" in d:
        d["robots"] = tuple(d["robots"])
    return cls(**d)


def lr_at(step: int, cfg: Any) -> float:
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
    opt: torch.optim.Optimizer,
    train_set: SampleSet,
    val_set: SampleSet,
    train_step: StepFn,
    *,
    start: int = 0,
    best: float = -1.0,
    state: dict[str, Any] | None = None,
    show: tuple[str, ...] = ("loss",),
    eval_first: bool = False,
) -> TrainResult:
    """Run ``train_step`` from step ``start`` (a resumed checkpoint's) to ``cfg.max_steps``.

    ``name`` names the config file (``<name>_config.json``) and the progress bar; ``best`` is the
    resumed best validation success; ``state`` goes into every checkpoint's trainer state; ``show``
    are the metrics on the progress bar; ``eval_first`` validates the starting model at step 0
    (RFT: the SFT model is the score to beat)."""
    from tqdm import tqdm

    out = Path(cfg.out)
    (out / f"{name}_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=list) + "\n")  # type: ignore[call-overload]
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
        logger.log(step, "val", val)
        bar.write(f"step {step}: val success {val['success']:.3f}, ce {val['point_ce']:.3f}")
        if val["success"] > best:
            best = val["success"]
            model.save_pretrained(out / "best")

    def checkpoint() -> None:
        save_checkpoint(out, step, model, opt, {"best_success": best, **(state or {})}, cfg.keep_checkpoints)

    try:
        if eval_first and step == 0:
            validate()
        start_time = time.time()
        while step < cfg.max_steps:
            idx = batch_indices(cfg.seed, step, cfg.batch_size, n)
            batch = batch_tensors(model, train_set, texts, idx)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            metrics = train_step(step, idx, batch)
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
