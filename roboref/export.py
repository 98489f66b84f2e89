"""``roboref export``: write a seeded episode of the Refer env to a file (OpenUSD for Isaac Sim)."""

from __future__ import annotations

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf

from roboref.envs import env_id

FORMATS = ("usd",)


def run(cfg: DictConfig) -> int:
    """Reset ``roboref/Refer-<robot>-v0`` with ``cfg.seed`` and export that episode to ``cfg.out``."""
    if cfg.format not in FORMATS:
        raise ValueError(f"unknown export format {cfg.format!r}; formats: {', '.join(FORMATS)}")
    if OmegaConf.is_missing(cfg, "out") or not str(cfg.out):
        raise ValueError("out=FILE.usd is required (.usd/.usdc binary, .usda text)")
    refer_id = env_id("refer", str(cfg.robot))  # a ValueError naming the known robots
    try:
        from roboref.envs.usd import export_episode
        from roboref.envs.usd_geom import pxr_modules

        pxr_modules()
    except ImportError as err:  # the CLI reports ValueErrors as one line, exit status 2
        raise ValueError(str(err)) from err
    env_kwargs = OmegaConf.to_container(cfg.env, resolve=True) or {}
    env = gym.make(refer_id, **env_kwargs)
    try:
        env.reset(seed=int(cfg.seed))
        report = export_episode(env, str(cfg.out))
    finally:
        env.close()
    task = env.unwrapped.task
    print(
        f"wrote {report.path}: {report.objects} objects, robot {cfg.robot} ({report.robot_bodies} bodies, "
        f"{report.robot_joints} joints, {report.drives} drives), {report.seconds:.2f} s\n"
        f"task ({task.kind}): {task.instruction!r} -> {task.answer}"
    )
    return 0
