"""``roboref report dirs=[A,B,...]``: several eval results side by side (Markdown), with each
run's paired difference to the first on the episodes both ran."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from roboref.envs.atomic import write_text_atomic
from roboref.results import read_results, read_summary
from roboref.stats import format_rate, paired_difference


def report(cfg: DictConfig) -> int:
    """The comparison table, printed and (with ``out=``) written with a bar plot."""
    dirs = [Path(d) for d in cfg.dirs]
    if not dirs:
        raise ValueError("report needs dirs=[DIR1,DIR2,...] of eval results")
    summaries = [read_summary(d) for d in dirs]
    keys = sorted({k for s in summaries for k in s.get("segment_robot", {})})
    names = [f"{s['agent']} ({d.name})" for s, d in zip(summaries, dirs, strict=True)]
    head = "| | " + " | ".join(names) + " |"
    lines = [head, "|---|" + "---|" * len(summaries)]
    lines.append("| overall | " + " | ".join(format_rate(s["overall"]) for s in summaries) + " |")
    lines.append("| unparseable | " + " | ".join(str(s["unparseable"]) for s in summaries) + " |")
    for k in keys:
        cells = [format_rate(s["segment_robot"][k]) if k in s.get("segment_robot", {}) else "-" for s in summaries]
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
