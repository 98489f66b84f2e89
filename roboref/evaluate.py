"""``roboref eval``: score an agent on a suite of seeded pointing episodes.

A suite (``configs/suite/*.yaml``, or any YAML file via ``suite_file=``) lists segments, each an
env configuration and an episode count, run for each robot. Episode ``i`` of segment ``k`` uses
seed ``seeds.suite_seed(seed_base, k, i)`` = ``seed_base + 100000·k + i``, so the same suite gives
the same episodes whether run with one worker or many. Each finished episode is appended to
``DIR/results.jsonl`` (one JSON line, flushed and fsynced); a rerun skips episodes already there.
``summary.json`` and ``summary.md`` are rewritten atomically at the end.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from roboref.io import write_json_atomic, write_text_atomic
from roboref.parallel import parallel_map
from roboref.seeds import suite_seed

ENV_IDS = {"ur5e": "roboref/Refer-UR5e-v0", "g1": "roboref/Refer-G1-v0"}


@dataclass(frozen=True)
class EvalJob:
    """A batch of episodes of one segment and robot, run by one worker with one env."""

    agent: str
    agent_seed: int
    robot: str
    segment: str
    env_kwargs_json: str
    episodes: tuple[tuple[int, int], ...]  # (index, seed)
    timeout_s: float = 60.0


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate (good at small n and near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(a: list[bool], b: list[bool], z: float = 1.96) -> tuple[float, float, float]:
    """``b``'s success rate minus ``a``'s on the *same* episodes, with a 95 % interval.

    Paired, because two agents scored on identical seeds share every episode's difficulty: the
    interval of the difference is much narrower than the two Wilson intervals side by side. It
    is Agresti & Min's (2005) adjusted Wald interval for matched proportions: with ``n12`` the
    episodes only ``a`` solved and ``n21`` those only ``b`` solved, each cell of the 2×2 table
    gets +0.5, ``d = (n21 - n12) / n`` and ``var = ((n12 + n21) - (n21 - n12)² / n) / n²``.
    Returns the observed difference and the interval: ``(d, low, high)``.
    """
    if len(a) != len(b):
        raise ValueError(f"paired_difference needs equally long lists, got {len(a)} and {len(b)}")
    if not a:
        raise ValueError("paired_difference needs at least one episode")
    n = len(a)
    n12 = sum(x and not y for x, y in zip(a, b, strict=True))
    n21 = sum(y and not x for x, y in zip(a, b, strict=True))
    m, p12, p21 = n + 2.0, n12 + 0.5, n21 + 0.5
    d_adj = (p21 - p12) / m
    half = z * math.sqrt(max((p12 + p21) - (p21 - p12) ** 2 / m, 0.0)) / m
    return (n21 - n12) / n, max(-1.0, d_adj - half), min(1.0, d_adj + half)


@functools.lru_cache(maxsize=2)
def _env_and_agent(robot: str, env_kwargs_json: str, agent: str, agent_seed: int):
    import gymnasium as gym

    import roboref.envs  # noqa: F401
    from roboref.agents import make_agent

    env = gym.make(ENV_IDS[robot], **json.loads(env_kwargs_json))
    return env, make_agent(agent, env=env, seed=agent_seed)


class AgentTimeout(Exception):
    pass


def _act(agent, obs: dict, timeout_s: float):
    """``agent.act(obs)`` with a wall-clock limit (SIGALRM; worker main threads only)."""
    import signal
    import threading

    if timeout_s <= 0 or threading.current_thread() is not threading.main_thread():
        return agent.act(obs)

    def alarm(signum, frame):
        raise AgentTimeout(f"agent took longer than {timeout_s:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return agent.act(obs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_job(job: EvalJob) -> list[dict]:
    """Run a job's episodes (in a worker process or inline); one record per episode. An agent
    that raises, times out or answers NaN fails that episode, with the reason; the run goes on."""
    from roboref.agents.base import AgentOutput
    from roboref.rewards.format import parse_answer
    from roboref.rewards.point import validate_point

    env, agent = _env_and_agent(job.robot, job.env_kwargs_json, job.agent, job.agent_seed)
    records = []
    for index, seed in job.episodes:
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=seed)
        task = env.unwrapped.task
        record: dict[str, Any] = {
            "key": f"{job.segment}/{job.robot}/{index}",
            "segment": job.segment,
            "robot": job.robot,
            "index": index,
            "seed": seed,
            "agent": job.agent,
            "instruction": task.instruction,
            "kind": task.kind,
            "num_steps": task.num_steps,
            "relations": list(task.relations),
            "program": task.program,
            "mask_fraction": float(task.mask.mean()),
        }
        try:
            if hasattr(agent, "reset"):
                agent.reset(seed=seed)
            out = _act(agent, obs, job.timeout_s)
            text, point = out.text, out.point
            error = ""
        except Exception as err:  # noqa: BLE001 - any agent failure is this episode's failure
            text, point, error = "", None, f"agent error: {type(err).__name__}: {err}"
        record["text"] = text
        valid, why = validate_point(point) if point is not None else (None, "")
        if valid is None:
            reason = error or why or (parse_answer(text).reason if text else "no answer")
            record.update(point=None, parsed=False, parse_reason=reason, success=False, reward=0.0, reward_terms={})
        else:
            # the whole answer reaches the reward, so its format and process terms score the
            # agent's text and reasoning steps, not just the point
            answer = AgentOutput(point=(float(valid[0]), float(valid[1])), text=text, steps=tuple(out.steps))
            _, reward, _, _, info = env.step(answer)
            record.update(
                point=[float(v) for v in valid],
                parsed=True,
                parse_reason="ok",
                success=bool(info["success"]),
                reward=float(reward),
                reward_terms=info["reward_terms"],
            )
        record["wall_time"] = round(time.perf_counter() - t0, 4)
        records.append(record)
    return records


def _segments(cfg: DictConfig) -> tuple[dict, list[dict]]:
    suite = OmegaConf.to_container(OmegaConf.load(cfg.suite_file) if cfg.get("suite_file") else cfg.suite, resolve=True)
    for key in ("name", "segments", "robots"):
        if key not in suite:
            raise ValueError(f"suite must define '{key}' (name, seed_base, robots, segments)")
    bad = [r for r in suite["robots"] if r not in ENV_IDS]
    if bad:
        raise ValueError(f"unknown robot(s) {bad} in suite; known robots: {', '.join(ENV_IDS)}")
    return suite, suite["segments"]


def read_results(path: Path) -> list[dict]:
    """Records of a JSON-lines results file, first record per key. A half-written last line (a
    killed run) is dropped; any other unreadable line is skipped with a warning naming the file,
    and a repeated key is counted once: never silent double counting."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    out, seen, bad = [], set(), 0
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad += i < len(lines) - 1  # the last line may just be cut off
            continue
        key = (rec.get("key"), rec.get("agent"), rec.get("executor"))
        if key[0] is not None and key in seen:
            continue
        seen.add(key)
        out.append(rec)
    if bad:
        import warnings

        warnings.warn(f"{path}: skipped {bad} corrupt line(s); those episodes run again", stacklevel=2)
    return out


