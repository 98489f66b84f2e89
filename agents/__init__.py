"""Agents: anything that maps an observation to a referring point."""

from roboref.agents.base import Agent, AgentOutput, BaseAgent
from roboref.agents.baselines import OracleAgent, RandomAgent
from roboref.agents.heuristic import HeuristicAgent


def _refpoint_agent(checkpoint=None, **kwargs):
    """``RefPointAgent`` (the shipped checkpoint unless given one), imported on first use so
    ``import roboref.agents`` stays free of torch."""
    from roboref.agents.refpoint import RefPointAgent

    return RefPointAgent(checkpoint, **kwargs)


def _refpoint_dr_agent(**kwargs):
    """RefPoint fine-tuned through domain randomization, depth noise and mesh objects
    (``assets/models/refpoint-dr``): better on appearance shift, worse on roboref's own renders."""
    from roboref.agents.refpoint.agent import shipped_checkpoint

    return _refpoint_agent(shipped_checkpoint("refpoint-dr"), **kwargs)


AGENTS = {
    "oracle": OracleAgent,
    "random": RandomAgent,
    "heuristic": HeuristicAgent,
    "refpoint": _refpoint_agent,
    "refpoint-dr": _refpoint_dr_agent,
}


#: Name prefixes that take an argument after the colon.
PREFIXES = ("refpoint:", "hf:", "py:")


def check_agent_name(name: str) -> None:
    """Raise a clear error for a name ``make_agent`` cannot build (before any work starts)."""
    if name in AGENTS or (name.startswith(PREFIXES) and name.partition(":")[2]):
        return
    raise ValueError(
        f"unknown agent {name!r}; known agents: {', '.join(AGENTS)}, or refpoint:DIR (a RefPoint "
        "checkpoint), hf:PATH_OR_HUB_ID (any transformers image-text-to-text model), "
        "py:module:Class (your own Agent class, built with env= and seed= if it takes them)"
    )


def make_agent(name: str, env=None, seed: int | None = None):
    """Build an agent by name: ``oracle`` (needs the env), ``random``, ``refpoint`` or
    ``refpoint:DIR``, ``hf:PATH_OR_HUB_ID`` (``HFVLMAgent``), ``py:module:Class``."""
    check_agent_name(name)
    if name == "oracle":
        return OracleAgent(env)
    if name == "random":
        return RandomAgent(seed)
    if name == "heuristic":
        return HeuristicAgent(seed)
    if name == "refpoint-dr":
        return _refpoint_dr_agent()
    if name == "refpoint" or name.startswith("refpoint:"):  # refpoint:DIR loads another checkpoint
        return _refpoint_agent(name.partition(":")[2] or None)
    if name.startswith("hf:"):
        from roboref.agents.vlm import HFVLMAgent

        return HFVLMAgent(name.partition(":")[2])
    return _import_agent(name.partition(":")[2], env, seed)


def _import_agent(spec: str, env, seed):
    import importlib
    import inspect

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"py: agents are named py:module:Class, got py:{spec}")
    cls = getattr(importlib.import_module(module), attr)
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in (("env", env), ("seed", seed)) if k in params}
    return cls(**kwargs)


__all__ = [
    "Agent",
    "AgentOutput",
    "BaseAgent",
    "OracleAgent",
    "RandomAgent",
    "check_agent_name",
    "make_agent",
]
