"""Results files: ``results.jsonl`` (one JSON line per episode, appended and fsynced, so a killed
run resumes) and ``summary.json`` / ``summary.md`` (rewritten atomically at the end of a run).

The same line format backs ``coeval.jsonl``; ``read_results`` is the one reader of both.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from roboref.envs.atomic import write_json_atomic, write_text_atomic
from roboref.stats import format_rate, rate


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
        warnings.warn(f"{path}: skipped {bad} corrupt line(s); those episodes run again", stacklevel=2)
    return out


def repair_tail(path: Path) -> None:
    """Drop a half-written last line so appends start on a fresh line."""
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        lines = path.read_bytes().split(b"\n")
        write_text_atomic(path, (b"\n".join(lines[:-1]) + b"\n").decode() if len(lines) > 1 else "")


def append_records(fh: IO[str], records: Iterable[dict]) -> None:
    """Append records as JSON lines to an open file, flushed and fsynced (a crash loses none)."""
    for rec in records:
        fh.write(json.dumps(rec) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


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

    def cell(rs: list[dict]) -> dict:
        return rate(r["success"] for r in rs)

    return {
        "suite": suite,
        "agent": agent,
        "overall": cell(records),
        "unparseable": sum(not r["parsed"] for r in records),
        "agent_errors": sum(str(r.get("parse_reason", "")).startswith("agent err") for r in records),
        "mean_mask_fraction": sum(r.get("mask_fraction", 0.0) for r in records) / len(records) if records else 0.0,
        "mean_reward": sum(r["reward"] for r in records) / len(records) if records else 0.0,
        "mean_reward_terms": {k: sum(v) / len(v) for k, v in sorted(terms.items())},
        **{name: {k: cell(v) for k, v in sorted(groups.items())} for name, groups in by.items()},
    }


def markdown_table(summary: dict) -> str:
    """``summary.md``: the overall rate and tables by segment/robot, step count and relation."""
    lines = [
        f"## {summary['agent']} on {summary['suite']}",
        "",
        f"Pointing success {format_rate(summary['overall'])}, unparseable answers: {summary['unparseable']}, "
        f"mean reward {summary['mean_reward']:.3f}",
        "",
        "| segment / robot | success % [95 % CI] |",
        "|---|---|",
    ]
    lines += [f"| {k} | {format_rate(v)} |" for k, v in summary.get("segment_robot", {}).items()]
    lines += ["", "| steps | success % [95 % CI] |", "|---|---|"]
    lines += [f"| {k} | {format_rate(v)} |" for k, v in summary.get("num_steps", {}).items()]
    lines += ["", "| relation | success % [95 % CI] |", "|---|---|"]
    lines += [f"| {k} | {format_rate(v)} |" for k, v in summary.get("relation", {}).items()]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, summary: dict) -> None:
    """``summary.json`` and ``summary.md`` in ``out``, each written atomically."""
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.md", markdown_table(summary))


def read_summary(out: Path) -> dict:
    """``out/summary.json``; a ``ValueError`` saying how to make it when it is missing."""
    path = Path(out) / "summary.json"
    if not path.exists():
        raise ValueError(f"{path} not found: run `roboref eval ... out={out}` first")
    return json.loads(path.read_text())