def run(cfg: DictConfig) -> int:
    from roboref.agents import check_agent_name

    check_agent_name(cfg.agent)
    workers = int(cfg.workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cfg.get("bench_dir"):
        return run_bench(cfg)
    suite, segments = _segments(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    done = {r["key"] for r in read_results(results_path) if r.get("agent") == cfg.agent}
    _repair_tail(results_path)
    jobs, total = [], 0
    for k, seg in enumerate(segments):
        count = int(cfg.episodes) if cfg.get("episodes") else int(seg.get("episodes", 50))
        env_kwargs = {"image_size": list(cfg.image_size), "reward": cfg.reward, **seg.get("env", {})}
        for robot in suite["robots"]:
            todo = [
                (i, suite_seed(suite.get("seed_base"), k, i))
                for i in range(count)
                if f"{seg['name']}/{robot}/{i}" not in done
            ]
            total += count
            for start in range(0, len(todo), int(cfg.chunk)):
                jobs.append(
                    EvalJob(
                        cfg.agent,
                        int(cfg.seed),
                        robot,
                        seg["name"],
                        json.dumps(env_kwargs, sort_keys=True),
                        tuple(todo[start : start + int(cfg.chunk)]),
                        float(cfg.get("agent_timeout_s", 60.0)),
                    )
                )
    remaining = sum(len(j.episodes) for j in jobs)
    print(
        f"eval {cfg.agent} on suite {suite['name']}: {total} episodes, {total - remaining} already done, "
        f"{remaining} to run with {workers} worker(s)",
        flush=True,
    )
    _progress_run(jobs, results_path, remaining, workers, cfg.ray.address, out)
    records = [r for r in read_results(results_path) if r.get("agent") == cfg.agent]
    summary = summarize(records, suite["name"], cfg.agent)
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.md", markdown_table(summary))
    print(markdown_table(summary))
    if cfg.get("plots", True):
        from roboref.plots import failure_video, plot_summary

        plot_summary(summary, out)
        if int(cfg.get("failure_videos", 0)) > 0:
            seg_env = {
                seg["name"]: {"image_size": list(cfg.image_size), "reward": cfg.reward, **seg.get("env", {})}
                for seg in segments
            }
            failure_video(records, seg_env, out / "failures.mp4", limit=int(cfg.failure_videos))
    return 0


def run_bench(cfg: DictConfig) -> int:
    """Score an agent on RefSpatial-Bench from disk (``bench_dir=…``, ``bench_split=…``)."""
    from roboref.agents import make_agent
    from roboref.refspatial import evaluate_agent, load_split

    if cfg.agent == "oracle":
        raise ValueError("the oracle needs the simulator's ground truth; it cannot run on RefSpatial-Bench")
    splits = [cfg.bench_split] if cfg.get("bench_split") else ["location", "placement", "unseen"]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    _repair_tail(results_path)
    done = {r["key"] for r in read_results(results_path) if r.get("agent") == cfg.agent}
    agent = make_agent(cfg.agent, env=None, seed=int(cfg.seed))
    with open(results_path, "a") as fh:
        for split in splits:
            entries = [e for e in load_split(cfg.bench_dir, split) if f"refspatial/{split}/{e.id}" not in done]
            for rec in evaluate_agent(agent, entries):
                rec["agent"] = cfg.agent
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            os.fsync(fh.fileno())
    records = [r for r in read_results(results_path) if r.get("agent") == cfg.agent]
    summary = summarize(records, "refspatial-bench", cfg.agent)
    summary["mean_score"] = {
        seg: sum(r["score"] for r in records if r["segment"] == seg) / max(1, sum(r["segment"] == seg for r in records))
        for seg in sorted({r["segment"] for r in records})
    }
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.md", markdown_table(summary))
    print(markdown_table(summary))
    print("mean score (fraction of points inside the mask):", json.dumps(summary["mean_score"]))
    return 0


def _repair_tail(path: Path) -> None:
    """Drop a half-written last line so appends start on a fresh line."""
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        lines = path.read_bytes().split(b"\n")
        write_text_atomic(path, (b"\n".join(lines[:-1]) + b"\n").decode() if len(lines) > 1 else "")


def _progress_run(jobs, results_path: Path, remaining: int, workers: int, ray_address, out: Path) -> None:
    from tqdm import tqdm

    with open(results_path, "a") as fh, tqdm(total=remaining, desc="episodes", unit="ep") as bar:
        for records in parallel_map(run_job, jobs, workers, ray_address, out / ".ray"):
            for rec in records:
                fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(records))


@dataclass
class Rate:
    n: int
    successes: int
    rate: float
    ci95: tuple[float, float]


def _rate(records: list[dict]) -> dict:
    n = len(records)
    s = sum(bool(r["success"]) for r in records)
    return asdict(Rate(n, s, s / n if n else 0.0, wilson(s, n)))


def summarize(records: list[dict], suite: str, agent: str) -> dict:
    """Success (point inside the mask; unparseable answers count as failures and are reported
    apart), mean reward terms, and breakdowns by segment, robot, relation and step count."""
    by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by["segment"][r["segment"]].append(r)
        by["robot"][r["robot"]].append(r)
        by["segment_robot"][f"{r['segment']}/{r['robot']}"].append(r)
        by["num_steps"][str(r["num_steps"])].append(r)
        by["kind"][r["kind"]].append(r)
        for rel in set(r["relations"]) or {"(filter only)"}:
            by["relation"][rel].append(r)
    terms: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for k, v in r.get("reward_terms", {}).items():
            terms[k].append(v)
    return {
        "suite": suite,
        "agent": agent,
        "overall": _rate(records),
        "unparseable": sum(not r["parsed"] for r in records),
        "agent_errors": sum(str(r.get("parse_reason", "")).startswith("agent err") for r in records),
        "mean_mask_fraction": sum(r.get("mask_fraction", 0.0) for r in records) / len(records) if records else 0.0,
        "mean_reward": sum(r["reward"] for r in records) / len(records) if records else 0.0,
        "mean_reward_terms": {k: sum(v) / len(v) for k, v in sorted(terms.items())},
        **{name: {k: _rate(v) for k, v in sorted(groups.items())} for name, groups in by.items()},
    }


def _fmt(rate: dict) -> str:
    lo, hi = rate["ci95"]
    return f"{100 * rate['rate']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] (n={rate['n']})"


def markdown_table(summary: dict) -> str:
    lines = [
        f"## {summary['agent']} on {summary['suite']}",
        "",
        f"Pointing success {_fmt(summary['overall'])}, unparseable answers: {summary['unparseable']}, "
        f"mean reward {summary['mean_reward']:.3f}",
        "",
        "| segment / robot | success % [95 % CI] |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in summary.get("segment_robot", {}).items()]
    lines += ["", "| steps | success % [95 % CI] |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in summary.get("num_steps", {}).items()]
    lines += ["", "| relation | success % [95 % CI] |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in summary.get("relation", {}).items()]
    return "\n".join(lines) + "\n"


def report(cfg: DictConfig) -> int:
    """``roboref report dirs=[A,B,...]``: several results side by side (Markdown)."""
    dirs = [Path(d) for d in cfg.dirs]
    if not dirs:
        raise ValueError("report needs dirs=[DIR1,DIR2,...] of eval results")
    summaries = []
    for d in dirs:
        path = d / "summary.json"
        if not path.exists():
            raise ValueError(f"{path} not found: run `roboref eval ... out={d}` first")
        summaries.append(json.loads(path.read_text()))
    keys = sorted({k for s in summaries for k in s.get("segment_robot", {})})
    names = [f"{s['agent']} ({d.name})" for s, d in zip(summaries, dirs, strict=True)]
    head = "| | " + " | ".join(names) + " |"
    lines = [head, "|---|" + "---|" * len(summaries)]
    lines.append("| overall | " + " | ".join(_fmt(s["overall"]) for s in summaries) + " |")
    lines.append("| unparseable | " + " | ".join(str(s["unparseable"]) for s in summaries) + " |")
    for k in keys:
        cells = [_fmt(s["segment_robot"][k]) if k in s.get("segment_robot", {}) else "-" for s in summaries]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    if len(dirs) > 1:
        lines += ["", *paired_table(dirs, summaries, names)]
    text = "\n".join(lines) + "\n"
    print(text)
    if cfg.get("out"):
        from roboref.plots import plot_comparison

        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(cfg.out) / "report.md", text)
        plot_comparison(summaries, names, Path(cfg.out) / "comparison.png")
    return 0


def paired_table(dirs: list[Path], summaries: list[dict], names: list[str]) -> list[str]:
    """Markdown rows: each run's success minus the first run's, per segment and overall, on the
    episodes both ran (matched by key), with the paired 95 % interval of ``paired_difference``."""
    runs = []
    for d, s in zip(dirs, summaries, strict=True):
        recs = [r for r in read_results(d / "results.jsonl") if r.get("agent") == s["agent"]]
        runs.append({r["key"]: r for r in recs})
    base = runs[0]
    segments = sorted({r["segment"] for r in base.values()})
    lines = [
        f"Paired difference to {names[0]} in points, on the episodes both ran [95 % CI] (n):",
        "",
        "| | " + " | ".join(names[1:]) + " |",
        "|---|" + "---|" * (len(runs) - 1),
    ]
    for seg in [None, *segments]:
        cells = []
        for other in runs[1:]:
            keys = sorted(k for k in base if k in other and (seg is None or base[k]["segment"] == seg))
            if not keys:
                cells.append("-")
                continue
            d, lo, hi = paired_difference(
                [bool(base[k]["success"]) for k in keys], [bool(other[k]["success"]) for k in keys]
            )
            cells.append(f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] (n={len(keys)})")
        lines.append(f"| {seg or 'overall'} | " + " | ".join(cells) + " |")
    return lines
