"""Episodes per second of the evaluation harness: pointing only (``roboref eval``) and with the
UR5e controller executing each point (``roboref coeval``), with 1 and 2 local workers.

Run: ``python benchmarks/eval_speed.py [--episodes 40]``. Each run starts fresh in a temp folder
(workers spawn, compile their env and warm up inside the measured time, as a user's run does).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from roboref.cli import main as cli


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    if cli(args) != 0:
        raise SystemExit(f"failed: {args}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40, help="pointing episodes per segment")
    parser.add_argument("--executions", type=int, default=6, help="coeval episodes per kind")
    args = parser.parse_args()
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            n = 2 * args.episodes  # the smoke suite: location + placement
            s = timed(
                [
                    "eval",
                    "agent=random",
                    "suite=smoke",
                    f"episodes={args.episodes}",
                    "chunk=10",
                    f"workers={workers}",
                    "plots=false",
                    f"out={Path(d) / 'e'}",
                ]
            )
            rows.append((f"pointing only (random agent), {workers} worker(s)", n, s))
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
    print("| run | episodes | seconds | episodes/s |\n|---|---:|---:|---:|")
    for name, n, s in rows:
        print(f"| {name} | {n} | {s:.1f} | {n / s:.2f} |")


if __name__ == "__main__":
    main()
