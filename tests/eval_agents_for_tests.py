"""Misbehaving agents for the eval harness's bad-input tests (test doubles, not roboref agents)."""

import time

from roboref.agents import AgentOutput


class RaisingAgent:
    def act(self, obs):
        raise RuntimeError("model crashed")


class NaNAgent:
    def act(self, obs):
        return AgentOutput(point=(float("nan"), 0.5), text="[(nan, 0.5)]")


class SlowAgent:
    def act(self, obs):
        time.sleep(5)
        return AgentOutput(point=(0.5, 0.5))


class RecordingAgent:
    """The oracle's whole answer, with a log of every call and every instance (class-level, so a
    test can read what the agents built inside a command saw)."""

    calls: list = []
    instances: list = []

    def __init__(self, env):
        self.env = env
        RecordingAgent.instances.append(self)

    def reset(self, seed=None):
        RecordingAgent.calls.append(("reset", seed))

    def act(self, obs):
        RecordingAgent.calls.append(("act", obs["instruction"]))
        task = self.env.unwrapped.task
        return AgentOutput(point=task.point, text=task.answer, steps=task.steps)
