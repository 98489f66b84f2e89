"""Training metrics to a CSV file (always) and TensorBoard (when ``tensorboard`` is installed)."""

from __future__ import annotations

import csv
from pathlib import Path


class MetricsLogger:
    """Append-only ``metrics.csv`` with columns ``step, split, name, value``. On resume from step
    ``s``, rows after ``s`` (logged after the last checkpoint) are dropped, so none repeat."""

    def __init__(self, path: str | Path, resume_step: int = 0, tensorboard: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        if self.path.exists():
            with self.path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, ["step", "split", "name", "value"])
            w.writeheader()
            w.writerows(rows)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.path.parent / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self.tb = None

    def log(self, step: int, split: str, values: dict[str, float]) -> None:
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for k, v in values.items():
                w.writerow([step, split, k, f"{float(v):.6g}"])
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{split}/{k}", float(v), step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_metrics(path: str | Path) -> list[dict]:
    with Path(path).open() as f:
        return [{**r, "step": int(r["step"]), "value": float(r["value"])} for r in csv.DictReader(f)]
