"""Episodes per second of the evaluation harness: pointing only (``roboref eval``, the default
suite: 4 segments x 2 robots, so ``--episodes 50`` is 400 episodes) and with the UR5e controller
executing each point (``roboref coeval``), with 1 and 2 local workers, and 2 workers' speed-up.

Run: ``python benchmarks/eval_speed.py [--episodes 50] [--agents random refpoint]``. Each run is the
``roboref`` command in a new process and a temp folder, timed from start to exit, as a user runs
it: the process imports, the workers spawn, compile their envs, load the agent and warm up inside
the measured time, with 1 worker as with 2 (timing ``cli.main`` inside this process instead would
give the 1-worker run this process's imports for free). Needs both cores to itself to show the
speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: ``roboref ARGS`` with this interpreter (the console script's entry point, ``main()``).
COMMAND = [sys.executable, "-c", "import sys; from roboref.cli import main; sys.exit(main())"]


def timed(args: list[str]) -> float:
    """Wall seconds of ``roboref *args`` in a new process, start to exit."""
    t0 = time.perf_counter()
    done = subprocess.run(COMMAND + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: roboref {' '.join(args)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50, help="pointing episodes per segment and robot")
    parser.add_argument("--agents", nargs="+", default=["random", "refpoint"], help="agents of the pointing rows")
    parser.add_argument("--executions", type=int, default=6, help="coeval episodes per kind (0: none)")
    args = parser.parse_args()
    rows = []
    for agent in args.agents:
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as d:
                n = 8 * args.episodes  # the default suite: 4 segments x 2 robots
                s = timed(
                    [
                        "eval",
                        f"agent={agent}",
                        "suite=default",
                        f"episodes={args.episodes}",
                        "chunk=10",
                        f"workers={workers}",
                        "plots=false",
                        f"out={Path(d) / 'e'}",
                    ]
                )
                rows.append((f"pointing only ({agent} agent), {workers} worker(s)", n, s))
    for workers in (1, 2) if args.executions else ():
        with tempfile.TemporaryDirectory() as d:
            m = timed(
                [
                    "coeval",
                    "agents=[oracle]",
                    "executors=[controller]",
                    "robots=[ur5e]",
                    "chunk=1",
                    f"episodes={args.executions}",
                    f"workers={workers}",
                    f"out={Path(d) / 'c'}",
                ]
            )
            k = 2 * args.executions
            ok = json.loads((Path(d) / "c" / "coeval.json").read_text())["ur5e"]
            rate = sum(ok[kind]["oracle"]["controller"]["rate"] for kind in ok) / len(ok)
            rows.append((f"with execution (oracle + UR5e controller, success {rate:.0%}), {workers} worker(s)", k, m))
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| run | episodes | seconds | episodes/s | vs 1 worker |\n|---|---:|---:|---:|---:|")
    one = 0.0
    for name, n, s in rows:
        one = n / s if "1 worker" in name else one
        print(f"| {name} | {n} | {s:.1f} | {n / s:.2f} | {n / s / one:.2f}x |")


if __name__ == "__main__":
    main()
