"""Execution outcomes kept per prompt, so that RFT looks most of them up instead of simulating.

An outcome depends on the prompt and on where the point lands, never on the model that drew it
(``roboref.outcome_batch``): for a location prompt one pick of the target scores every point
inside the target's mask (the controller plans its grasp from the object, and the mask is the
target's visible pixels); for a placement prompt one place per heatmap cell inside the region
scores every point of that cell (RefPoint's action is the cell, ``SimOutcomeReward.place_grid``).
A point outside the mask or region scores 0 unexecuted, as in the batched path.

So the first time a ``(prompt, cell)`` comes up it is executed (the missing keys of a batch as
one group per prompt, spread over the scorer's worker pool) and kept; later points, steps, epochs
and runs over the same prompts (the ablation, a resumed run, a second seed) look it up. The table
lives in memory and, with a ``path``, in a JSON-lines file (one fsynced line per executed prompt
and call; a torn last line from a killed run is dropped on load), so a resumed run re-executes
nothing. Zero scores from a dead or stalled worker are not kept: the next time they run again.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from roboref.outcome_batch import Group, Scored, inside_mask
from roboref.results import repair_tail

log = logging.getLogger(__name__)

#: Categories of zero scores that say nothing about the prompt (the next call executes again).
TRANSIENT = ("worker_died", "timeout")
OUTSIDE = {
    "location": "pointed outside the target (not executed)",
    "placement": "placed outside the referred region",
}


@dataclass(frozen=True)
class Prompt:
    """What re-creates one prompt's episode, and its ground truth."""

    robot: str
    seed: int
    instruction: str
    kind: str  # "location" or "placement"
    mask: np.ndarray  # full-resolution target mask or region


class OutcomeTable:
    """``scores(prompts, points)``: ``(B, G)`` outcomes of ``points`` (``(B, G, 2)``, normalized).

    ``scorer`` is the ``SimOutcomeReward`` whose env options and worker pool execute the missing
    keys; ``grid`` is the heatmap's cell grid. Counters: ``executed`` (executions run),
    ``looked_up`` (points scored from the table), ``last_failures`` / ``failures`` (zero scores
    by category, this call / all calls, as ``SimOutcomeReward`` counts them)."""

    def __init__(self, scorer, grid: int, path: str | Path | None = None):
        if grid < 1:
            raise ValueError(f"grid must be >= 1, got {grid}")
        self.scorer, self.grid = scorer, grid
        self.path = Path(path) if path else None
        self.table: dict[tuple, dict[str, Scored]] = {}
        self.executed = 0
        self.looked_up = 0
        self.last_failures: Counter = Counter()
        self.failures: Counter = Counter()
        self._transient: dict[tuple, Scored] = {}
        if self.path is not None:
            self._load()

    def _prompt_key(self, p: Prompt) -> tuple:
        return (p.robot, int(p.seed), p.instruction, self.scorer.env_kwargs_json)

    def cell(self, kind: str, point) -> str:
        """The table key of a point inside the mask: the prompt's one pick, or its heatmap cell."""
        if kind == "location":
            return "pick"
        n = self.grid
        return f"{min(int(point[0] * n), n - 1)},{min(int(point[1] * n), n - 1)}"

    def scores(self, prompts: list[Prompt], points: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
        """Outcomes and reasons of every point; executes the keys the table lacks first."""
        points = np.asarray(points, float)
        b, g = points.shape[:2]
        keys = [[self._key_of(p, points[i, j]) for j in range(g)] for i, p in enumerate(prompts)]
        todo: dict[int, dict[str, tuple]] = {}
        for i, p in enumerate(prompts):
            known = self.table.get(self._prompt_key(p), {})
            for j in range(g):
                k = keys[i][j]
                if k is not None and k not in known:
                    todo.setdefault(i, {}).setdefault(k, tuple(points[i, j]))
        self._execute(prompts, todo)
        out = np.zeros((b, g))
        reasons: list[list[str]] = []
        counts: Counter = Counter()
        for i, p in enumerate(prompts):
            known = self.table.get(self._prompt_key(p), {})
            row = []
            for j in range(g):
                k = keys[i][j]
                if k is None:
                    row.append(OUTSIDE[p.kind])
                    continue
                score, reason, cat = known.get(k) or self._transient.get((i, k), (0.0, "not executed", ""))
                out[i, j] = score
                row.append(reason)
                counts.update([cat] if cat else [])
            reasons.append(row)
        self.looked_up += sum(k is not None for row in keys for k in row) - sum(len(t) for t in todo.values())
        self.last_failures = counts
        self.failures.update(counts)
        if counts:
            log.warning(
                "outcome table: %d of %d points scored 0 for a broken execution: %s",
                sum(counts.values()),
                b * g,
                dict(counts),
            )
        return out, reasons

    def _key_of(self, p: Prompt, point) -> str | None:
        if p.kind not in OUTSIDE:
            raise ValueError(f"unknown task kind {p.kind!r}")
        if not (np.isfinite(point).all() and inside_mask(p.mask, point)):
            return None
        return self.cell(p.kind, point)

    def _execute(self, prompts: list[Prompt], todo: dict[int, dict[str, tuple]]) -> None:
        """One group per prompt with a missing key: one representative point per key."""
        self._transient: dict[tuple, Scored] = {}
        if not todo:
            return
        order = list(todo)
        groups = [
            Group(
                prompts[i].robot,
                self.scorer.env_kwargs_json,
                int(prompts[i].seed),
                prompts[i].instruction,
                tuple(f"<answer>({x:.6f}, {y:.6f})</answer>" for x, y in todo[i].values()),
                self.grid,
            )
            for i in order
        ]
        lines = []
        for i, scored in zip(order, self.scorer.pool.map(groups), strict=True):
            new = {}
            for k, s in zip(todo[i], scored, strict=True):
                self.executed += 1
                if s[2] in TRANSIENT:
                    self._transient[(i, k)] = s
                else:
                    new[k] = tuple(s)
            if new:
                key = self._prompt_key(prompts[i])
                self.table.setdefault(key, {}).update(new)
                lines.append({"prompt": list(key), "outcomes": new})
        self._append(lines)

    # --- the file -----------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.exists():
            return
        repair_tail(self.path)
        bad = 0
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
                key = tuple(rec["prompt"])
                entries = {k: (float(v[0]), str(v[1]), str(v[2])) for k, v in rec["outcomes"].items()}
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
                bad += 1
                continue
            self.table.setdefault(key, {}).update(entries)
        if bad:
            log.warning("%s: skipped %d unreadable line(s); those outcomes run again", self.path, bad)

    def _append(self, lines: list[dict]) -> None:
        if self.path is None or not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            for rec in lines:
                fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def __len__(self) -> int:
        return sum(len(v) for v in self.table.values())

    def close(self) -> None:
        self.scorer.close()
