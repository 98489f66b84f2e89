import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from roboref.agents import OracleAgent
from roboref.envs.tasks import AgentOutput
from roboref.envs.wrappers import TokenizedInstruction


@pytest.mark.parametrize("env_name", ["ur5e_env", "g1_env"])
def test_gymnasium_env_checker(env_name, request):
    env = request.getfixturevalue(env_name)
    check_env(env.unwrapped, skip_render_check=True)


def test_sb3_env_checker(ur5e_env):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    wrapped = TokenizedInstruction(ur5e_env)
    sb3_check_env(wrapped, warn=True)
    obs, _ = wrapped.reset(seed=0)
    ids = obs["instruction"]
    assert ids.dtype == np.int64 and (ids > 0).sum() == min(48, len(ur5e_env.unwrapped.task.instruction.split()))
    assert np.array_equal(ids, wrapped.tokenizer(ur5e_env.unwrapped.task.instruction))


def _images(env, seed):
    obs, info = env.reset(seed=seed)
    u = env.unwrapped
    return obs, u.frame.seg.copy(), info


def test_same_seed_same_images_bit_for_bit(ur5e_env):
    a, seg_a, info_a = _images(ur5e_env, 123)
    _images(ur5e_env, 7)
    b, seg_b, info_b = _images(ur5e_env, 123)
    assert np.array_equal(a["rgb"], b["rgb"])
    assert np.array_equal(a["depth"], b["depth"])
    assert np.array_equal(seg_a, seg_b)
    assert a["instruction"] == b["instruction"]
    assert info_a["scene"] == info_b["scene"]


def test_same_seed_same_images_in_a_fresh_env(ur5e_env):
    a, seg_a, _ = _images(ur5e_env, 5)
    fresh = gym.make("roboref/Refer-UR5e-v0")
    b, seg_b, _ = _images(fresh, 5)
    fresh.close()
    assert np.array_equal(a["rgb"], b["rgb"]) and np.array_equal(a["depth"], b["depth"])
    assert np.array_equal(seg_a, seg_b)


def test_a_reconfigured_env_gives_a_new_envs_episodes():
    """``reconfigure`` keeps the compiled world and gives the episodes of an env made anew with
    the new options (task split: other categories in the scene; kinds; reward preset)."""
    opts = {"task_split": "unseen", "kinds": ["placement"], "reward": "default"}
    env = gym.make("roboref/Refer-UR5e-v0", kinds=["location"])
    sim = env.unwrapped.sim
    env.reset(seed=3)
    env.unwrapped.reconfigure(**opts)
    assert env.unwrapped.sim is sim and env.unwrapped._needs_reset
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.5, 0.5], np.float32))
    fresh = gym.make("roboref/Refer-UR5e-v0", **opts)
    for seed in (3, 4):
        a, seg_a, info_a = _images(env, seed)
        b, seg_b, info_b = _images(fresh, seed)
        assert np.array_equal(a["rgb"], b["rgb"]) and np.array_equal(seg_a, seg_b)
        assert info_a["task"] == info_b["task"] and info_a["task"]["kind"] == "placement"
        point = np.array([0.5, 0.5], np.float32)
        assert env.step(point)[1:3] == fresh.step(point)[1:3]
    fresh.close()
    env.unwrapped.reconfigure()  # back to the defaults: the spec keeps no option of before
    assert env.unwrapped.config.kinds == ("location", "placement") and "kinds" not in env.spec.kwargs
    env.close()


def test_reconfigure_refuses_what_needs_a_new_simulator(ur5e_env):
    with pytest.raises(ValueError, match=r"\['image_size'\] need a new env"):
        ur5e_env.unwrapped.reconfigure(image_size=(96, 96))
    with pytest.raises(ValueError, match="unknown env option"):
        ur5e_env.unwrapped.reconfigure(kinds=["location"], colour="red")
    assert ur5e_env.unwrapped.config.image_size == (224, 224)


def test_different_seeds_different_scenes(ur5e_env):
    scenes = {_images(ur5e_env, s)[2]["scene"]["objects"].__repr__() for s in range(5)}
    assert len(scenes) == 5


