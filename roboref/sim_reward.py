"""The simulator-in-the-loop outcome reward for TRL's ``GRPOTrainer``.

For each completion it rebuilds the row's scene and task from its seed (the env is deterministic),
executes the completion's point with the robot's controller (pick the referred object; or pick the
object to place at its oracle point and place it at the completion's point) and scores the
``ExecutionResult`` with ``roboref.rewards.outcome_reward``. A GRPO batch is scored in parallel by
a pool of worker processes, each keeping its env and controller alive.

``env_kwargs`` must be those the data set was generated with (``roboref datagen``'s ``env:`` and
split): a row whose instruction the env does not reproduce scores 0 with that reason.

Only the expected failures (``EXPECTED_FAILURES``: a row the env cannot rebuild) score 0
without an execution; they are counted by reason in ``SimOutcomeReward.skipped`` and logged. Any
other error is a bug and propagates.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass

from roboref.envs import ROBOTS, env_id
from roboref.envs.tasks.records import NoTaskError
from roboref.parallel import parallel_map
from roboref.rewards.format import parse_answer
from roboref.rewards.outcome import outcome_reward
from roboref.rewards.trl import completion_text
from roboref.workers import Worker

log = logging.getLogger(__name__)


class RowNotReproduced(Exception):
    """The env, reset with the row's seed, gives another instruction than the row's (other
    ``env_kwargs`` or roboref version)."""


#: Failures that score 0 with their reason (counted and logged); every other error propagates.
EXPECTED_FAILURES = (NoTaskError, RowNotReproduced)


@dataclass(frozen=True)
class _Item:
    robot: str
    env_kwargs_json: str
    seed: int
    instruction: str
    text: str


def score_item(item: _Item, worker: Worker) -> tuple[float, str]:
    """Execute one completion in the simulator with ``worker``'s env and controller."""
    from roboref.coeval import controller, held_object

    parsed = parse_answer(item.text)
    if not parsed.ok:
        return 0.0, parsed.reason
    env = worker.env(env_id("refer", item.robot), item.env_kwargs_json)
    env.reset(seed=item.seed)
    task = env.unwrapped.task
    if item.instruction and task.instruction != item.instruction:
        raise RowNotReproduced("the env does not reproduce this row (different env_kwargs or roboref version?)")
    held = held_object(env) if task.kind == "placement" else -1
    out = controller(env, task.kind, parsed.points[0], held, worker.controller())
    execution = out.get("execution")
    if execution is None:
        return 0.0, out.get("failure", "not executed")
    if task.kind == "location" and execution.get("target_object") != task.target:
        return 0.0, "picked the wrong object" if execution.get("grasped") else (execution.get("failure") or "")
    if task.kind == "placement" and out.get("failure") == "outside_region":
        return 0.0, "placed outside the referred region"
    return outcome_reward(execution, task.kind)


class SimOutcomeReward:
    """``reward(prompts, completions, seed=[...], robot=[...], instruction=[...]) -> list[float]``."""

    def __init__(self, env_kwargs: dict | None = None, workers: int = 1, robot: str = "ur5e"):
        self.env_kwargs_json = json.dumps(env_kwargs or {}, sort_keys=True)
        self.workers = workers
        self.robot = robot
        self.__name__ = "roboref_outcome"
        self.last_reasons: list[str] = []
        #: Completions scored 0 because their row could not be rebuilt, by reason, over all calls.
        self.skipped: Counter = Counter()
        self._worker = Worker()  # inline scoring keeps its env between batches; close() ends it

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
        completions = list(completions or [])
        n = len(completions)
        seeds = list(kwargs.get("seed") or [None] * n)
        robots = list(kwargs.get("robot") or [self.robot] * n)
        instructions = list(kwargs.get("instruction") or [""] * n)
        items, index = [], []
        scores, reasons = [0.0] * n, [""] * n
        skipped: Counter = Counter()
        for i, c in enumerate(completions):
            if seeds[i] is None or robots[i] not in ROBOTS:
                skip = "no seed" if seeds[i] is None else "unknown robot"
                reasons[i] = "row has no seed" if seeds[i] is None else f"unknown robot {robots[i]!r}"
                skipped[skip] += 1
                continue
            items.append(_Item(robots[i], self.env_kwargs_json, int(seeds[i]), instructions[i], completion_text(c)))
            index.append(i)
        # order is kept by scoring in index order: parallel_map is unordered, so tag each item
        tagged = list(enumerate(items))
        if self.workers == 1:
            results = dict(_score_tagged(t, self._worker) for t in tagged)
        else:
            results = dict(parallel_map(_score_tagged, tagged, self.workers, state=Worker))
        for k, i in enumerate(index):
            scores[i], reasons[i], skip = results[k]
            if skip:
                skipped[skip] += 1
        if skipped:
            self.skipped.update(skipped)
            log.warning(
                "%s: scored %d of %d completions 0 without executing them: %s",
                self.__name__,
                sum(skipped.values()),
                n,
                dict(skipped),
            )
        self.last_reasons = reasons
        return scores

    def close(self) -> None:
        """Close the env kept for inline scoring."""
        self._worker.close()


def _score_tagged(tagged: tuple[int, _Item], worker: Worker) -> tuple[int, tuple[float, str, str]]:
    """``(k, (score, reason, skip))``: ``skip`` names the expected failure that zeroed the item
    (the exception type), empty when it was executed."""
    k, item = tagged
    try:
        return k, (*score_item(item, worker), "")
    except EXPECTED_FAILURES as err:
        return k, (0.0, f"{type(err).__name__}: {err}", type(err).__name__)
