"""Agents: anything that maps an observation to a referring point."""

from roboref.agents.base import Agent, AgentOutput, BaseAgent
from roboref.agents.baselines import OracleAgent, RandomAgent

AGENTS = {"oracle": OracleAgent, "random": RandomAgent}


def make_agent(name: str, env=None, seed: int | None = None):
    """Build an agent by name (``oracle`` needs the env)."""
    if name == "oracle":
        return OracleAgent(env)
    if name == "random":
        return RandomAgent(seed)
    raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(AGENTS)}")


__all__ = ["Agent", "AgentOutput", "BaseAgent", "OracleAgent", "RandomAgent", "make_agent"]
