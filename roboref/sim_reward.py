"""The simulator-in-the-loop outcome reward for TRL's ``GRPOTrainer`` and RefPoint's RFT.

Each completion's point is executed with the robot's controller on its row's scene and task,
rebuilt from the row's seed (the env is deterministic): pick the referred object; or pick the
object to place (at its oracle point) and place it at the completion's point. The
``ExecutionResult`` is scored by ``roboref.rewards.outcome_reward``.

Completions of one row (a GRPO group) are executed together (``roboref.outcome_batch``): one
reset and only the executions that can change a score, on one worker; groups are spread over a
process pool kept for the reward's life (``close()`` ends it). ``score_item`` is the
one-at-a-time reference path (every point reset and executed in full), kept to check that the
fast path gives the same scores.

``env_kwargs`` must be those the data set was generated with (``roboref datagen``'s ``env:`` and
split): a row whose instruction the env does not reproduce scores 0 with that reason.

Zero scores from bad input or broken executions (a row the env cannot rebuild, an answer without
a point, a point off the table, physics that blew up, a dead or stalled worker) are counted by
category in ``SimOutcomeReward.failures`` and logged. Any other error is a bug and propagates.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import Counter
from dataclasses import dataclass

from roboref.envs import ROBOTS, env_id
from roboref.outcome_batch import (
    BAD_INPUT,
    EXPECTED_FAILURES,
    Group,
    GroupPool,
    RowNotReproduced,
    Scored,
    inside_mask,
    instability,
    judge,
    warning_counts,
)
from roboref.rewards.format import parse_answer
from roboref.rewards.trl import completion_text
from roboref.workers import Worker

log = logging.getLogger(__name__)

__all__ = ["EXPECTED_FAILURES", "RowNotReproduced", "SimOutcomeReward", "score_item"]


@dataclass(frozen=True)
class _Item:
    robot: str
    env_kwargs_json: str
    seed: int
    instruction: str
    text: str


def score_item(item: _Item, worker: Worker) -> Scored:
    """Execute one completion in the simulator with ``worker``'s env and controller, in full:
    the one-at-a-time reference of ``roboref.outcome_batch``; ``(score, reason, category)``."""
    from roboref.coeval import controller, held_object

    parsed = parse_answer(item.text)
    if not parsed.ok:
        return 0.0, parsed.reason, "unparsed"
    env = worker.env(env_id("refer", item.robot), item.env_kwargs_json)
    env.reset(seed=item.seed)
    task = env.unwrapped.task
    if item.instruction and task.instruction != item.instruction:
        raise RowNotReproduced("the env does not reproduce this row (different env_kwargs or roboref version?)")
    held = held_object(env) if task.kind == "placement" else -1
    before = warning_counts(env.unwrapped.sim.data)
    out = controller(env, task.kind, parsed.points[0], held, worker.controller())
    execution = out.get("execution")
    if execution is None:
        return 0.0, out.get("failure", "not executed"), ""
    inside = inside_mask(task.mask, parsed.points[0])
    unstable = instability(env.unwrapped.sim.data, before, execution)
    return judge(task.kind, task.target, inside, execution, unstable)


class SimOutcomeReward:
    """``reward(prompts, completions, seed=[...], robot=[...], instruction=[...]) -> list[float]``.

    ``workers`` > 1 scores groups on that many processes (one pool for the reward's life);
    ``timeout_s`` bounds a call per round of ``workers`` groups (see ``GroupPool``);
    ``batched=False`` runs the one-at-a-time reference path inline instead.

    ``place_grid`` > 0: place points in one cell of a ``place_grid`` × ``place_grid`` division of
    the image share the first one's execution. RefPoint RFT sets its heatmap's grid: its action is
    the cell (the offset inside it is uniform noise that cancels in the policy ratio), so its
    points in one cell are one action; on 128 sampled place points it agreed with executing every
    point 128 times in 128 (benchmarks/README.md). 0 (default): every place point executes."""

    def __init__(
        self,
        env_kwargs: dict | None = None,
        workers: int = 1,
        robot: str = "ur5e",
        timeout_s: float = 300.0,
        batched: bool = True,
        place_grid: int = 0,
    ):
        self.env_kwargs_json = json.dumps(env_kwargs or {}, sort_keys=True)
        self.workers = workers
        self.robot = robot
        self.batched = batched
        if place_grid < 0:
            raise ValueError(f"place_grid must be >= 0, got {place_grid}")
        self.place_grid = place_grid
        self.__name__ = "roboref_outcome"
        self.last_reasons: list[str] = []
        #: This call's zero scores by category (``BAD_INPUT`` and the expected row failures).
        self.last_failures: Counter = Counter()
        #: Zero scores from bad input or broken executions, by category, over all calls.
        self.failures: Counter = Counter()
        #: Completions scored 0 because their row could not be rebuilt, by reason, over all calls.
        self.skipped: Counter = Counter()
        self.pool = GroupPool(workers, timeout_s)
        self._worker = Worker()  # the reference path's env
        self._finalizer = weakref.finalize(self, _close, self.pool, self._worker)
        # not at exit: mujoco's EGL display is gone by then (closing a renderer would fail) and
        # pool processes end with their parent (``roboref.parallel.init_worker``)
        self._finalizer.atexit = False

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
        completions = list(completions or [])
        n = len(completions)
        seeds = list(kwargs.get("seed") or [None] * n)
        robots = list(kwargs.get("robot") or [self.robot] * n)
        instructions = list(kwargs.get("instruction") or [""] * n)
        results: list[Scored] = [(0.0, "", "")] * n
        groups: dict[tuple, list[int]] = {}
        for i in range(n):
            if seeds[i] is None:
                results[i] = (0.0, "row has no seed", "no seed")
            elif robots[i] not in ROBOTS:
                results[i] = (0.0, f"unknown robot {robots[i]!r}", "unknown robot")
            else:
                groups.setdefault((robots[i], int(seeds[i]), instructions[i]), []).append(i)
        texts = [completion_text(c) for c in completions]
        if self.batched:
            batch = [
                Group(r, self.env_kwargs_json, s, ins, tuple(texts[i] for i in idx), self.place_grid)
                for (r, s, ins), idx in groups.items()
            ]
            for idx, scored in zip(groups.values(), self.pool.map(batch), strict=True):
                for i, s in zip(idx, scored, strict=True):
                    results[i] = s
        else:
            for (r, s, ins), idx in groups.items():
                for i in idx:
                    results[i] = _reference(_Item(r, self.env_kwargs_json, s, ins, texts[i]), self._worker)
        self._count(results, n)
        self.last_reasons = [r[1] for r in results]
        return [r[0] for r in results]

    def _count(self, results: list[Scored], n: int) -> None:
        counts = Counter(cat for _, _, cat in results if cat)
        self.last_failures = counts
        if not counts:
            return
        self.failures.update(counts)
        self.skipped.update({k: v for k, v in counts.items() if k not in BAD_INPUT})
        log.warning(
            "%s: scored %d of %d completions 0 for bad input or a broken execution: %s",
            self.__name__,
            sum(counts.values()),
            n,
            dict(counts),
        )

    def close(self) -> None:
        """End the worker pool and the envs."""
        self._finalizer()


def _close(pool: GroupPool, worker: Worker) -> None:
    pool.close()
    worker.close()


def _reference(item: _Item, worker: Worker) -> Scored:
    """``score_item`` as ``(score, reason, category)``: an expected failure zeroes the row."""
    try:
        return score_item(item, worker)
    except EXPECTED_FAILURES as err:
        return 0.0, f"{type(err).__name__}: {err}", type(err).__name__
