"""Gymnasium environments on MuJoCo: scenes, robots, cameras, tasks.

Importing this package registers ``roboref/Refer-UR5e-v0`` and ``roboref/Refer-G1-v0``.
"""

import gymnasium as gym

import roboref  # noqa: F401  (sets MUJOCO_GL before mujoco loads)

ENV_IDS = {"roboref/Refer-UR5e-v0": "ur5e", "roboref/Refer-G1-v0": "g1"}

for _env_id, _robot in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="roboref.envs.refer_env:ReferEnv",
            kwargs={"robot": _robot},
            max_episode_steps=None,
        )

__all__ = ["ENV_IDS"]
