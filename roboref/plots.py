"""PNG plots and failure videos for evaluation results (matplotlib, headless)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _bars(ax, groups: dict[str, dict], title: str) -> None:
    names = list(groups)
    rates = np.array([groups[n]["rate"] for n in names]) * 100
    lo = np.array([groups[n]["ci95"][0] for n in names]) * 100
    hi = np.array([groups[n]["ci95"][1] for n in names]) * 100
    yerr = np.clip([rates - lo, hi - rates], 0, None)  # float round-off can dip below 0
    ax.bar(range(len(names)), rates, yerr=yerr, capsize=3, color="#4c78a8")
    ax.set_xticks(range(len(names)), [f"{n}\n(n={groups[n]['n']})" for n in names], rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_ylabel("success % (95 % CI)")
    ax.set_title(title)


def plot_summary(summary: dict, out_dir: Path) -> list[Path]:
    """``success_by_relation.png`` and ``success_by_steps.png``."""
    paths = []
    for key, fname, title, width in (
        ("relation", "success_by_relation.png", "pointing success by relation", 12),
        ("num_steps", "success_by_steps.png", "pointing success by step count", 5),
    ):
        groups = summary.get(key, {})
        if not groups:
            continue
        fig, ax = plt.subplots(figsize=(width, 4))
        _bars(ax, groups, f"{summary['agent']}: {title}")
        fig.tight_layout()
        path = Path(out_dir) / fname
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_comparison(summaries: list[dict], labels: list[str], path: Path) -> Path:
    """Agent comparison: grouped bars of success per segment/robot."""
    keys = sorted({k for s in summaries for k in s.get("segment_robot", {})}) or ["overall"]
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.8 * len(keys) * len(summaries))), 4))
    width = 0.8 / max(1, len(summaries))
    for i, (s, label) in enumerate(zip(summaries, labels, strict=True)):
        groups = s.get("segment_robot", {"overall": s["overall"]})
        rates = [100 * groups[k]["rate"] if k in groups else 0 for k in keys]
        ax.bar(np.arange(len(keys)) + i * width, rates, width, label=label)
    ax.set_xticks(np.arange(len(keys)) + width * (len(summaries) - 1) / 2, keys, rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("success %")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def failure_video(
    records: list[dict], segment_env: dict[str, dict], path: Path, limit: int = 8, fps: int = 1
) -> Path | None:
    """Re-create up to ``limit`` failed episodes from their seeds and write them, with the
    instruction, the agent's point and the target outline drawn, to one MP4."""
    import gymnasium as gym

    from roboref.envs import ROBOTS, env_id
    from roboref.envs.drawing import annotate, pad_to_common, side_by_side, write_mp4

    failed = [r for r in records if not r["success"] and r["robot"] in ROBOTS][:limit]
    if not failed:
        return None
    frames, envs = [], {}
    for r in failed:
        key = (r["robot"], json.dumps(segment_env.get(r["segment"], {}), sort_keys=True))
        if key not in envs:
            envs[key] = gym.make(env_id("refer", r["robot"]), **json.loads(key[1]))
        env = envs[key]
        obs, _ = env.reset(seed=r["seed"])
        task = env.unwrapped.task
        caption = f"[{r['segment']}/{r['robot']} seed {r['seed']}] {obs['instruction']}"
        if not r["parsed"]:
            caption += f"  (unparseable: {r.get('parse_reason', '')})"
        frames.append(side_by_side(annotate(obs["rgb"], caption, r["point"], False, mask=task.mask)))
    for env in envs.values():
        env.close()
    return write_mp4(path, [f for f in pad_to_common(frames) for _ in range(2)], fps=fps)
