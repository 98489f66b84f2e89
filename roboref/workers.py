"""What one worker keeps between jobs (``Worker``), and the data-generation shard jobs it runs.

Making an env (compile + renderer) costs 0.2 s (UR5e) to 1.4 s (G1), ten samples' or several
episodes' worth, so a worker keeps an env per env id, with the agents and the controller built on
it, and moves it to another configuration in place where only task options change.
This state is explicit, not a hidden cache: ``parallel_map(..., state=Worker)`` makes one
``Worker`` per worker (this process when inline, each spawned process, each Ray actor), passes it
to every job and closes it at the end; a job run without one makes its own and closes it.
A configuration that needs a new simulator closes the old env of that id (and drops what was
built on it) before making the next.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roboref.datarows import episode_row
from roboref.parallel import parallel_map


@dataclass
class _Slot:
    """An env with the configuration it has now, and the agents and controller built on it."""

    kwargs_json: str
    env: Any
    agents: dict[tuple[str, int], Any] = field(default_factory=dict)
    controller: Any = None


class Worker:
    """One worker's envs (one per env id, in the configuration last asked for), with the agents
    and the controller built on each."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._current: _Slot | None = None

    def env(self, env_id: str, env_kwargs_json: str) -> Any:
        """``gym.make(env_id, **json.loads(env_kwargs_json))``. Each env id keeps its env, so a run
        alternating robots compiles each robot once. Another configuration of an id reuses its
        env through ``env.unwrapped.reconfigure`` when only reconfigurable options differ (a
        suite's segments: tasks, not scenes); otherwise it closes the env and makes a new one."""
        slot = self._slots.get(env_id)
        if slot is not None and slot.kwargs_json != env_kwargs_json:
            if _reconfigure(slot.env, json.loads(env_kwargs_json)):
                slot.kwargs_json = env_kwargs_json
            else:
                del self._slots[env_id]
                slot.env.close()
                slot = None
        if slot is None:
            import gymnasium as gym

            import roboref.envs  # noqa: F401  (registers the env ids)

            slot = _Slot(env_kwargs_json, gym.make(env_id, **json.loads(env_kwargs_json)))
            self._slots[env_id] = slot
        self._current = slot
        return slot.env

    def agent(self, name: str, seed: int) -> Any:
        """Agent ``name`` built on the current env (the oracle reads its ground truth)."""
        if self._current is None:
            raise RuntimeError("Worker.agent: make the env first (Worker.env)")
        agents = self._current.agents
        if (name, seed) not in agents:
            from roboref.agents import make_agent

            agents[(name, seed)] = make_agent(name, env=self._current.env, seed=seed)
        return agents[(name, seed)]

    def controller(self) -> Any:
        """The controller of the current env's robot and camera."""
        if self._current is None:
            raise RuntimeError("Worker.controller: make the env first (Worker.env)")
        if self._current.controller is None:
            from roboref.envs.control import make_controller

            config = self._current.env.unwrapped.config
            self._current.controller = make_controller(config.robot, camera=config.camera)
        return self._current.controller

    def close(self) -> None:
        """Close the envs and drop what was built on them."""
        for slot in self._slots.values():
            slot.env.close()
        self._slots, self._current = {}, None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reconfigure(env: Any, kwargs: dict) -> bool:
    """Move ``env`` to the configuration ``kwargs`` in place (``env.unwrapped.reconfigure``), or
    ``False`` where it cannot: an env without that method, or an option that needs a new simulator
    (its ValueError; ``gym.make`` then reports a bad option itself)."""
    reconfigure = getattr(env.unwrapped, "reconfigure", None)
    if reconfigure is None:
        return False
    try:
        reconfigure(**kwargs)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ShardJob:
    """Samples ``[start, stop)`` of ``split``, made with ``gym.make(env_id, **env_kwargs)``."""

    split: str
    shard: int
    start: int
    stop: int
    env_id: str
    env_kwargs_json: str  # JSON: comparable (the worker's env key) and cheap to send
    robot: str


@dataclass
class ShardResult:
    job: ShardJob
    rows: list[dict] = field(repr=False)
    seconds: float
    worker: str


def make_shard(job: ShardJob, worker: Worker) -> ShardResult:
    """One shard's rows, made with the worker's env."""
    t0 = time.perf_counter()
    env = worker.env(job.env_id, job.env_kwargs_json)
    rows = [episode_row(env, job.split, i, job.robot) for i in range(job.start, job.stop)]
    return ShardResult(job, rows, time.perf_counter() - t0, f"{os.uname().nodename}:{os.getpid()}")


def run_shards(jobs: list[ShardJob], workers: int, ray_address: str | None, temp_dir: Path) -> Iterator[ShardResult]:
    """Shards as they finish: inline for one worker (the GL context lives in this process and is
    closed at the end), spawned local processes for several, Ray actors with an address."""
    return parallel_map(make_shard, jobs, min(workers, max(1, len(jobs))), ray_address, temp_dir, state=Worker)
