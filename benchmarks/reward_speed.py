"""Evaluations per second of the pure reward functions on a real task (224² mask).

Run: ``python benchmarks/reward_speed.py [--seconds 2]``.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import roboref.envs  # noqa: F401
from roboref.envs.tasks.reasoning import format_steps
from roboref.rewards import RewardConfig, compute_reward, format_reward, point_reward, process_reward


def rate(fn, seconds: float) -> float:
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    env = gym.make("roboref/Refer-UR5e-v0", kinds=["location"], num_steps=[3, 3])
    env.reset(seed=0)
    task = env.unwrapped.task
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(1024, 2))
    text = f"<think>{format_steps(task.steps)}</think><answer>[({task.point[0]:.3f}, {task.point[1]:.3f})]</answer>"
    i = iter(range(10**12))
    rows = {
        "format (parse answer + steps)": lambda: format_reward(text, strict=True),
        "point (shaped, random points)": lambda: point_reward(pts[next(i) % 1024], task.mask),
        "process (ground-truth trace)": lambda: process_reward(list(task.steps), list(task.steps)),
        "composer, default preset": lambda: compute_reward(text, task),
        "composer, roborefer preset": lambda: compute_reward(text, task, RewardConfig.preset("roborefer")),
    }
    print(f"task: {task.instruction!r} ({len(task.steps)} reasoning steps, mask {task.mask.sum()} px)")
    print("| reward | evaluations/s |\n|---|---:|")
    for name, fn in rows.items():
        print(f"| {name} | {rate(fn, args.seconds):,.0f} |")
    env.close()


if __name__ == "__main__":
    main()
