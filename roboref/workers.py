"""What one worker keeps between jobs (``Worker``), and the data-generation shard jobs it runs.

Making an env (compile + renderer) costs ~0.3 s, ten samples' or several episodes' worth, so a
worker keeps the env of its last configuration, with the agents and the controller built on it.
This state is explicit, not a hidden cache: ``parallel_map(..., state=Worker)`` makes one
``Worker`` per worker (this process when inline, each spawned process, each Ray actor), passes it
to every job and closes it at the end; a job run without one makes its own and closes it.
A new configuration closes the old env (and drops what was built on it) before making the next.
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


class Worker:
    """One worker's env (of the last configuration asked for), agents and controller."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._env: Any = None
        self._agents: dict[tuple[str, int], Any] = {}
        self._controller: Any = None

    def env(self, env_id: str, env_kwargs_json: str) -> Any:
        """``gym.make(env_id, **json.loads(env_kwargs_json))``, kept until another is asked for."""
        if self._key != (env_id, env_kwargs_json):
            import gymnasium as gym

            import roboref.envs  # noqa: F401  (registers the env ids)

            self.close()
            self._env = gym.make(env_id, **json.loads(env_kwargs_json))
            self._key = (env_id, env_kwargs_json)
        return self._env

    def agent(self, name: str, seed: int) -> Any:
        """Agent ``name`` built on the current env (the oracle reads its ground truth)."""
        if self._env is None:
            raise RuntimeError("Worker.agent: make the env first (Worker.env)")
        if (name, seed) not in self._agents:
            from roboref.agents import make_agent

            self._agents[(name, seed)] = make_agent(name, env=self._env, seed=seed)
        return self._agents[(name, seed)]

    def controller(self) -> Any:
        """The controller of the current env's robot and camera."""
        if self._env is None:
            raise RuntimeError("Worker.controller: make the env first (Worker.env)")
        if self._controller is None:
            from roboref.envs.control import make_controller

            config = self._env.unwrapped.config
            self._controller = make_controller(config.robot, camera=config.camera)
        return self._controller

    def close(self) -> None:
        """Close the env and drop what was built on it."""
        if self._env is not None:
            self._env.close()
        self._env, self._key, self._agents, self._controller = None, None, {}, None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
