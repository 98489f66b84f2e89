"""Training checkpoints: model (safetensors + config), optimizer state and trainer state, written
to a temporary folder and renamed into place, so a kill at any moment leaves the previous
checkpoint intact and resumable."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from roboref.agents.refpoint.model import RefPointModel

STATE_NAME = "trainer_state.json"
OPTIM_NAME = "optimizer.pt"


def checkpoint_dir(out: str | Path, step: int) -> Path:
    return Path(out) / "checkpoints" / f"step-{step:07d}"


def save_checkpoint(
    out: str | Path,
    step: int,
    model: RefPointModel,
    optimizer: torch.optim.Optimizer,
    state: dict,
    keep: int = 2,
) -> Path:
    """Write ``checkpoints/step-N`` atomically and keep only the ``keep`` newest."""
    final = checkpoint_dir(out, step)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save(optimizer.state_dict(), tmp / OPTIM_NAME)
    (tmp / STATE_NAME).write_text(json.dumps({**state, "step": step}, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in list_checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(out: str | Path) -> list[Path]:
    """Complete checkpoints (with a trainer state), oldest first."""
    root = Path(out) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if (p / STATE_NAME).is_file())


def resume_latest(
    out: str | Path, model: RefPointModel, make_optimizer: Callable[[RefPointModel], torch.optim.Optimizer]
) -> tuple[RefPointModel, torch.optim.Optimizer, int, float]:
    """``(model, optimizer, step, best validation success)`` of the newest checkpoint in ``out``, or
    ``model`` with a fresh optimizer at step 0 if there is none. ``make_optimizer`` builds the
    optimizer of a model, so a resumed one has the same parameter groups as a fresh one."""
    ckpts = list_checkpoints(out)
    if not ckpts:
        return model, make_optimizer(model), 0, -1.0
    loaded = RefPointModel.from_pretrained(ckpts[-1]).train()
    if loaded.config != model.config:
        raise ValueError(f"{ckpts[-1]}: checkpoint model config differs from this run's model config")
    optimizer = make_optimizer(loaded)
    optimizer.load_state_dict(torch.load(ckpts[-1] / OPTIM_NAME, weights_only=True))
    state: dict[str, Any] = json.loads((ckpts[-1] / STATE_NAME).read_text())
    return loaded, optimizer, state["step"], state.get("best_success", -1.0)
