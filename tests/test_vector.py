"""Vector envs (Gymnasium's ``AsyncVectorEnv`` / ``SyncVectorEnv``) over the roboref envs."""

import gymnasium as gym
import numpy as np
import pytest

from roboref.envs import make_vec

KEYS = ("rgb", "depth", "intrinsics", "extrinsics")


def _single(env_id: str, seed: int) -> dict:
    env = gym.make(env_id, image_size=[64, 48])
    try:
        return env.reset(seed=seed)[0]
    finally:
        env.close()


@pytest.mark.parametrize(
    "env_id, mode",
    [
        ("roboref/Refer-UR5e-v0", "sync"),
        ("roboref/Refer-UR5e-v0", "async"),
        ("roboref/PickPlace-UR5e-v0", "sync"),
        ("roboref/PickPlace-UR5e-v0", "async"),
    ],
)
def test_vector_env_i_sees_what_a_single_env_seeded_seed_plus_i_sees(env_id, mode):
    vec = make_vec(env_id, 2, mode, image_size=[64, 48])
    try:
        assert isinstance(vec, gym.vector.AsyncVectorEnv if mode == "async" else gym.vector.SyncVectorEnv)
        obs, _ = vec.reset(seed=11)
        assert obs["rgb"].shape == (2, 48, 64, 3) and isinstance(obs["instruction"], tuple)
        for i in range(2):
            one = _single(env_id, 11 + i)
            assert obs["instruction"][i] == one["instruction"]
            for key in KEYS:
                np.testing.assert_array_equal(obs[key][i], one[key])
        if env_id.startswith("roboref/Refer"):  # one pointing step ends each episode
            _, reward, terminated, _, info = vec.step(np.full((2, 2), 0.5, np.float32))
            assert reward.shape == (2,) and terminated.all() and "success" in info
    finally:
        vec.close()


def test_gymnasium_make_vec_uses_the_registered_vector_entry_point():
    vec = gym.make_vec("roboref/Refer-UR5e-v0", 2, image_size=[64, 48])
    try:
        assert isinstance(vec, gym.vector.AsyncVectorEnv)
        obs, _ = vec.reset(seed=3)
        assert obs["instruction"][1] == _single("roboref/Refer-UR5e-v0", 4)["instruction"]
    finally:
        vec.close()


def test_make_vec_names_the_modes():
    with pytest.raises(ValueError, match="'async' or 'sync'"):
        make_vec("roboref/Refer-UR5e-v0", 2, "threads")
