"""``roboref train ppo``: stable-baselines3 PPO (``MultiInputPolicy``) on the pointing env.

The env is wrapped in ``TokenizedInstruction`` (SB3 has no text space: word ids, depth in cm)
and ``Monitor`` (one CSV row per episode). A pointing episode is one step, so PPO here is a
contextual bandit over (image, instruction) → point; the learning curve shows whether the policy
beats the random point. Writes ``out/monitor.csv``, ``out/learning_curve.csv`` (mean episode
reward per ``curve_window`` episodes), ``out/learning_curve.png``, ``out/model.zip`` and
``out/summary.json``; ``resume=true`` continues from ``out/model.zip``.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf


def make_env(cfg: DictConfig, monitor_path: Path):
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    import roboref.envs  # noqa: F401  (registers the env ids)
    from roboref.envs.wrappers import TokenizedInstruction

    kwargs = OmegaConf.to_container(cfg.env, resolve=True)
    env = TokenizedInstruction(gym.make(str(cfg.env_id), **kwargs), max_tokens=int(cfg.max_tokens))
    return Monitor(env, str(monitor_path), override_existing=not cfg.resume)


def learning_curve(monitor_csv: Path, window: int) -> list[dict]:
    """``[{episodes, timesteps, mean_reward}]`` per block of ``window`` episodes."""
    with monitor_csv.open() as f:
        next(f)  # SB3's JSON header line
        rows = list(csv.DictReader(f))
    rewards = np.array([float(r["r"]) for r in rows])
    lengths = np.cumsum([int(r["l"]) for r in rows])
    curve = []
    for end in range(window, len(rewards) + 1, window):
        curve.append(
            {
                "episodes": end,
                "timesteps": int(lengths[end - 1]),
                "mean_reward": float(rewards[end - window : end].mean()),
            }
        )
    return curve


def plot_curve(curve: list[dict], path: Path, title: str) -> None:
    """A small line plot with PIL (no matplotlib dependency)."""
    from PIL import Image, ImageDraw

    w, h, m = 480, 320, 40
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([m, m, w - m, h - m], outline="black")
    draw.text((m, 10), title, fill="black")
    if curve:
        xs = np.array([c["timesteps"] for c in curve], float)
        ys = np.array([c["mean_reward"] for c in curve], float)
        lo, hi = min(0.0, ys.min()), max(1.0, ys.max())
        x0, x1 = 0.0, max(xs.max(), 1.0)
        pts = [
            (m + (x - x0) / (x1 - x0) * (w - 2 * m), h - m - (y - lo) / (hi - lo) * (h - 2 * m))
            for x, y in zip(xs, ys, strict=True)
        ]
        if len(pts) > 1:
            draw.line(pts, fill="blue", width=2)
        for p in pts:
            draw.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill="blue")
        draw.text((m, h - m + 5), f"0 .. {int(x1)} timesteps", fill="black")
        draw.text((w - m - 150, h - m + 5), f"reward {lo:.2f} .. {hi:.2f}", fill="black")
    img.save(path)


def run(cfg: DictConfig) -> int:
    import torch

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / "config.yaml")
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(cfg.get("torch_threads") or threads)))
    try:
        return _run(cfg, out)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: DictConfig, out: Path) -> int:
    from stable_baselines3 import PPO

    env = make_env(cfg, out / "monitor")
    model_path = out / "model.zip"
    ppo_kwargs = OmegaConf.to_container(cfg.ppo, resolve=True)
    if cfg.resume and model_path.is_file():
        model = PPO.load(model_path, env=env, device="cpu")
        reset = False
    else:
        model = PPO("MultiInputPolicy", env, seed=int(cfg.seed), device="cpu", verbose=0, **ppo_kwargs)
        reset = True
    t0 = time.perf_counter()
    model.learn(total_timesteps=int(cfg.total_timesteps), reset_num_timesteps=reset, progress_bar=bool(cfg.progress))
    seconds = time.perf_counter() - t0
    model.save(model_path)
    env.close()
    curve = learning_curve(out / "monitor.monitor.csv", int(cfg.curve_window))
    with (out / "learning_curve.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["episodes", "timesteps", "mean_reward"])
        writer.writeheader()
        writer.writerows(curve)
    plot_curve(curve, out / "learning_curve.png", f"PPO on {cfg.env_id}: mean episode reward")
    summary = {
        "command": "ppo",
        "timesteps": int(model.num_timesteps),
        "seconds": round(seconds, 3),
        "steps_per_second": round(int(cfg.total_timesteps) / max(seconds, 1e-9), 1),
        "first_mean_reward": curve[0]["mean_reward"] if curve else None,
        "last_mean_reward": curve[-1]["mean_reward"] if curve else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"ppo: {model.num_timesteps} timesteps in {seconds:.1f} s; curve in {out / 'learning_curve.png'}")
    return 0
