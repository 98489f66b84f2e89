"""Evaluations per second of the pure reward functions on a real task (224² mask).

Run: ``python benchmarks/reward_speed.py [--seconds 2]``.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from _timing import rate

import roboref.envs  # noqa: F401
from roboref.envs.tasks.reasoning import format_steps
from roboref.rewards import RewardConfig, compute_reward, format_reward, point_reward, process_reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sim", type=int, default=16, help="completions for the simulator reward (0: skip)")
    args = parser.parse_args()
    env = gym.make("roboref/Refer-UR5e-v0", kinds=["location"], num_steps=[3, 3])
    env.reset(seed=0)
    task = env.unwrapped.task
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(1024, 2))
    answer = f"[({task.point[0]:.3f}, {task.point[1]:.3f})]"
    text = f"<think>{format_steps(task.steps)}</think><answer>{answer}</answer>"
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
    if args.sim:
        sim_outcome(args.sim)


def sim_outcome(n: int) -> None:
    """Completions/s of the simulator-in-the-loop outcome reward (oracle points, UR5e picks)."""
    from roboref.sim_reward import SimOutcomeReward

    kwargs = {"kinds": ["location"], "num_steps": [1, 2]}
    env = gym.make("roboref/Refer-UR5e-v0", **kwargs)
    seeds, texts, instr = [], [], []
    for seed in range(n):
        env.reset(seed=seed)
        t = env.unwrapped.task
        seeds.append(seed)
        instr.append(t.instruction)
        texts.append(f"[({t.point[0]:.4f}, {t.point[1]:.4f})]")
    env.close()
    print("\n| simulator-in-the-loop outcome | completions/s | mean reward |\n|---|---:|---:|")
    for workers in (1, 2):
        reward = SimOutcomeReward(kwargs, workers=workers)
        reward(completions=texts[:2], seed=seeds[:2], instruction=instr[:2])  # warm up the workers
        t0 = time.perf_counter()
        scores = reward(completions=texts, seed=seeds, instruction=instr)
        dt = time.perf_counter() - t0
        print(f"| {workers} worker(s), {n} picks | {n / dt:.2f} | {np.mean(scores):.2f} |")


if __name__ == "__main__":
    main()
