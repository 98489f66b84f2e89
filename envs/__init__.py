"""Gymnasium environments on MuJoCo: scenes, robots, cameras, tasks.

Importing this package registers ``roboref/Refer-UR5e-v0`` and ``roboref/Refer-G1-v0`` (pointing)
and ``roboref/PickPlace-UR5e-v0`` and ``roboref/PickPlace-G1-v0`` (points executed by a robot).
"""

import gymnasium as gym

import roboref  # noqa: F401  (sets MUJOCO_GL before mujoco loads)

ENV_IDS = {"roboref/Refer-UR5e-v0": "ur5e", "roboref/Refer-G1-v0": "g1"}
PICKPLACE_ENV_IDS = {"roboref/PickPlace-UR5e-v0": "ur5e", "roboref/PickPlace-G1-v0": "g1"}

for _ids, _entry in ((ENV_IDS, "refer_env:ReferEnv"), (PICKPLACE_ENV_IDS, "pickplace_env:PickPlaceEnv")):
    for _env_id, _robot in _ids.items():
        if _env_id not in gym.registry:
            gym.register(id=_env_id, entry_point=f"roboref.envs.{_entry}", kwargs={"robot": _robot})

__all__ = ["ENV_IDS", "PICKPLACE_ENV_IDS"]
