"""Baseline agents: random points, and the oracle that reads the ground truth."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from roboref.agents.base import AgentOutput, BaseAgent


class RandomAgent(BaseAgent):
    """A uniform random point; the floor any agent must beat. Seeded for reproducibility."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed per episode, so results do not depend on how episodes are spread over workers."""
        self.rng = np.random.default_rng([self.seed or 0, seed or 0])

    def act(self, observation: dict) -> AgentOutput:
        x, y = self.rng.uniform(0.0, 1.0, size=2)
        return AgentOutput(point=(float(x), float(y)), text=f"[({x:.3f}, {y:.3f})]")


class OracleAgent(BaseAgent):
    """Answers with the task's ground-truth point (the mask pixel farthest from its border).

    It needs the env, not just the observation, because the ground truth is not observed.
    """

    def __init__(self, env: gym.Env):
        self.env = env

    def act(self, observation: dict) -> AgentOutput:
        task = self.env.unwrapped.task
        if task is None:
            raise RuntimeError("OracleAgent: the env has no task; call env.reset() first")
        return AgentOutput(point=task.point, text=task.answer, steps=task.steps)
