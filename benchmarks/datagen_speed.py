"""Speed of ``roboref datagen``: samples/s per worker at 224² and 640×480, and where the time goes.

Run: ``python benchmarks/datagen_speed.py [--robots ur5e] [--samples 128] [--workers 1 2]``.
Prints two Markdown tables; copy them into benchmarks/README.md with the machine they ran on.

- *per worker*: one process generating shards with a warm env (what each worker does in steady
  state), PNG encoding and the parquet write included; the breakdown comes from cProfile, so its
  shares are of a profiled (a little slower) run.
- *end to end*: the whole command (``generate``), process start, env creation, manifest included.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import resource
import tempfile
import time
from pathlib import Path

import mujoco

from roboref.cli import compose
from roboref.datagen import generate, parse_config, write_shard
from roboref.datarows import features
from roboref.workers import Worker, make_shard

SIZES = {"224²": (224, 224), "640×480": (640, 480)}
#: Functions whose cumulative time is reported, by the name cProfile knows them by.
PARTS = {
    "scene (sample + settle)": "reset_scene",
    "render (RGB-D + seg)": "render",
    "task engine": "sample_task",
    "PNG encode": "png_bytes",
    "parquet write": "write_shard",
}


def config(out: Path, robot: str, size: tuple[int, int], n: int, workers: int, shard: int = 32):
    overrides = [f"out={out}", f"num_samples={n}", f"robot={robot}", f"workers={workers}"]
    overrides += [f"image_size=[{size[0]},{size[1]}]", f"shard_size={shard}", "progress=false"]
    return parse_config(compose("datagen", overrides))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker processes), in seconds."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def per_worker(robot: str, size: tuple[int, int], n: int, tmp: Path) -> tuple[float, float, dict[str, float]]:
    """Samples per wall second and per CPU second of one warm worker, and ms per sample of each
    part (profiled run)."""
    cfg = config(tmp / "w", robot, size, 10 * n, 1)
    schema = features().arrow_schema
    (cfg.out / "data").mkdir(parents=True, exist_ok=True)
    with Worker() as worker:
        make_shard(cfg.job(0), worker)  # warm-up: env creation, mesh cache, first renders
        t0, c0 = time.perf_counter(), cpu_seconds()
        done = 0
        shard = 1
        while done < n:
            done += len(write_and_count(cfg, make_shard(cfg.job(shard), worker), schema))
            shard += 1
        rate, cpu_rate = done / (time.perf_counter() - t0), done / (cpu_seconds() - c0)
        prof = cProfile.Profile()
        prof.enable()
        done = 0
        while done < n:
            done += len(write_and_count(cfg, make_shard(cfg.job(shard), worker), schema))
            shard += 1
        prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = sum(v[2] for v in stats.values())
    parts = {"total": 1000 * total / done}
    for label, name in PARTS.items():
        ct = max((v[3] for k, v in stats.items() if k[2] == name), default=0.0)
        parts[label] = 1000 * ct / done
    return rate, cpu_rate, parts


def write_and_count(cfg, result, schema) -> list:
    write_shard(cfg, result, schema)
    return result.rows


def end_to_end(robot: str, size: tuple[int, int], n: int, workers: int, tmp: Path) -> tuple[float, float]:
    """Samples per wall second and per CPU second (all processes) of a whole ``generate``."""
    cfg = config(tmp / f"e2e-{workers}-{size[0]}", robot, size, n, workers)
    t0, c0 = time.perf_counter(), cpu_seconds()
    generate(cfg)
    return n / (time.perf_counter() - t0), n / (cpu_seconds() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", nargs="+", default=["ur5e"])
    parser.add_argument("--samples", type=int, default=128, help="samples per per-worker measurement")
    parser.add_argument("--e2e-samples", type=int, default=256, help="samples per end-to-end run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(
        f"# {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}, "
        f"mujoco {mujoco.__version__}, {os.cpu_count()} CPUs, load average before "
        f"{os.getloadavg()[0]:.2f} (other processes share the CPUs: compare on a quiet machine)\n"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = {}
        for robot in args.robots:
            for label, size in SIZES.items():
                rows[(robot, label)] = per_worker(robot, size, args.samples, tmp)
        head = list(next(iter(rows.values()))[2])
        print(
            "| robot | image | samples/s per worker | samples per CPU-s | " + " | ".join(f"{h} ms" for h in head) + " |"
        )
        print("|---|---|---:|---:|" + "---:|" * len(head))
        for (robot, label), (rate, cpu_rate, parts) in rows.items():
            cells = " | ".join(f"{parts[h]:.1f}" for h in head)
            print(f"| {robot} | {label} | {rate:.1f} | {cpu_rate:.1f} | {cells} |")
        print()
        print("| robot | image | workers | samples/s (total) | samples/s per worker | samples per CPU-s |")
        print("|---|---|---:|---:|---:|---:|")
        for robot in args.robots:
            for label, size in SIZES.items():
                for w in args.workers:
                    rate, cpu_rate = end_to_end(robot, size, args.e2e_samples, w, tmp)
                    print(
                        f"| {robot} | {label} | {w} | {rate:.1f} | {rate / w:.1f} | {cpu_rate:.1f} |",
                        flush=True,
                    )
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
