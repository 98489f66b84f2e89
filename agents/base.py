"""The Agent protocol: anything that maps an observation to a referring point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from roboref.envs.tasks.records import ReasoningStep


@dataclass(frozen=True)
class AgentOutput:
    """A normalized point ``(x, y)`` (or ``None`` when the agent gave no usable answer), the raw
    text a language model produced, and any reasoning steps it stated."""

    point: tuple[float, float] | None
    text: str = ""
    steps: tuple[ReasoningStep, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "point": None if self.point is None else [float(v) for v in self.point],
            "text": self.text,
            "steps": [s.to_dict() for s in self.steps],
        }


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
