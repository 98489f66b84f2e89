"""Pick and place success of the controllers with oracle points, per robot.

Run: ``python benchmarks/control_success.py [--scenes 200] [--robots ur5e g1] [--assisted]``.
For each seeded scene (4–15 objects, settled) the colour-and-category task sampler names an
object; the oracle pick point is the task's answer point, the oracle place point a free spot of
table within the arm's reach (``free_table_point`` in ``Controller.reach_area``). One
``pick_place`` action is executed with real contacts. Prints a Markdown table; wall times are
for ``Controller.execute`` alone (no rendering).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import Counter

import numpy as np

import roboref.envs  # noqa: F401
from roboref.envs.control import Action, free_table_point, make_controller
from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim
from roboref.envs.tasks import sample_color_category_task


def bench(robot: str, scenes: int, assisted: bool = False, verbose: bool = False) -> dict:
    sim = Sim(robot)
    ctl = make_controller(robot, assisted_grasp=assisted)
    cfg = SceneConfig(robot=robot)
    picks = places = graspable = reachable = tried = 0
    total_walls = []
    failures: Counter[str] = Counter()
    for seed in range(scenes):
        rng = np.random.default_rng(seed)
        scene = sim.reset_scene(rng, cfg, seed=seed)
        frame = sim.render("agent", seg=True)
        task = sample_color_category_task(rng, scene, frame.seg, frame.depth)
        if task is None:
            continue
        place = free_table_point(rng, sim, frame, exclude=task.target, area=ctl.reach_area)
        if place is None:
            continue
        tried += 1
        t0 = time.perf_counter()
        r = ctl.execute(sim, Action(pick=task.point, place=place), frame)
        total_walls.append(time.perf_counter() - t0)
        right = r.target_object == task.target
        ok_pick = r.grasped and r.lifted and right
        picks += ok_pick
        places += bool(r.success and right)
        graspable += r.failure != "not_graspable"
        reachable += r.failure not in ("not_graspable", "ik_failed")
        failures[r.failure or "ok"] += 1
        if verbose and not r.success:
            print(f"  seed {seed} {scene.objects[task.target].name}: {r.failure}: {r.message}")
    sim.close()
    return {
        "robot": robot,
        "assisted": assisted,
        "tasks": tried,
        "graspable": graspable,
        "reachable": reachable,
        "pick": picks,
        "place": places,
        "wall_pick_place": float(np.mean(total_walls)) if total_walls else float("nan"),
        "wall_p95": float(np.percentile(total_walls, 95)) if total_walls else float("nan"),
        "failures": dict(failures),
    }


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} % ({a}/{b})" if b else "n/a"


def table(rows: list[dict]) -> str:
    out = [
        "| robot | grasp | pick, all targets | pick, fits the hand | place in region, fits the hand | "
        "pick / place, fits and in reach | wall s per pick+place (mean, p95) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mode = "assisted" if r["assisted"] else "physical"
        out.append(
            f"| {r['robot']} | {mode} | {pct(r['pick'], r['tasks'])} | {pct(r['pick'], r['graspable'])} | "
            f"{pct(r['place'], r['graspable'])} | {pct(r['pick'], r['reachable'])} / "
            f"{pct(r['place'], r['reachable'])} | {r['wall_pick_place']:.2f}, {r['wall_p95']:.2f} |"
        )
    out.append("")
    for r in rows:
        fails = ", ".join(f"{k} {v}" for k, v in sorted(r["failures"].items(), key=lambda kv: -kv[1]))
        out.append(f"- {r['robot']} ({'assisted' if r['assisted'] else 'physical'}): {fails}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=200, help="seeded scenes per robot (default 200)")
    ap.add_argument("--robots", nargs="+", default=["ur5e", "g1"])
    ap.add_argument("--assisted", action="store_true", help="also run the G1 with assisted_grasp=True")
    ap.add_argument("--verbose", action="store_true", help="print each failure")
    args = ap.parse_args()
    rows = []
    for robot in args.robots:
        rows.append(bench(robot, args.scenes, verbose=args.verbose))
        if args.assisted and robot == "g1":
            rows.append(bench(robot, args.scenes, assisted=True, verbose=args.verbose))
    print(
        f"{args.scenes} seeded scenes per robot; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
