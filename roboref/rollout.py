"""``run_episode``: the one rollout of an agent in a roboref env, shared by eval, coeval, demo,
video and the benchmarks, so they agree on the order of ``reset`` and on what reaches the reward.

An episode is: ``env.reset(seed)``, then ``agent.reset(seed)`` (a stochastic agent re-seeds
from the episode, so results do not depend on which worker ran it), then up to ``max_steps``
turns of ``agent.act`` (with a wall-clock limit) and ``env.step`` with the agent's *whole* answer,
an ``AgentOutput`` (its text and reasoning steps reach the reward's format and process terms).
An agent that raises, times out or answers no valid point ends the episode there, with the reason;
the env is not stepped with it.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from roboref.envs.tasks import AgentOutput, ReferringTask


class AgentTimeout(Exception):
    """The agent took longer than the harness allows for one answer."""


def act(agent: Any, observation: dict, timeout_s: float = 0.0) -> AgentOutput:
    """``agent.act(observation)`` with a wall-clock limit (SIGALRM, so only in a main thread;
    elsewhere, or with ``timeout_s <= 0``, without a limit)."""
    if timeout_s <= 0 or threading.current_thread() is not threading.main_thread():
        return agent.act(observation)

    def alarm(signum, frame):
        raise AgentTimeout(f"agent took longer than {timeout_s:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return agent.act(observation)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Turn:
    """One answer of the agent and, when it gave a valid point, the env's step on it."""

    answer: AgentOutput | None  # None: the agent raised or timed out
    point: tuple[float, float] | None  # the valid point stepped with (or, with step=False, to execute)
    reason: str  # "ok", or why there is no valid point (agent error, bad point, the text's parse)
    reward: float = 0.0
    info: dict = field(default_factory=dict)  # env.step's info; {} when not stepped

    @property
    def text(self) -> str:
        return self.answer.text if self.answer is not None else ""

    @property
    def success(self) -> bool:
        return bool(self.info.get("success", False))


@dataclass
class Episode:
    seed: int
    observation: dict  # the first observation
    task: ReferringTask  # the first task
    turns: list[Turn]
    wall_time: float  # seconds, reset to the last step


def answer_turn(agent: Any, observation: dict, timeout_s: float = 0.0) -> Turn:
    """Ask the agent once; a ``Turn`` with its checked point, or why there is none."""
    from roboref.rewards.format import parse_answer
    from roboref.rewards.point import validate_point

    try:
        answer = act(agent, observation, timeout_s)
    except Exception as err:  # noqa: BLE001 - any agent failure is this turn's failure
        return Turn(None, None, f"agent error: {type(err).__name__}: {err}")
    valid, why = validate_point(answer.point) if answer.point is not None else (None, "")
    if valid is None:
        text = answer.text
        return Turn(answer, None, why or (parse_answer(text).reason if text else "no answer"))
    return Turn(answer, (float(valid[0]), float(valid[1])), "ok")


def run_episode(
    env: Any, agent: Any, seed: int, *, timeout_s: float = 0.0, max_steps: int = 1, step: bool = True
) -> Episode:
    """Reset the env and the agent with ``seed`` and run up to ``max_steps`` turns (see module
    docstring). ``step=False`` asks for one answer and leaves the env as reset (coeval executes
    the point its own way)."""
    t0 = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    first_obs, task = obs, env.unwrapped.task
    try:
        if hasattr(agent, "reset"):
            agent.reset(seed=seed)
    except Exception as err:  # noqa: BLE001 - counts as the agent's failure to answer
        turn = Turn(None, None, f"agent error: {type(err).__name__}: {err}")
        return Episode(seed, first_obs, task, [turn], time.perf_counter() - t0)
    turns: list[Turn] = []
    for _ in range(max(1, max_steps)):
        turn = answer_turn(agent, obs, timeout_s)
        turns.append(turn)
        if turn.point is None or not step:
            break
        answer = AgentOutput(point=turn.point, text=turn.answer.text, steps=tuple(turn.answer.steps))
        obs, reward, terminated, truncated, turn.info = env.step(answer)
        turn.reward = float(reward)
        if terminated or truncated:
            break
    return Episode(seed, first_obs, task, turns, time.perf_counter() - t0)