def test_oracle_hits_and_a_point_off_the_mask_misses(ur5e_env):
    oracle = OracleAgent(ur5e_env)
    for seed in range(5):
        obs, _ = ur5e_env.reset(seed=seed)
        out = oracle.act(obs)
        _, reward, terminated, truncated, info = ur5e_env.step(np.array(out.point, np.float32))
        assert reward == 1.0 and info["success"] and terminated and not truncated
        assert info["reward_terms"] == {"point": 1.0}
        assert info["task"]["instruction"] == obs["instruction"]

        ur5e_env.reset(seed=seed)
        mask = ur5e_env.unwrapped.task.mask
        rows, cols = np.nonzero(~mask)
        i = len(rows) // 2
        miss = ((cols[i] + 0.5) / mask.shape[1], (rows[i] + 0.5) / mask.shape[0])
        _, reward, _, _, info = ur5e_env.step(np.array(miss, np.float32))
        assert reward == 0.0 and not info["success"]


def test_location_task_names_its_visible_target():
    env = gym.make("roboref/Refer-UR5e-v0", kinds=("location",))
    for seed in range(10):
        _, info = env.reset(seed=seed)
        u = env.unwrapped
        task, scene = u.task, u.scene
        target = scene.objects[task.target]
        assert target.category in task.instruction
        assert np.array_equal(task.mask, u.frame.seg == task.target + 1)
        assert task.mask.sum() >= u.config.min_visible_pixels
        assert info["task"]["kind"] == "location" and 1 <= info["task"]["num_steps"] <= 5
    env.close()


@pytest.mark.parametrize(
    "action, words",
    [
        (np.array([np.nan, 0.5]), ["finite"]),
        (np.array([1.5, 0.2]), ["outside", "[0, 1]"]),
        (np.array([-0.1, 0.2]), ["outside", "[0, 1]"]),
        (np.array([0.1, 0.2, 0.3]), ["shape (2,)"]),
        ("left", ["point"]),
    ],
)
def test_bad_actions_raise_clear_errors(ur5e_env, action, words):
    ur5e_env.reset(seed=0)
    with pytest.raises(ValueError) as err:
        ur5e_env.unwrapped.step(action)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"robot": "panda"}, ["panda", "ur5e", "g1"]),
        ({"num_objects": (40, 40)}, ["num_objects"]),
        ({"categories": ["teapot"]}, ["teapot", "mug"]),
        ({"colour": "red"}, ["colour", "allowed", "colors"]),
        ({"image_size": (4, 4)}, ["image_size"]),
        ({"place_area": [[0.1, 0.0], [-0.3, 0.3]]}, ["place_area", "min < max"]),
        ({"place_area": "left"}, ["place_area", "x_min"]),
    ],
)
def test_bad_env_config_raises_clear_errors(kwargs, words):
    with pytest.raises(ValueError) as err:
        gym.make("roboref/Refer-UR5e-v0", **kwargs)
    for w in words:
        assert w in str(err.value)


def test_place_area_bounds_the_placement_regions():
    """``place_area`` keeps every on-table pixel of a placement region inside it; without it the
    same seeds draw regions beyond (the G1's reach is smaller than its workspace)."""
    from roboref.envs.camera import unproject
    from roboref.envs.control import G1Controller
    from roboref.envs.scene import TABLE_HEIGHT

    (x0, x1), (y0, y1) = G1Controller.reach_area
    outside = {}
    for area in (None, G1Controller.reach_area):
        env = gym.make("roboref/Refer-G1-v0", kinds=["placement"], num_steps=(1, 2), place_area=area)
        u = env.unwrapped
        outside[area] = 0
        for seed in range(5):
            env.reset(seed=seed)
            rows, cols = np.nonzero(u.task.mask)
            K, T = u.sim.camera_pose(u.config.camera)
            p = unproject(np.column_stack([cols + 0.5, rows + 0.5]), u.frame.depth[rows, cols], K, T)
            p = p[np.abs(p[:, 2] - TABLE_HEIGHT) < 0.01]
            outside[area] += int(((p[:, 0] < x0) | (p[:, 0] > x1) | (p[:, 1] < y0) | (p[:, 1] > y1)).sum())
        env.close()
    assert outside[G1Controller.reach_area] == 0 and outside[None] > 0


def test_unstable_physics_truncates_and_reset_is_clean(ur5e_env):
    env = ur5e_env.unwrapped
    env.reset(seed=1)
    adr = env.sim.world.slot_dadr[0]
    env.sim.data.qvel[adr : adr + 3] = [1e9, -1e9, 1e9]  # force an exploding state
    obs, reward, terminated, truncated, info = env.step(np.array(env.task.point))
    assert truncated and not terminated
    assert "unstable physics" in info["truncation_reason"]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.5, 0.5]))
    obs, _ = env.reset(seed=1)
    assert np.isfinite(env.sim.data.qvel).all() and np.abs(env.sim.data.qvel).max() < 1.0
    _, reward, terminated, truncated, _ = env.step(np.array(env.task.point))
    assert reward == 1.0 and terminated and not truncated


