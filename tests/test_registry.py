import gymnasium as gym
import pytest

import roboref.envs
from roboref.envs import env_id


def test_env_ids_are_the_documented_contract():
    assert {(t, r): env_id(t, r) for t in ("refer", "pickplace") for r in ("ur5e", "g1")} == {
        ("refer", "ur5e"): "roboref/Refer-UR5e-v0",
        ("refer", "g1"): "roboref/Refer-G1-v0",
        ("pickplace", "ur5e"): "roboref/PickPlace-UR5e-v0",
        ("pickplace", "g1"): "roboref/PickPlace-G1-v0",
    }
    for t in roboref.envs.TASKS:
        for r in roboref.envs.ROBOTS:
            assert gym.spec(env_id(t, r)).kwargs == {"robot": r}
    roboref.envs.register_envs()  # idempotent


def test_unknown_task_or_robot_names_the_allowed_values():
    with pytest.raises(ValueError, match="unknown robot 'panda'; known robots: ur5e, g1"):
        env_id("refer", "panda")
    with pytest.raises(ValueError, match="unknown task 'juggle'; known tasks: refer, pickplace"):
        env_id("juggle", "ur5e")
