"""``roboref demo``: run an agent in the pointing env and show what happened."""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio
from omegaconf import DictConfig, OmegaConf

import roboref.envs  # noqa: F401  (registers the env ids)
from roboref.agents import make_agent
from roboref.envs import ENV_IDS
from roboref.io import write_json_atomic
from roboref.video import annotate, pad_to_common, side_by_side, write_mp4

ROBOT_ENV = {robot: env_id for env_id, robot in ENV_IDS.items()}


def run(cfg: DictConfig) -> int:
    if cfg.robot not in ROBOT_ENV:
        raise ValueError(f"unknown robot {cfg.robot!r}; known robots: {', '.join(ROBOT_ENV)}")
    if int(cfg.episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {cfg.episodes}")
    out = Path(cfg.out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    env_kwargs = OmegaConf.to_container(cfg.env, resolve=True)
    env = gym.make(ROBOT_ENV[cfg.robot], render_mode="rgb_array", **env_kwargs)
    agent = make_agent(cfg.agent, env=env, seed=int(cfg.seed))
    rows, video = [], []
    t0 = time.perf_counter()
    for ep in range(int(cfg.episodes)):
        obs, info = env.reset(seed=int(cfg.seed) + ep)
        overview = env.render()
        before = annotate(obs["rgb"], obs["instruction"])
        action = agent.act(obs)
        _, reward, _, _, step_info = env.step(action.point)
        task = env.unwrapped.task
        after = annotate(obs["rgb"], obs["instruction"], action.point, step_info["success"], mask=task.mask)
        frame = side_by_side(after, overview)
        imageio.imwrite(out / "frames" / f"episode_{ep:03d}.png", frame)
        video += [side_by_side(before, overview)] * int(cfg.hold_frames)
        video += [frame] * int(cfg.hold_frames)
        rows.append(
            {
                "episode": ep,
                "seed": int(cfg.seed) + ep,
                "instruction": obs["instruction"],
                "point": [round(float(v), 4) for v in action.point],
                "reward": reward,
                "success": bool(step_info["success"]),
                "objects": len(env.unwrapped.scene.objects),
            }
        )
        print(
            f"episode {ep + 1}/{cfg.episodes}: {obs['instruction']!r} -> {'hit' if step_info['success'] else 'miss'}",
            flush=True,
        )
    env.close()
    write_mp4(out / "demo.mp4", pad_to_common(video), fps=int(cfg.fps))
    summary = {
        "robot": cfg.robot,
        "agent": cfg.agent,
        "episodes": len(rows),
        "success_rate": sum(r["success"] for r in rows) / len(rows),
        "mean_reward": sum(r["reward"] for r in rows) / len(rows),
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "video": str(out / "demo.mp4"),
        "results": rows,
    }
    write_json_atomic(out / "summary.json", summary)
    print_table(rows)
    print(
        f"success rate {summary['success_rate']:.2f} over {len(rows)} episodes "
        f"({cfg.robot}, {cfg.agent}); video: {out / 'demo.mp4'}, frames: {out / 'frames'}"
    )
    return 0


def print_table(rows: list[dict]) -> None:
    header = f"{'ep':>3}  {'seed':>5}  {'objs':>4}  {'point':>16}  {'reward':>6}  instruction"
    print(header)
    print("-" * len(header))
    for r in rows:
        point = f"({r['point'][0]:.3f}, {r['point'][1]:.3f})"
        print(
            f"{r['episode']:>3}  {r['seed']:>5}  {r['objects']:>4}  {point:>16}  "
            f"{r['reward']:>6.1f}  {r['instruction']}"
        )
