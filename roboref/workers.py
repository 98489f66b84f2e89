"""Run data-generation shard jobs in this process, in local worker processes, or on Ray.

Every backend yields ``ShardResult``s as shards finish, keeping only a few jobs in flight so
memory stays bounded however large the data set. Worker processes are *spawned* (never forked):
each makes its own MuJoCo GL context, and keeps one env for its life because making an env
(compile + renderer) costs ~0.3 s, ten samples' worth.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roboref.datarows import episode_row
from roboref.parallel import parallel_map


@dataclass(frozen=True)
class ShardJob:
    """Samples ``[start, stop)`` of ``split``, made with ``gym.make(env_id, **env_kwargs)``."""

    split: str
    shard: int
    start: int
    stop: int
    env_id: str
    env_kwargs_json: str  # JSON: hashable (the env cache key) and cheap to send
    robot: str


@dataclass
class ShardResult:
    job: ShardJob
    rows: list[dict] = field(repr=False)
    seconds: float
    worker: str


class ShardMaker:
    """Makes shards, keeping the env of the last config open between jobs."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._env: Any = None

    def env(self, env_id: str, env_kwargs_json: str) -> Any:
        if self._key != (env_id, env_kwargs_json):
            import gymnasium as gym

            import roboref.envs  # noqa: F401  (registers the env ids)

            self.close()
            self._env = gym.make(env_id, **json.loads(env_kwargs_json))
            self._key = (env_id, env_kwargs_json)
        return self._env

    def __call__(self, job: ShardJob) -> ShardResult:
        t0 = time.perf_counter()
        env = self.env(job.env_id, job.env_kwargs_json)
        rows = [episode_row(env, job.split, i, job.robot) for i in range(job.start, job.stop)]
        return ShardResult(job, rows, time.perf_counter() - t0, f"{os.uname().nodename}:{os.getpid()}")

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
        self._env, self._key = None, None

    def __enter__(self) -> ShardMaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=1)
def _process_maker() -> ShardMaker:
    """The one ``ShardMaker`` of a pool or Ray worker process (lives as long as the process)."""
    return ShardMaker()


def make_shard(job: ShardJob) -> ShardResult:
    """Entry point in a worker process."""
    return _process_maker()(job)


def run_shards(jobs: list[ShardJob], workers: int, ray_address: str | None, temp_dir: Path) -> Iterator[ShardResult]:
    """Shards as they finish: inline for one worker (the GL context lives in this process and is
    closed at the end), spawned local processes for several, Ray tasks with an address."""
    if not ray_address and (workers == 1 or len(jobs) <= 1):
        return _inline(jobs)
    return parallel_map(make_shard, jobs, min(workers, max(1, len(jobs))), ray_address, temp_dir)


def _inline(jobs: Iterable[ShardJob]) -> Iterator[ShardResult]:
    with ShardMaker() as maker:
        for job in jobs:
            yield maker(job)
