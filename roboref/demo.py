"""``roboref demo``: run an agent in the pointing env and show what happened."""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio
from omegaconf import DictConfig, OmegaConf

from roboref.agents import make_agent
from roboref.envs import env_id
from roboref.envs.atomic import write_json_atomic
from roboref.envs.drawing import annotate, pad_to_common, side_by_side, write_mp4
from roboref.rollout import run_episode


class Overview(gym.Wrapper):
    """Renders the overview camera right after each reset, before the agent's step moves anything."""

    overview = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.overview = self.env.render()
        return obs, info


def run(cfg: DictConfig) -> int:
    """Episodes of ``cfg.agent`` in the Refer env: ``demo.mp4``, one PNG per episode, a summary."""
    refer_id = env_id("refer", str(cfg.robot))  # a ValueError naming the known robots
    if int(cfg.episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {cfg.episodes}")
    out = Path(cfg.out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    env_kwargs = OmegaConf.to_container(cfg.env, resolve=True)
    env = Overview(gym.make(refer_id, render_mode="rgb_array", **env_kwargs))
    agent = make_agent(cfg.agent, env=env, seed=int(cfg.seed))
    rows, video = [], []
    t0 = time.perf_counter()
    for ep in range(int(cfg.episodes)):
        episode = run_episode(env, agent, int(cfg.seed) + ep)
        obs, turn = episode.observation, episode.turns[0]
        before = annotate(obs["rgb"], obs["instruction"])
        after = annotate(obs["rgb"], obs["instruction"], turn.point, turn.success, mask=episode.task.mask)
        frame = side_by_side(after, env.overview)
        imageio.imwrite(out / "frames" / f"episode_{ep:03d}.png", frame)
        video += [side_by_side(before, env.overview)] * int(cfg.hold_frames)
        video += [frame] * int(cfg.hold_frames)
        rows.append(
            {
                "episode": ep,
                "seed": episode.seed,
                "instruction": obs["instruction"],
                "point": None if turn.point is None else [round(float(v), 4) for v in turn.point],
                "reward": turn.reward,
                "success": turn.success,
                "objects": len(env.unwrapped.scene.objects),
            }
        )
        outcome = "hit" if turn.success else "miss" if turn.point is not None else f"no point ({turn.reason})"
        print(f"episode {ep + 1}/{cfg.episodes}: {obs['instruction']!r} -> {outcome}", flush=True)
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
        point = "-" if r["point"] is None else f"({r['point'][0]:.3f}, {r['point'][1]:.3f})"
        print(
            f"{r['episode']:>3}  {r['seed']:>5}  {r['objects']:>4}  {point:>16}  "
            f"{r['reward']:>6.1f}  {r['instruction']}"
        )
