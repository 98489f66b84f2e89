"""Speed of the simulator, renderer and env, per robot, with 10 objects on the table.

Run: ``python benchmarks/env_speed.py [--robots ur5e g1] [--objects 10] [--seconds 3]``.
Prints a Markdown table; copy it into benchmarks/README.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform

import gymnasium as gym
import mujoco
import numpy as np
from _timing import rate, rates_interleaved

import roboref.envs  # noqa: F401
from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim


def bench_robot(robot: str, n_objects: int, seconds: float) -> dict[str, float]:
    sim = Sim(robot, n_slots=n_objects)
    cfg = SceneConfig(robot=robot, num_objects=(n_objects, n_objects))
    sim.reset_scene(np.random.default_rng(0), cfg)
    row: dict[str, float] = {}
    row["physics steps/s"] = 100 * rate(lambda: mujoco.mj_step(sim.model, sim.data, 100), seconds)
    renderer = sim.renderer

    def rgbd_seg(mode: str):
        def fn():
            renderer.seg_mode = mode
            sim.render("agent", depth=True, seg=True, size=(224, 224))

        return fn

    # timed in turns, so that the ratios hold on a shared machine
    fps = rates_interleaved(
        {
            "RGB 224² fps": lambda: sim.render("agent", depth=False, size=(224, 224)),
            "RGB-D+seg 224² fps": rgbd_seg("split"),
            "RGB-D+seg 224² fps, two-pass seg (before)": rgbd_seg("two_pass"),
        },
        3 * seconds,
    )
    renderer.seg_mode = "split"
    row.update(fps)
    row["RGB-D+seg / RGB (target ≥ 0.85)"] = fps["RGB-D+seg 224² fps"] / fps["RGB 224² fps"]
    row["RGB 640×480 fps"] = rate(lambda: sim.render("agent", depth=False, size=(640, 480)), seconds)
    row["reset (new scene)/s"] = rate(lambda: sim.reset_scene(np.random.default_rng(1), cfg), seconds)
    sim.close()

    env_id = f"roboref/Refer-{'UR5e' if robot == 'ur5e' else 'G1'}-v0"
    for label, kwargs in (("", {}), (", settle_rest_speed=0.005", {"settle_rest_speed": 0.005})):
        env = gym.make(env_id, num_objects=(n_objects, n_objects), **kwargs)
        env.reset(seed=0)
        seeds = iter(range(1, 10**9))

        def episode(env=env, seeds=seeds):
            env.reset(seed=next(seeds))
            env.step(env.action_space.sample())

        row[f"env steps/s (reset+step){label}"] = rate(episode, seconds)
        env.close()
    row.update(bench_randomization(env_id, n_objects, seconds))
    return row


def bench_randomization(env_id: str, n_objects: int, seconds: float, seeds: int = 4) -> dict[str, float]:
    """RGB-D (and +seg) 224² fps of randomized scenes, timed in turns with the same seeds'
    un-randomized scenes (so the ratio holds under load), and the randomized env's episode rate."""
    row: dict[str, float] = {}
    plain = gym.make(env_id, num_objects=(n_objects, n_objects))
    for preset in ("light", "strong"):
        env = gym.make(env_id, num_objects=(n_objects, n_objects), randomization=preset)
        times: dict[str, list[float]] = {}
        for seed in range(seeds):
            plain.reset(seed=seed)
            env.reset(seed=seed)
            fns = {}
            for name, e in (("none", plain), (preset, env)):
                sim = e.unwrapped.sim
                fns[f"RGB-D 224² fps, {name}"] = lambda sim=sim: sim.render("agent", depth=True, size=(224, 224))
                fns[f"RGB-D+seg 224² fps, {name}"] = lambda sim=sim: sim.render("agent", seg=True, size=(224, 224))
            for k, v in rates_interleaved(fns, 2 * seconds / seeds).items():
                times.setdefault(k, []).append(1.0 / v)
        fps = {k: len(v) / sum(v) for k, v in times.items()}  # frames over total time, all seeds
        for kind in ("RGB-D", "RGB-D+seg"):
            row[f"{kind} 224² fps, randomization={preset}"] = fps[f"{kind} 224² fps, {preset}"]
            row[f"{kind} 224² randomization={preset} / none (same seeds, in turns)"] = (
                fps[f"{kind} 224² fps, {preset}"] / fps[f"{kind} 224² fps, none"]
            )
        seed_iter = iter(range(1, 10**9))

        def episode(env=env, seed_iter=seed_iter):
            env.reset(seed=next(seed_iter))
            env.step(env.action_space.sample())

        row[f"env steps/s (reset+step), randomization={preset}"] = rate(episode, seconds)
        env.close()
    plain.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", nargs="+", default=["ur5e", "g1"])
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows = {r: bench_robot(r, args.objects, args.seconds) for r in args.robots}
    metrics = list(next(iter(rows.values())))
    load = os.getloadavg()
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, mujoco {mujoco.__version__}, "
        f"{args.objects} objects"
    )
    print("(randomization rows: mean over 4 seeds' scenes; `/ none` timed in turns with the same scenes unrandomized)")
    print("| metric | " + " | ".join(rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for m in metrics:
        print(
            f"| {m} | "
            + " | ".join(f"{rows[r][m]:,.2f}" if rows[r][m] < 10 else f"{rows[r][m]:,.0f}" for r in rows)
            + " |"
        )


if __name__ == "__main__":
    main()
