"""Seconds to export one seeded episode to OpenUSD, per robot (median of several seeds), the file
size and the prim counts; the env reset before it is not counted.

Run: ``python benchmarks/usd_export.py [--seeds 5] [--format usd|usda]`` (needs ``roboref[usd]``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import gymnasium as gym

from roboref.envs import env_id
from roboref.envs.usd import export_episode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--format", default="usd", choices=["usd", "usda", "usdc"])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    head = ("robot", "export s (median)", "min", "max", "MB", "objects", "bodies", "joints")
    print(f"{head[0]:6} {head[1]:>18} " + " ".join(f"{h:>7}" for h in head[2:]))
    with tempfile.TemporaryDirectory() as tmp:
        for robot in ("ur5e", "g1"):
            env = gym.make(env_id("refer", robot))
            times, report = [], None
            for seed in range(args.seeds):
                env.reset(seed=seed)
                path = os.path.join(tmp, f"{robot}_{seed}.{args.format}")
                t0 = time.perf_counter()
                report = export_episode(env, path)
                times.append(time.perf_counter() - t0)
            env.close()
            size = os.path.getsize(report.path) / 1e6
            print(
                f"{robot:6} {statistics.median(times):18.3f} {min(times):7.3f} {max(times):7.3f} {size:7.2f} "
                f"{report.objects:7d} {report.robot_bodies:7d} {report.robot_joints:7d}"
            )


if __name__ == "__main__":
    main()
