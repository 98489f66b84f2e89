"""Gymnasium environments on MuJoCo: scenes, robots, cameras, tasks.

Importing this package registers ``roboref/Refer-UR5e-v0`` and ``roboref/Refer-G1-v0`` (pointing)
and ``roboref/PickPlace-UR5e-v0`` and ``roboref/PickPlace-G1-v0`` (points executed by a robot);
``env_id(task, robot)`` spells them (``envs/registry.py``).
"""

import roboref  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from roboref.envs.registry import ROBOTS, TASKS, env_id, register_envs
from roboref.envs.vector import make_vec

register_envs()

__all__ = ["ROBOTS", "TASKS", "env_id", "make_vec", "register_envs"]
