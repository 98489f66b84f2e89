"""Throughput of the pointing env as a Gymnasium vector env: a single env, and ``make_vec`` sync
and async with 1 and 2 envs (one pointing step per episode, so each step is a reset + a step).

Run: ``python benchmarks/vector_speed.py [--seconds 8] [--robot ur5e]``. The rate is env steps
(= episodes) per wall second after one warm-up episode, random points as actions.
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np

from roboref.envs import env_id, make_vec


def rate(env, num_envs: int, seconds: float, same_step: bool = False) -> tuple[float, float]:
    """Episodes per wall second and per CPU second of this process (the async envs' processes
    are not counted in the latter)."""
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    env.step(rng.random((num_envs, 2), np.float32) if num_envs else rng.random(2, np.float32))
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        if num_envs and same_step:  # each env resets inside the step that ended its episode
            env.step(rng.random((num_envs, 2), np.float32))
            n += num_envs
        elif num_envs:  # an explicit reset: autoreset would spend a whole step() on the reset alone
            env.reset(seed=n)
            env.step(rng.random((num_envs, 2), np.float32))
            n += num_envs
        else:
            env.reset(seed=n)
            env.step(rng.random(2, np.float32))
            n += 1
    return n / (time.perf_counter() - t0), time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--robot", default="ur5e")
    args = parser.parse_args()
    eid = env_id("refer", args.robot)
    rows = []
    single = gym.make(eid)
    rows.append(("single env (gymnasium.make)", *rate(single, 0, args.seconds)))
    single.close()
    for mode in ("sync", "async"):
        for n in (1, 2):
            vec = make_vec(eid, n, mode)
            rows.append((f"make_vec {mode}, {n} env(s), reset + step", *rate(vec, n, args.seconds)))
            vec.close()
            same = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
            vec = make_vec(eid, n, mode, vector_kwargs=same)
            rows.append((f"make_vec {mode}, {n} env(s), same-step autoreset", *rate(vec, n, args.seconds, True)))
            vec.close()
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"| {eid}, 224² | episodes/s | vs single |\n|---|---:|---:|")
    for name, r, _ in rows:
        print(f"| {name} | {r:.1f} | {r / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
