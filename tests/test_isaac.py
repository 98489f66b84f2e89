"""roboref.isaac on a machine without Isaac Sim: the id is registered, the env modules fail with
the message that names what is missing, and the pure-python half (the exported episode's task, the
instruction encoding, the reward through roboref.rewards) agrees with ``ReferEnv``."""

from __future__ import annotations

import importlib

import gymnasium as gym
import numpy as np
import pytest

from roboref.envs import env_id
from roboref.envs.usd import export_episode
from roboref.isaac import ENV_ID, isaaclab_available
from roboref.isaac.episode import decode_instruction, encode_instruction, read_episode, score_point

no_isaac = pytest.mark.skipif(isaaclab_available(), reason="Isaac Lab is installed: the env itself can import")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    env = gym.make(env_id("refer", "ur5e"), reward="default")
    env.reset(seed=5)
    path = tmp_path_factory.mktemp("isaac") / "episode.usd"
    export_episode(env, path)
    yield env.unwrapped, path
    env.close()


def test_the_isaac_env_id_is_registered_without_importing_isaac():
    assert ENV_ID == "roboref/Isaac-Refer-UR5e-v0"
    assert gym.registry[ENV_ID].entry_point == "roboref.isaac.refer_env:make_env"


@no_isaac
@pytest.mark.parametrize("module", ["roboref.isaac.refer_env", "roboref.isaac.refer_env_cfg"])
def test_env_modules_say_they_need_isaac_sim_with_an_rtx_gpu(module):
    with pytest.raises(ImportError, match="needs Isaac Sim with an RTX GPU") as err:
        importlib.import_module(module)
    assert "pip install 'roboref[isaac]'" in str(err.value)


@no_isaac
def test_gym_make_and_the_runner_fail_with_the_same_message(exported, capsys):
    from roboref.isaac.run import main

    _, path = exported
    with pytest.raises(ImportError, match="needs Isaac Sim with an RTX GPU"):
        gym.make(ENV_ID, usd_path=str(path))
    assert main(["--usd", str(path)]) == 2
    assert "needs Isaac Sim with an RTX GPU" in capsys.readouterr().err


def test_read_episode_gives_the_exported_task_camera_and_home_pose(exported):
    env, path = exported
    ep = read_episode(path)
    assert ep.robot == "ur5e" and ep.camera == "Cameras/agent" and ep.resolution == (224, 224)
    assert ep.task.instruction == env.task.instruction and ep.task.kind == env.task.kind
    np.testing.assert_array_equal(ep.task.mask, env.task.mask)
    K, _ = env.sim.camera_pose("agent")
    np.testing.assert_allclose(ep.intrinsics, K, atol=1e-6)
    m, d = env.sim.model, env.sim.data
    for name in ("shoulder_pan_joint", "elbow_joint", "wrist_3_joint"):
        assert ep.joint_home[name] == pytest.approx(d.qpos[m.jnt_qposadr[m.joint(f"robot/{name}").id]], abs=1e-6)


def test_score_point_gives_what_refer_env_gives(exported):
    env, path = exported
    ep = read_episode(path)
    task = env.task
    assert score_point(ep.task, task.point)[0] == 1.0
    far = (1.0 - task.point[0], 1.0 - task.point[1])
    expected = {name: score_point(ep.task, far, name) for name in ("binary", "default", "roborefer")}
    assert expected["binary"][0] == 0.0
    _, reward, *_, info = env.step(np.array(far, np.float32))  # this env uses reward="default"
    assert reward == pytest.approx(expected["default"][0])
    assert info["reward_terms"] == pytest.approx(expected["default"][1])
    with pytest.raises(ValueError, match="reward must be one of"):
        score_point(ep.task, far, "shaped")


def test_instruction_round_trips_through_its_tensor_encoding():
    text = "Point to the free space 10 cm left of the red mug."
    codes = encode_instruction(text)
    assert codes.shape == (256,) and codes.dtype == np.uint8
    assert decode_instruction(codes) == text
    with pytest.raises(ValueError, match="longer than 256"):
        encode_instruction("x" * 300)


def test_read_episode_of_a_missing_file_names_the_export_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="roboref export format=usd"):
        read_episode(tmp_path / "none.usd")
