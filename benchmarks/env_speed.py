"""Speed of the simulator, renderer and env, per robot, with 10 objects on the table.

Run: ``python benchmarks/env_speed.py [--robots ur5e g1] [--objects 10] [--seconds 3]``.
Prints a Markdown table; copy it into benchmarks/README.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import platform

import gymnasium as gym
import mujoco
import numpy as np
from _timing import rate

import roboref.envs  # noqa: F401
from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim


def bench_robot(robot: str, n_objects: int, seconds: float) -> dict[str, float]:
    sim = Sim(robot, n_slots=n_objects)
    cfg = SceneConfig(robot=robot, num_objects=(n_objects, n_objects))
    sim.reset_scene(np.random.default_rng(0), cfg)
    row: dict[str, float] = {}
    row["physics steps/s"] = 100 * rate(lambda: mujoco.mj_step(sim.model, sim.data, 100), seconds)
    row["RGB 224² fps"] = rate(lambda: sim.render("agent", depth=False, size=(224, 224)), seconds)
    row["RGB-D+seg 224² fps"] = rate(lambda: sim.render("agent", depth=True, seg=True, size=(224, 224)), seconds)
    row["RGB 640×480 fps"] = rate(lambda: sim.render("agent", depth=False, size=(640, 480)), seconds)
    row["reset (new scene)/s"] = rate(lambda: sim.reset_scene(np.random.default_rng(1), cfg), seconds)
    sim.close()

    env = gym.make(f"roboref/Refer-{'UR5e' if robot == 'ur5e' else 'G1'}-v0", num_objects=(n_objects, n_objects))
    env.reset(seed=0)
    seeds = iter(range(1, 10**9))

    def episode():
        env.reset(seed=next(seeds))
        env.step(env.action_space.sample())

    row["env steps/s (reset+step)"] = rate(episode, seconds)
    env.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", nargs="+", default=["ur5e", "g1"])
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows = {r: bench_robot(r, args.objects, args.seconds) for r in args.robots}
    metrics = list(next(iter(rows.values())))
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, mujoco {mujoco.__version__}, "
        f"{args.objects} objects"
    )
    print("| metric | " + " | ".join(rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for m in metrics:
        print(f"| {m} | " + " | ".join(f"{rows[r][m]:,.0f}" for r in rows) + " |")


if __name__ == "__main__":
    main()
