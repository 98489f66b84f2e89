"""Vector envs: several roboref envs stepped together, Gymnasium's way (``gymnasium.make_vec``).

``make_vec(env_id, num_envs, vectorization_mode="async"|"sync", **kwargs)`` is
``gymnasium.make_vec`` with the settings a MuJoCo + software-GL env needs:

- ``async`` (``AsyncVectorEnv``, one process per env) *spawns* its processes: a forked child
  would inherit the parent's GL and thread-pool state (Gymnasium makes one env in the parent to
  read the spaces). Each child gets ``cpu_count // num_envs`` threads in Mesa's llvmpipe and in
  OpenMP/BLAS (every library otherwise starts a thread per core in every process). Observations
  come back through the pipes, not shared memory: Gymnasium 1.x reads a ``Text`` space out of
  shared memory once, when the vector env is made, so every instruction would read as the
  padding (``"aaa…"``); pickling two 224² RGB-D frames costs well under a millisecond.
- ``sync`` (``SyncVectorEnv``) steps the envs one after another in this process.

The observation's ``instruction`` (a ``Text`` space) batches to a tuple of strings, the arrays to
``(num_envs, …)`` arrays. ``reset(seed=s)`` seeds env ``i`` with ``s + i``: the same observations
as ``gymnasium.make(env_id).reset(seed=s + i)``. ``gymnasium.make_vec(env_id, num_envs)`` without a
mode uses the registered vector entry point (``refer_vector_env``, ``pickplace_vector_env``: the
same as ``async`` here); Gymnasium's own ``vectorization_mode="async"`` needs
``vector_kwargs={"context": "spawn", "shared_memory": False}`` for the reasons above.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import gymnasium as gym

import roboref  # THREAD_VARS, threads_per_process: the cores shared out, as roboref.parallel does


@contextlib.contextmanager
def child_threads(num_processes: int) -> Iterator[None]:
    """Processes started inside the block inherit ``cpu_count // num_processes`` threads per pool
    (variables already set are kept); this process's environment is restored after."""
    threads = str(roboref.threads_per_process(num_processes))
    added = [v for v in roboref.THREAD_VARS if v not in os.environ]
    os.environ.update(dict.fromkeys(added, threads))
    try:
        yield
    finally:
        for var in added:
            os.environ.pop(var, None)


def make_vec(
    env_id: str,
    num_envs: int,
    vectorization_mode: str = "async",
    vector_kwargs: dict | None = None,
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``gymnasium.make(env_id, **kwargs)`` as one vector env (see the
    module docstring for why async spawns and shares the cores out). ``vector_kwargs`` go to the
    vector env's class (e.g. ``autoreset_mode``) and override these settings."""
    import roboref.envs  # noqa: F401  (registers the ids)

    if vectorization_mode == "sync":
        return gym.make_vec(env_id, num_envs, vectorization_mode="sync", vector_kwargs=vector_kwargs, **kwargs)
    if vectorization_mode != "async":
        raise ValueError(f"vectorization_mode must be 'async' or 'sync', got {vectorization_mode!r}")
    with child_threads(num_envs):
        return gym.make_vec(
            env_id,
            num_envs,
            vectorization_mode="async",
            vector_kwargs={"context": "spawn", "shared_memory": False, **(vector_kwargs or {})},
            **kwargs,
        )


def refer_vector_env(num_envs: int = 1, robot: str = "ur5e", **kwargs: Any) -> gym.vector.VectorEnv:
    """The registered ``vector_entry_point`` of ``Refer-*``: ``gymnasium.make_vec(id, n)``."""
    from roboref.envs.registry import env_id

    return make_vec(env_id("refer", robot), num_envs, "async", **kwargs)


def pickplace_vector_env(num_envs: int = 1, robot: str = "ur5e", **kwargs: Any) -> gym.vector.VectorEnv:
    """The registered ``vector_entry_point`` of ``PickPlace-*``: ``gymnasium.make_vec(id, n)``."""
    from roboref.envs.registry import env_id

    return make_vec(env_id("pickplace", robot), num_envs, "async", **kwargs)
