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
