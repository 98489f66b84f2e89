"""Cost of mesh-built objects (``object_variants``): world compile, renders and resets, 10 objects.

Run: ``python benchmarks/object_variants_speed.py [--robot ur5e] [--objects 10] [--seconds 3]``.
Renders of the three modes are timed in turns on the same seeded scene layouts, so their ratios
hold on a shared machine. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import mujoco
import numpy as np
from _timing import rate, rates_interleaved

import roboref.envs  # noqa: F401
from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim

MODES = ("primitive", "mesh", "mixed")


def bench(robot: str, n_objects: int, seconds: float) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {m: {} for m in MODES}
    sims, cfgs = {}, {}
    for mode in MODES:
        t0 = time.perf_counter()
        sims[mode] = Sim(robot, n_slots=n_objects, object_meshes=mode != "primitive")
        rows[mode]["world compile (s)"] = time.perf_counter() - t0
        cfgs[mode] = SceneConfig(robot=robot, num_objects=(n_objects, n_objects), object_variants=mode)
        sims[mode].reset_scene(np.random.default_rng(0), cfgs[mode])
        t0 = time.perf_counter()
        sims[mode].render("agent", size=(224, 224))
        rows[mode]["first render, GL upload (s)"] = time.perf_counter() - t0
        model = sims[mode].model
        rows[mode]["meshes in the model"] = float(model.nmesh)
        shown = [g for k in range(n_objects) for g in sims[mode].world.slot_geoms[k]]
        faces = sum(
            int(model.mesh_facenum[model.geom_dataid[g]])
            for g in shown
            if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
        )
        rows[mode]["object mesh faces in view"] = float(faces)

    def fn(mode: str, **kw):
        return lambda: sims[mode].render("agent", size=(224, 224), **kw)

    rgb = rates_interleaved({m: fn(m, depth=False) for m in MODES}, 3 * seconds)
    rgbd_seg = rates_interleaved({m: fn(m, depth=True, seg=True) for m in MODES}, 3 * seconds)
    for m in MODES:
        rows[m]["RGB 224² fps"] = rgb[m]
        rows[m]["RGB-D+seg 224² fps"] = rgbd_seg[m]
        seeds = iter(range(1, 10**9))
        rows[m]["reset (new scene, settled)/s"] = rate(
            lambda m=m, seeds=seeds: sims[m].reset_scene(np.random.default_rng(next(seeds)), cfgs[m]), seconds
        )
        sims[m].close()
        env = gym.make(
            f"roboref/Refer-{'UR5e' if robot == 'ur5e' else 'G1'}-v0",
            num_objects=(n_objects, n_objects),
            object_variants=m,
        )
        env.reset(seed=0)
        seeds = iter(range(1, 10**9))

        def episode(env=env, seeds=seeds):
            env.reset(seed=next(seeds))
            env.step(env.action_space.sample())

        rows[m]["env steps/s (reset+step)"] = rate(episode, seconds)
        env.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robot", default="ur5e")
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows = bench(args.robot, args.objects, args.seconds)
    load = os.getloadavg()
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores, "
        f"mujoco {mujoco.__version__}, {args.robot}, {args.objects} objects"
    )
    print("| metric | " + " | ".join(f"object_variants={m}" for m in MODES) + " |")
    print("|---|" + "---:|" * len(MODES))
    for metric in rows[MODES[0]]:
        vals = [rows[m][metric] for m in MODES]
        print(f"| {metric} | " + " | ".join(f"{v:,.2f}" if v < 10 else f"{v:,.0f}" for v in vals) + " |")


if __name__ == "__main__":
    main()
