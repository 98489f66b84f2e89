"""What the task engine generates: counts per relation × kind and per step count, and its speed.

Run: ``python benchmarks/task_distribution.py [--samples 300] [--robot ur5e] [--split all]``.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim
from roboref.envs.tasks import RELATIONS, TaskConfig, sample_task
from roboref.envs.tasks.view import SceneView


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--robot", default="ur5e")
    parser.add_argument("--split", default="all")
    args = parser.parse_args()
    sim = Sim(args.robot)
    scene_cfg, task_cfg = SceneConfig(robot=args.robot), TaskConfig(split=args.split)
    by_rel: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    by_steps: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    engine_s, scenes, made = 0.0, 0, 0
    seed = 0
    while made < args.samples:
        rng = np.random.default_rng(seed)
        seed += 1
        scene = sim.reset_scene(rng, scene_cfg)
        frame = sim.render(seg=True)
        K, T = sim.camera_pose()
        t0 = time.perf_counter()
        view = SceneView(scene, frame.seg, frame.depth, K, T, scene_cfg.placement_area)
        task = sample_task(rng, view, task_cfg)
        engine_s += time.perf_counter() - t0
        scenes += 1
        if task is None:
            continue
        made += 1
        by_steps[task.kind][task.num_steps] += 1
        for r in set(task.relations) or {"(filter only)"}:
            by_rel[r][task.kind] += 1
    print(
        f"{made} tasks from {scenes} scenes ({args.robot}, split={args.split}); "
        f"engine {1000 * engine_s / scenes:.1f} ms per scene (view + program)"
    )
    print("\n| relation | group | location | placement |\n|---|---|---:|---:|")
    for name in [*RELATIONS, "(filter only)"]:
        group = RELATIONS[name].group if name in RELATIONS else "-"
        c = by_rel.get(name, collections.Counter())
        print(f"| {name} | {group} | {c['location']} | {c['placement']} |")
    print("\n| steps | location | placement |\n|---:|---:|---:|")
    for n in range(1, 6):
        print(f"| {n} | {by_steps['location'][n]} | {by_steps['placement'][n]} |")


if __name__ == "__main__":
    main()
