"""Why eval scales (or not) with workers: each suspect of issue 20 measured on its own.

Run: ``python benchmarks/eval_scaling.py [--episodes 40]``. Prints one table: the fixed costs
(worker start, env make, agent load, a results write) and the steady-state CPU seconds per
episode inside the workers of a 2-worker pool, with the thread pools shared out (now) and with
every library's default of a thread per core in each worker (before). CPU seconds do not
depend on what else runs on the machine; wall seconds do.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roboref.parallel import THREAD_VARS

SMOKE_ENV = json.dumps(
    {"image_size": [224, 224], "reward": "default", "kinds": ["location"], "num_steps": [1, 3]}, sort_keys=True
)


def _cpu() -> float:
    return time.process_time()


def timed_job(job, worker) -> dict:
    """``run_job`` with this process's CPU time and thread-pool sizes."""
    from roboref.evaluate import run_job

    c, w = _cpu(), time.perf_counter()
    n = len(run_job(job, worker))
    torch = sys.modules.get("torch")
    return {
        "pid": os.getpid(),
        "n": n,
        "cpu": _cpu() - c,
        "wall": time.perf_counter() - w,
        "torch_threads": torch.get_num_threads() if torch else None,
        "lp": os.environ.get("LP_NUM_THREADS"),
    }


def steady_cpu_per_episode(agent: str, episodes: int, workers: int, chunk: int = 5) -> tuple[float, float, dict]:
    """CPU and wall seconds per episode in the workers, each worker's first job (its start-up) left out."""
    from roboref.evaluate import EvalJob
    from roboref.parallel import parallel_map
    from roboref.workers import Worker

    eps = [(i, 2_000_000 + i) for i in range(episodes)]
    jobs = [
        EvalJob(agent, 0, "ur5e", "location", SMOKE_ENV, tuple(eps[s : s + chunk])) for s in range(0, episodes, chunk)
    ]
    out = list(parallel_map(timed_job, jobs, workers, state=Worker))
    first = {}
    for o in out:
        first.setdefault(o["pid"], o)
    rest = [o for o in out if first[o["pid"]] is not o]
    n = sum(o["n"] for o in rest)
    return sum(o["cpu"] for o in rest) / n, sum(o["wall"] for o in rest) / n, out[-1]


def child(mode: str) -> None:
    """One measurement in a fresh process (so imports are cold); prints JSON."""
    if mode == "start":
        from roboref.parallel import parallel_map
        from roboref.workers import Worker

        t = time.perf_counter()
        list(parallel_map(_noop, [0, 1], 2, state=Worker))
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({"wall": time.perf_counter() - t, "cpu": (ch.ru_utime + ch.ru_stime) / 2}))
    elif mode.startswith("env:"):
        import gymnasium as gym

        import roboref.envs  # noqa: F401

        rows = {}
        for k in ("first", "second"):
            c, t = _cpu(), time.perf_counter()
            env = gym.make(mode[4:], image_size=[224, 224])
            env.reset(seed=0)
            rows[k] = {"wall": time.perf_counter() - t, "cpu": _cpu() - c}
            env.close()
        print(json.dumps(rows))
    elif mode.startswith("agent:"):
        from roboref.agents import make_agent

        rows = {}
        for k in ("first", "second"):
            c, t = _cpu(), time.perf_counter()
            make_agent(mode[6:], seed=0)
            rows[k] = {"wall": time.perf_counter() - t, "cpu": _cpu() - c}
        print(json.dumps(rows))
    elif mode.startswith("steady:"):
        _, agent, workers, episodes = mode.split(":")
        cpu, wall, last = steady_cpu_per_episode(agent, int(episodes), int(workers))
        print(json.dumps({**last, "cpu": cpu, "wall": wall}))


def _noop(x: int, worker) -> int:
    return x


def run_child(mode: str, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", mode]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def results_write(records: int = 10, repeats: int = 20) -> float:
    """Seconds to append one job's records to results.jsonl (flushed and fsynced)."""
    from roboref.results import append_records

    rec = {"key": "location/ur5e/0", "text": "x" * 200, "reward_terms": {"a": 0.5, "b": 0.25}}
    with tempfile.TemporaryDirectory() as d, open(Path(d) / "r.jsonl", "a") as fh:
        t = time.perf_counter()
        for _ in range(repeats):
            append_records(fh, [rec] * records)
        return (time.perf_counter() - t) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40, help="episodes per steady-state row")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    rows = []
    s = run_child("start")
    rows.append(("spawn 2 workers (imports, no env), per worker", s["wall"], s["cpu"]))
    for robot, env_id in (("UR5e", "roboref/Refer-UR5e-v0"), ("G1", "roboref/Refer-G1-v0")):
        e = run_child(f"env:{env_id}")
        rows.append((f"make env {robot} + first reset (compile, renderer, EGL context), cold", *e["first"].values()))
        rows.append((f"make env {robot} + first reset, again in the same process", *e["second"].values()))
    a = run_child("agent:refpoint")
    rows.append(("load RefPoint agent, cold (torch + text encoder imports)", *a["first"].values()))
    rows.append(("load RefPoint agent again (a worker's env switch)", *a["second"].values()))
    rows.append(("results.jsonl append of a 10-episode job (fsync)", results_write(), float("nan")))
    default = {v: str(os.cpu_count() or 1) for v in THREAD_VARS}
    for agent in ("random", "refpoint"):
        for workers, env, label in (
            (1, {}, "1 worker (inline)"),
            (2, default, "2 workers, a thread per core each (before)"),
            (2, {}, "2 workers, cores shared out (now)"),
        ):
            r = run_child(f"steady:{agent}:{workers}:{args.episodes}", env)
            tt = f", torch threads {r['torch_threads']}" if r["torch_threads"] else ""
            rows.append((f"episode, {agent} agent, {label}: LP threads {r['lp']}{tt}", r["wall"], r["cpu"]))
    print(f"load average before/after: {os.getloadavg()[0]:.2f} (1 min)")
    print("| suspect | wall s | CPU s |\n|---|---:|---:|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
