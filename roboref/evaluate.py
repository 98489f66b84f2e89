"""``roboref eval``: score an agent on a suite of seeded pointing episodes.

A suite (``configs/suite/*.yaml``, or any YAML file via ``suite_file=``) lists segments, each an
env configuration and an episode count, run for each robot. Episode ``i`` of segment ``k`` uses
seed ``seeds.suite_seed(seed_base, k, i)`` = ``seed_base + 100000·k + i``, so the same suite gives
the same episodes whether run with one worker or many. Each finished episode is appended to
``DIR/results.jsonl`` (one JSON line, flushed and fsynced); a rerun skips episodes already there.
``summary.json`` and ``summary.md`` are rewritten atomically at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from roboref.envs import ROBOTS, env_id
from roboref.parallel import parallel_map
from roboref.results import append_records, markdown_table, read_results, repair_tail, summarize, write_summary
from roboref.rollout import run_episode
from roboref.seeds import suite_seed
from roboref.workers import Worker


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


def run_job(job: EvalJob, worker: Worker | None = None) -> list[dict]:
    """Run a job's episodes (in a worker process or inline); one record per episode. An agent
    that raises, times out or answers NaN fails that episode, with the reason; the run goes on.
    ``worker`` keeps the env and agent for the next job of the same configuration; without one,
    the job makes its own and closes it."""
    if worker is None:
        with Worker() as own:
            return run_job(job, own)
    env = worker.env(env_id("refer", job.robot), job.env_kwargs_json)
    agent = worker.agent(job.agent, job.agent_seed)
    records = []
    for index, seed in job.episodes:
        ep = run_episode(env, agent, seed, timeout_s=job.timeout_s)
        task, turn = ep.task, ep.turns[0]
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
            "text": turn.text,
        }
        if turn.point is None:
            record.update(
                point=None, parsed=False, parse_reason=turn.reason, success=False, reward=0.0, reward_terms={}
            )
        else:
            record.update(
                point=list(turn.point),
                parsed=True,
                parse_reason="ok",
                success=turn.success,
                reward=turn.reward,
                reward_terms=turn.info["reward_terms"],
            )
        record["wall_time"] = round(ep.wall_time, 4)
        records.append(record)
    return records


def _segments(cfg: DictConfig) -> tuple[dict, list[dict]]:
    suite = OmegaConf.to_container(OmegaConf.load(cfg.suite_file) if cfg.get("suite_file") else cfg.suite, resolve=True)
    for key in ("name", "segments", "robots"):
        if key not in suite:
            raise ValueError(f"suite must define '{key}' (name, seed_base, robots, segments)")
    bad = [r for r in suite["robots"] if r not in ROBOTS]
    if bad:
        raise ValueError(f"unknown robot(s) {bad} in suite; known robots: {', '.join(ROBOTS)}")
    return suite, suite["segments"]


def _env_kwargs(cfg: DictConfig, seg: dict) -> dict:
    """The env keyword arguments of a suite segment: the run's image size and reward, then the
    segment's own ``env``."""
    return {"image_size": list(cfg.image_size), "reward": cfg.reward, **seg.get("env", {})}


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
    repair_tail(results_path)
    jobs, total = [], 0
    for k, seg in enumerate(segments):
        count = int(cfg.episodes) if cfg.get("episodes") else int(seg.get("episodes", 50))
        env_kwargs = _env_kwargs(cfg, seg)
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
    write_summary(out, summary)
    print(markdown_table(summary))
    if cfg.get("plots", True):
        from roboref.plots import failure_video, plot_summary

        plot_summary(summary, out)
        if int(cfg.get("failure_videos", 0)) > 0:
            seg_env = {seg["name"]: _env_kwargs(cfg, seg) for seg in segments}
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
    repair_tail(results_path)
    done = {r["key"] for r in read_results(results_path) if r.get("agent") == cfg.agent}
    agent = make_agent(cfg.agent, env=None, seed=int(cfg.seed))
    with open(results_path, "a") as fh:
        for split in splits:
            entries = [e for e in load_split(cfg.bench_dir, split) if f"refspatial/{split}/{e.id}" not in done]
            for rec in evaluate_agent(agent, entries):
                append_records(fh, [{**rec, "agent": cfg.agent}])
    records = [r for r in read_results(results_path) if r.get("agent") == cfg.agent]
    summary = summarize(records, "refspatial-bench", cfg.agent)
    summary["mean_score"] = {
        seg: sum(r["score"] for r in records if r["segment"] == seg) / max(1, sum(r["segment"] == seg for r in records))
        for seg in sorted({r["segment"] for r in records})
    }
    write_summary(out, summary)
    print(markdown_table(summary))
    print("mean score (fraction of points inside the mask):", json.dumps(summary["mean_score"]))
    return 0


def _progress_run(jobs, results_path: Path, remaining: int, workers: int, ray_address, out: Path) -> None:
    from tqdm import tqdm

    with open(results_path, "a") as fh, tqdm(total=remaining, desc="episodes", unit="ep") as bar:
        for records in parallel_map(run_job, jobs, workers, ray_address, out / ".ray", state=Worker):
            append_records(fh, records)
            bar.update(len(records))
