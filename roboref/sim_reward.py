"""The simulator-in-the-loop outcome reward for TRL's ``GRPOTrainer``.

For each completion it rebuilds the row's scene and task from its seed (the env is deterministic),
executes the completion's point with the robot's controller (pick the referred object; or pick the
object to place at its oracle point and place it at the completion's point) and scores the
``ExecutionResult`` with ``roboref.rewards.outcome_reward``. A GRPO batch is scored in parallel by
a pool of worker processes, each keeping its env and controller alive.

``env_kwargs`` must be those the data set was generated with (``roboref datagen``'s ``env:`` and
split): a row whose instruction the env does not reproduce scores 0 with that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from roboref.envs import ROBOTS, env_id
from roboref.parallel import parallel_map
from roboref.rewards.format import parse_answer
from roboref.rewards.outcome import outcome_reward
from roboref.rewards.trl import completion_text
from roboref.workers import Worker


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
        return 0.0, "the env does not reproduce this row (different env_kwargs or roboref version?)"
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
        self._worker = Worker()  # inline scoring keeps its env between batches; close() ends it

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
        completions = list(completions or [])
        n = len(completions)
        seeds = list(kwargs.get("seed") or [None] * n)
        robots = list(kwargs.get("robot") or [self.robot] * n)
        instructions = list(kwargs.get("instruction") or [""] * n)
        items, index = [], []
        scores, reasons = [0.0] * n, ["row has no seed"] * n
        for i, c in enumerate(completions):
            if seeds[i] is None or robots[i] not in ROBOTS:
                reasons[i] = "row has no seed" if seeds[i] is None else f"unknown robot {robots[i]!r}"
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
            try:
                scores[i], reasons[i] = results[k]
            except KeyError:
                scores[i], reasons[i] = 0.0, "not scored"
        self.last_reasons = reasons
        return scores

    def close(self) -> None:
        """Close the env kept for inline scoring."""
        self._worker.close()


def _score_tagged(tagged: tuple[int, _Item], worker: Worker) -> tuple[int, tuple[float, str]]:
    k, item = tagged
    try:
        return k, score_item(item, worker)
    except Exception as err:  # never break a training loop
        return k, (0.0, f"simulation failed: {err}")
