"""``roboref video``: record an agent's episodes to MP4 (one file per episode) with the
``RecordEpisodes`` wrapper; the drawing primitives are in ``roboref.envs.drawing``."""

from __future__ import annotations

from omegaconf import DictConfig


def run(cfg: DictConfig) -> int:
    """Episodes of ``cfg.agent`` in ``cfg.env`` (refer | pickplace) on ``cfg.robot``, recorded."""
    import gymnasium as gym
    from omegaconf import OmegaConf

    from roboref.agents import make_agent
    from roboref.envs import env_id
    from roboref.envs.wrappers import RecordEpisodes
    from roboref.rollout import run_episode

    task_env_id = env_id(str(cfg.env), str(cfg.robot))  # a ValueError naming the allowed values
    if int(cfg.episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {cfg.episodes}")
    env_kwargs = OmegaConf.to_container(cfg.env_kwargs, resolve=True) or {}
    env = RecordEpisodes(gym.make(task_env_id, **env_kwargs), cfg.out, fps=int(cfg.fps))
    agent = make_agent(cfg.agent, env=env, seed=int(cfg.seed))
    for ep in range(int(cfg.episodes)):
        episode = run_episode(env, agent, int(cfg.seed) + ep, max_steps=int(cfg.max_steps))
        steps = sum(bool(t.info) for t in episode.turns)
        successes = sum(t.success for t in episode.turns)
        print(f"episode {ep}: {steps} step(s), {successes} successful", flush=True)
    env.close()
    for p in env.paths:
        print(f"wrote {p}")
    return 0
