"""The Agent protocol: anything that maps an observation to a referring point (an ``AgentOutput``,
defined with the task records so that envs and rewards need not import agents)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from roboref.envs.tasks.records import AgentOutput


@runtime_checkable
class Agent(Protocol):
    """``act(observation) -> AgentOutput``; ``act_batch`` for many observations at once."""

    def act(self, observation: dict) -> AgentOutput: ...

    def act_batch(self, observations: Sequence[dict]) -> list[AgentOutput]: ...


class BaseAgent:
    """Default ``act_batch`` (a loop), so simple agents only write ``act``."""

    def act(self, observation: dict) -> AgentOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def act_batch(self, observations: Sequence[dict]) -> list[AgentOutput]:
        return [self.act(o) for o in observations]

    def reset(self, seed: int | None = None) -> None:
        """Called before each episode with the episode's seed (stochastic agents re-seed here)."""


__all__ = ["Agent", "AgentOutput", "BaseAgent"]