def test_several_tasks_per_episode():
    env = gym.make("roboref/Refer-UR5e-v0", tasks_per_episode=3, num_objects=(8, 10))
    env.reset(seed=3)
    dones = []
    for _ in range(3):
        _, reward, terminated, truncated, _ = env.step(np.array(env.unwrapped.task.point))
        assert reward == 1.0
        dones.append(terminated)
    assert dones == [False, False, True]
    env.close()


def test_text_action_wrapper_scores_model_text():
    from roboref.envs.wrappers import TextAction

    env = TextAction(gym.make("roboref/Refer-UR5e-v0", reward="default"))
    env.reset(seed=2)
    task = env.unwrapped.task
    steps = "\n".join(s.to_text() for s in task.steps)
    text = f"<think>{steps}</think><answer>[({task.point[0]:.4f}, {task.point[1]:.4f})]</answer>"
    _, reward, terminated, _, info = env.step(text)
    assert info["success"] and terminated
    assert info["reward_terms"]["format"] == 1.0 and info["reward_terms"]["point"] == 1.0
    assert info["reward_terms"]["process"] == pytest.approx(1.0, abs=0.02)
    assert reward == pytest.approx(0.1 + 1.0 + 0.25, abs=0.01)
    env.reset(seed=2)
    _, reward, terminated, truncated, info = env.step("the mug is at (412, 300) pixels")
    assert reward == 0.0 and terminated and not truncated and not info["success"]
    assert "pixel" in info["format_reason"]
    env.reset(seed=3)  # and the env carries on
    env.close()


def test_an_answer_without_a_point_scores_zero_and_ends_the_episode():
    env = gym.make("roboref/Refer-UR5e-v0", reward="default")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(AgentOutput(point=None, text="I cannot see it."))
    assert reward == 0.0 and terminated and not truncated and not info["success"]
    assert info["format_reason"] == "no (x, y) point found in the answer"
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.5, 0.5]))
    env.reset(seed=1)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(AgentOutput(point=(1.5, 0.2)))
    env.close()


def test_reward_presets_in_the_env():
    env = gym.make("roboref/Refer-UR5e-v0", reward="roborefer")
    env.reset(seed=0)
    task = env.unwrapped.task
    _, reward, _, _, info = env.step(np.array(task.point))
    # a bare point said nothing in the strict <think>…</think><answer>…</answer> layout, and no steps
    assert info["reward_terms"]["point"] == 1.0
    assert info["reward_terms"]["format"] == 0.0 and "layout" in info["reward_reasons"]["format"]
    assert info["reward_terms"]["step_format"] == 0.0
    assert info["reward_reasons"]["step_format"] == "no reasoning steps"
    assert reward == pytest.approx(1.0)
    # the whole answer, as an AgentOutput with its steps and no text: rendered once, it is strict
    env.reset(seed=0)
    _, reward, _, _, info = env.step(AgentOutput(point=task.point, steps=task.steps))
    assert info["reward_terms"]["format"] == 1.0 and info["reward_terms"]["step_format"] == 1.0
    assert info["reward_terms"]["process"] == pytest.approx(1.0)
    assert reward == pytest.approx(1.0 + 1.0 + 0.25 * 2)
    env.close()
    with pytest.raises(ValueError, match="reward"):
        gym.make("roboref/Refer-UR5e-v0", reward="shiny")


def test_record_episodes_writes_one_mp4_per_episode(tmp_path):
    import imageio.v2 as imageio

    from roboref.envs.wrappers import RecordEpisodes

    env = RecordEpisodes(gym.make("roboref/Refer-UR5e-v0", physics_steps_per_action=50), tmp_path, fps=10)
    for seed in range(2):
        env.reset(seed=seed)
        env.step(np.array(env.unwrapped.task.point))
    env.close()
    assert [p.name for p in env.paths] == ["episode_000.mp4", "episode_001.mp4"]
    reader = imageio.get_reader(env.paths[0])
    meta = reader.get_meta_data()
    # 1 s before + the 0.1 s of physics (1 captured frame at 10 fps) + 1 s after
    assert meta["duration"] == pytest.approx(2.1, abs=0.05)
    assert reader.get_data(0).shape[1] > reader.get_data(0).shape[0]  # agent view beside overview
