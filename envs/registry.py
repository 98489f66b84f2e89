"""The Gymnasium env ids: one table of tasks × robots, registered when ``roboref.envs`` is imported.

The ids (``roboref/<Task>-<Robot>-v0``) are a user-facing contract (DESIGN.md); every other part
asks ``env_id(task, robot)`` instead of spelling them.
"""

from __future__ import annotations

import gymnasium as gym

#: task name -> (the id's spelling, entry point)
TASKS = {
    "refer": ("Refer", "roboref.envs.refer_env:ReferEnv"),
    "pickplace": ("PickPlace", "roboref.envs.pickplace_env:PickPlaceEnv"),
}
#: robot name -> the id's spelling
ROBOTS = {"ur5e": "UR5e", "g1": "G1"}


def env_id(task: str, robot: str) -> str:
    """``roboref/<Task>-<Robot>-v0``; a ``ValueError`` naming the allowed values otherwise."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    if robot not in ROBOTS:
        raise ValueError(f"unknown robot {robot!r}; known robots: {', '.join(ROBOTS)}")
    return f"roboref/{TASKS[task][0]}-{ROBOTS[robot]}-v0"


def register_envs() -> None:
    """Register every task × robot with Gymnasium (idempotent)."""
    for task, (_, entry_point) in TASKS.items():
        for robot in ROBOTS:
            if env_id(task, robot) not in gym.registry:
                gym.register(
                    id=env_id(task, robot),
                    entry_point=entry_point,
                    vector_entry_point=f"roboref.envs.vector:{task}_vector_env",
                    kwargs={"robot": robot},
                )
