"""Training checkpoints: model (safetensors + config), optimizer state and trainer state, written
to a temporary folder and renamed into place, so a kill at any moment leaves the previous
checkpoint intact and resumable."""

from __future__ import annotations

import json
import shutil
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


def load_checkpoint(
    path: str | Path, optimizer: torch.optim.Optimizer | None = None
) -> tuple[RefPointModel, dict[str, Any]]:
    """The model, and the trainer state; loads the optimizer state into ``optimizer`` if given."""
    path = Path(path)
    model = RefPointModel.from_pretrained(path)
    state = json.loads((path / STATE_NAME).read_text())
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(path / OPTIM_NAME, weights_only=True))
    return model, state
