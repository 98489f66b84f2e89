"""Training metrics to a CSV file, TensorBoard (``out/tensorboard``) and a plot (``metrics.png``)."""

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


#: What ``plot_metrics`` draws: (panel title, split, metric names) — whichever the CSV has.
PANELS = (
    ("training", "train", ("loss", "point_ce", "reward", "hit")),
    ("validation", "val", ("success",)),
)


def plot_metrics(csv_path: str | Path, png_path: str | Path) -> dict[str, int]:
    """Plot a run's ``metrics.csv`` (training loss/reward, validation success against step) to
    ``png_path``, written atomically; returns the number of points of every plotted series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.2))
    plotted: dict[str, int] = {}
    for ax, (title, split, names) in zip(axes, PANELS, strict=True):
        for name in names:
            pts = [(r["step"], r["value"]) for r in rows if r["split"] == split and r["name"] == name]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=name, marker="o" if split == "val" else None, ms=3)
                plotted[f"{split}/{name}"] = len(pts)
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    png_path = Path(png_path)
    tmp = png_path.with_name(f".{png_path.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(png_path)
    return plotted
