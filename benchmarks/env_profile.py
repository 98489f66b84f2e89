"""Where an env's ``reset`` + ``step`` spends its time: cProfile over seeded episodes, as tables.

Run: ``python benchmarks/env_profile.py [--envs Refer-UR5e-v0 PickPlace-UR5e-v0] [--episodes 40]``.
For each env: one warm-up episode, then ``--episodes`` seeded episodes (reset + one step with the
task's own answer point, so PickPlace executes a real pick) under cProfile. Prints the wall time
per episode (unprofiled), then the top functions by cumulative and by own time, per episode.
Profiling slows Python-heavy parts (the task engine most) more than C (physics, GL).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import gymnasium as gym
import numpy as np

import roboref.envs  # noqa: F401


def _episode(env, seed: int) -> None:
    _, info = env.reset(seed=seed)
    point = info["task"]["point"]
    env.step(np.asarray(point[:2], np.float32).clip(0, 1))


def _rows(stats: pstats.Stats, key: str, n: int, episodes: int) -> list[tuple[str, float, float, int]]:
    entries = []
    for (file, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        where = file.split("/roboref/")[-1].split("site-packages/")[-1]
        label = f"{where}:{line}({name})" if line else name
        entries.append((label, 1e3 * tottime / episodes, 1e3 * cumtime / episodes, ncalls // episodes))
    idx = 2 if key == "cumulative" else 1
    return sorted(entries, key=lambda e: -e[idx])[:n]


def profile_env(env_id: str, episodes: int, top: int) -> None:
    env = gym.make(f"roboref/{env_id}")
    _episode(env, 0)
    t0 = time.perf_counter()
    for seed in range(1, episodes + 1):
        _episode(env, seed)
    wall = (time.perf_counter() - t0) / episodes
    prof = cProfile.Profile()
    prof.enable()
    for seed in range(1, episodes + 1):
        _episode(env, seed)
    prof.disable()
    env.close()
    stats = pstats.Stats(prof)
    total = 1e3 * stats.total_tt / episodes
    print(f"\n## {env_id}: {1e3 * wall:.1f} ms per episode unprofiled ({1 / wall:.1f}/s), {total:.1f} ms profiled")
    for key in ("cumulative", "tottime"):
        print(f"\n| top by {key} | own ms/ep | cum ms/ep | calls/ep |")
        print("|---|---:|---:|---:|")
        for label, own, cum, calls in _rows(stats, key, top, episodes):
            print(f"| `{label}` | {own:.2f} | {cum:.2f} | {calls} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["Refer-UR5e-v0", "PickPlace-UR5e-v0"])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for env_id in args.envs:
        profile_env(env_id, args.episodes, args.top)


if __name__ == "__main__":
    main()
