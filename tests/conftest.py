import gymnasium as gym
import pytest

import roboref.envs  # noqa: F401


@pytest.fixture(scope="session")
def ur5e_env():
    env = gym.make("roboref/Refer-UR5e-v0")
    yield env
    env.close()


@pytest.fixture(scope="session")
def g1_env():
    env = gym.make("roboref/Refer-G1-v0")
    yield env
    env.close()
