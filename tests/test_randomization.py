"""Domain randomization (envs/randomization.py): seeded, restored between episodes, ground truth
kept exact (segmentation ids, the camera the task engine and the observation use), held-out
textures kept out of training presets, and bad input refused with the allowed values listed."""

import json
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from roboref.envs.camera import SEG_TABLE, Renderer, model_intrinsics, project, set_intrinsics
from roboref.envs.randomization import PRESETS, RandomizationConfig, make_randomizer
from roboref.envs.randomization_apply import hsv_to_rgb, rgb_to_hsv
from roboref.envs.textures import HELDOUT_KINDS, TRAIN_KINDS
from roboref.envs.wrappers import DomainRandomization


@pytest.fixture(scope="module")
def strong_env():
    env = gym.make("roboref/Refer-UR5e-v0", randomization="strong", depth_noise="realsense")
    yield env
    env.close()


def _bits(obs: dict) -> bytes:
    return b"".join(np.ascontiguousarray(obs[k]).tobytes() for k in ("rgb", "depth", "intrinsics", "extrinsics"))


def test_none_builds_no_randomizer_so_the_default_env_is_unchanged(ur5e_env):
    u = ur5e_env.unwrapped
    assert u.randomizer is None
    assert make_randomizer(u.sim, "agent", "none", None) is None
    assert make_randomizer(u.sim, "agent", {"preset": "none"}, "none") is None
    env = gym.make("roboref/Refer-UR5e-v0", randomization="none")
    a, info = env.reset(seed=5)
    b, _ = ur5e_env.reset(seed=5)
    assert _bits(a) == _bits(b) and "randomization" not in info
    env.close()


def test_same_seed_same_bits_after_other_episodes(strong_env):
    a, info_a = strong_env.reset(seed=3)
    strong_env.reset(seed=4)
    strong_env.step(np.array([0.5, 0.5], np.float32))
    b, info_b = strong_env.reset(seed=3)
    assert _bits(a) == _bits(b)
    assert info_a["randomization"] == info_b["randomization"]
    assert json.loads(json.dumps(info_a["randomization"])) == info_a["randomization"]  # plain JSON
    assert np.array_equal(strong_env.unwrapped.task.mask, strong_env.unwrapped.task.mask)
    c, info_c = strong_env.reset(seed=4)
    assert info_c["randomization"] != info_a["randomization"] and _bits(c) != _bits(a)


def test_randomization_leaves_the_scene_and_its_stream_alone(ur5e_env):
    """The draws come from a child generator: same seed, same scene as without randomization."""
    env = gym.make("roboref/Refer-UR5e-v0", randomization="strong")
    for seed in (1, 2):
        _, info = env.reset(seed=seed)
        _, ref = ur5e_env.reset(seed=seed)
        assert info["scene"] == ref["scene"]
    env.close()


def test_segmentation_ids_survive_appearance_randomization(ur5e_env):
    """Colours, textures, lights, backdrop and distractors change; the labels of every pixel do
    not (the camera held fixed), and the cheap split segmentation equals the two-pass reference."""
    cfg = {"preset": "strong", "camera_pos": 0, "camera_rot": 0, "camera_fov": 0, "focal_error": 0}
    env = gym.make("roboref/Refer-UR5e-v0", randomization={**cfg, "principal_error": 0})
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        ref, _ = ur5e_env.reset(seed=seed)
        u, r = env.unwrapped, ur5e_env.unwrapped
        assert obs["rgb"].tobytes() != ref["rgb"].tobytes()
        assert np.array_equal(u.frame.seg, r.frame.seg)
        renderer = u.sim.renderer
        renderer.seg_mode = "two_pass"
        two_pass = u.sim.render("agent", seg=True).seg
        renderer.seg_mode = "split"
        assert np.array_equal(u.sim.render("agent", seg=True).seg, two_pass)
    env.close()


def test_masks_and_camera_agree_under_camera_randomization(strong_env):
    """Project each visible object's centre with the observation's K, T: it lands on that object's
    own segmentation label (the task engine and the observation see the rendered camera)."""
    hits = total = 0
    moved = 0
    for seed in range(8):
        obs, info = strong_env.reset(seed=seed)
        u = strong_env.unwrapped
        K, T = obs["intrinsics"].astype(float), obs["extrinsics"].astype(float)
        moved += np.abs(np.array(info["randomization"]["camera"]["pos_offset"])).max() > 1e-4
        seg = u.frame.seg
        u.sim.renderer.seg_mode = "two_pass"
        assert np.array_equal(u.sim.render("agent", seg=True).seg, seg)  # split == reference, jittered camera
        u.sim.renderer.seg_mode = "split"
        for k in range(len(u.scene.objects)):
            g = u.sim.world.slot_geoms[k][0]
            centre = u.sim.data.geom_xpos[g]
            c, r = project(centre[None], K, T)[0][0]
            if not (0 <= c < 224 and 0 <= r < 224) or (seg == k + 1).sum() < 60:
                continue
            total += 1
            hits += seg[int(r), int(c)] == k + 1
    assert moved == 8 and total > 30
    assert hits / total > 0.9


def test_principal_point_and_focal_lengths_render_where_K_says():
    """MuJoCo's sensorsize/intrinsic camera: a sphere lands at K's projection (the offset sign
    convention measured on mujoco 4; this test pins it)."""
    xml = """<mujoco><visual><global offwidth="320" offheight="240"/></visual><worldbody>
    <camera name="c" pos="0 0 0" fovy="60" resolution="320 240"/>
    <geom type="sphere" size="0.012" pos="0.3 0.2 -2" rgba="1 1 1 1"/></worldbody></mujoco>"""
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    K = np.array([[250.0, 0, 167.0], [0, 230.0, 115.0], [0, 0, 1]])
    set_intrinsics(m, 0, K, 320, 240)
    assert np.allclose(model_intrinsics(m, 0, 320, 240), K)
    mujoco.mj_forward(m, d)
    renderer = Renderer(m, np.array([1], np.uint8))
    frame = renderer.render(d, "c", 320, 240, rgb=False, depth=True, seg=True)
    rows, cols = np.nonzero(frame.seg == 1)
    T = np.diag([1.0, -1.0, -1.0, 1.0])  # the camera at the origin, MuJoCo axes -> OpenCV
    uv, _ = project(np.array([[0.3, 0.2, -2.0]]), K, T)
    assert abs(cols.mean() + 0.5 - uv[0, 0]) < 0.3 and abs(rows.mean() + 0.5 - uv[0, 1]) < 0.3
    renderer.close()


def test_calibration_error_reports_the_nominal_camera():
    env = gym.make("roboref/Refer-UR5e-v0", randomization={"preset": "strong", "calibration_error": True})
    obs, info = env.reset(seed=2)
    u = env.unwrapped
    K_true, T_true = u.sim.camera_pose("agent")
    f = 112 / np.tan(np.radians(30))
    assert np.allclose(obs["intrinsics"], [[f, 0, 112], [0, f, 112], [0, 0, 1]], atol=1e-3)
    assert np.allclose(K_true, info["randomization"]["camera"]["K"], atol=1e-3)
    assert not np.allclose(obs["extrinsics"], T_true, atol=1e-4)
    assert np.allclose(obs["extrinsics"][:3, 3], [0.75, 0.0, 1.62], atol=1e-5)
    env.close()


def test_training_presets_never_use_heldout_textures_and_heldout_only_does():
    assert set(PRESETS["light"].texture_kinds) == set(PRESETS["strong"].texture_kinds) == set(TRAIN_KINDS)
    assert not set(TRAIN_KINDS) & set(HELDOUT_KINDS)
    assert PRESETS["light"].light_tint == PRESETS["strong"].light_tint == 0
    env = gym.make("roboref/Refer-UR5e-v0", randomization="heldout")
    kinds = set()
    for seed in range(4):
        _, info = env.reset(seed=seed)
        r = info["randomization"]
        kinds |= {s["kind"] for s in r["surfaces"].values()}
        kinds |= {o["texture"] for o in r["objects"] if o["texture"]}
        assert r["surfaces"]["backdrop"] and len(r["distractors"]) >= 2
    assert kinds and kinds <= set(HELDOUT_KINDS)
    env.close()


def test_textures_lights_and_dynamics_are_written_and_restored(strong_env):
    u = strong_env.unwrapped
    m = u.sim.model
    _, info = strong_env.reset(seed=7)
    r = info["randomization"]
    table = u.frame.seg == SEG_TABLE
    obs = strong_env.unwrapped._obs()
    assert obs["rgb"][table].std(axis=0).mean() > 8  # a textured table, not one flat colour
    assert m.light_active.sum() == 1 + len(r["lights"]["extra"])
    for k, o in enumerate(r["objects"]):
        p = u.sim.world.props(u.scene.objects[k])
        body = u.sim.world.slot_body[k]
        assert abs(m.body_mass[body] / p.mass - o["mass"]) < 1e-4 and 0.95 <= o["mass"] <= 1.05
        assert 0.9 <= o["friction"] <= 1.1
        assert abs(m.geom_friction[u.sim.world.slot_geoms[k][0], 0] - o["friction"]) < 1e-4
    strong_env.reset(seed=8)
    strong_env.reset(seed=7)  # nothing compounds: the same values again
    for k, o in enumerate(r["objects"]):
        assert abs(m.geom_friction[u.sim.world.slot_geoms[k][0], 0] - o["friction"]) < 1e-4


def test_hsv_round_trip():
    rgb = np.random.default_rng(0).random((500, 3))
    assert np.allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-9)


def test_wrapper_equals_the_keyword_argument(strong_env):
    env = DomainRandomization(gym.make("roboref/Refer-UR5e-v0"), "strong", depth_noise="realsense")
    a, info = env.reset(seed=11)
    b, ref = strong_env.reset(seed=11)
    assert _bits(a) == _bits(b) and info["randomization"] == ref["randomization"]
    env.close()


def test_pick_env_randomizes_and_executes():
    env = gym.make("roboref/PickPlace-UR5e-v0", randomization={"preset": "strong", "distractors": [0, 0]})
    obs, info = env.reset(seed=1)
    assert "camera" in info["randomization"] and "objects" in info["randomization"]
    mask = env.unwrapped.task.mask
    rows, cols = np.nonzero(mask)
    point = np.array([(cols.mean() + 0.5) / 224, (rows.mean() + 0.5) / 224], np.float32)
    _, _, _, _, step_info = env.step(point)
    assert step_info["reward_terms"]["point"] == 1.0 and "execution" in step_info
    env.close()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("medium", ["unknown", "medium", "light", "strong", "none", "heldout"]),
        ({"preset": "light", "colour": 0.1}, ["unknown", "colour", "color_hue", "camera_fov"]),
        ({"color_value": -0.1}, ["color_value", ">= 0"]),
        ({"light_pos": float("inf")}, ["light_pos"]),
        ({"mass": 1.5}, ["mass", "< 1"]),
        ({"camera_fov": 95}, ["camera_fov", "< 90"]),
        ({"texture_kinds": ["wood", "plaid"]}, ["plaid", "checker", "marble"]),
        ({"extra_lights": [0, 9]}, ["extra_lights", "<= 3"]),
        ({"object_textures": 2}, ["object_textures", "[0, 1.0]"]),
    ],
)
def test_bad_randomization_gets_clear_errors(value, words):
    with pytest.raises(ValueError) as e:
        RandomizationConfig.from_any(value)
    for w in words:
        assert w in str(e.value)


def test_fov_pushed_to_zero_and_bad_env_kwargs_are_refused():
    with pytest.raises(ValueError, match=r"outside \(0, 170\)"):
        gym.make("roboref/Refer-UR5e-v0", randomization={"camera_fov": 60})
    with pytest.raises(ValueError, match="allowed"):
        gym.make("roboref/PickPlace-UR5e-v0", randomization="shifted")


def test_shifted_suite_is_heldout_rgb_only_and_quality():
    from omegaconf import OmegaConf

    from roboref.envs.refer_env import ReferEnvConfig
    from roboref.seeds import locate, suite_seed

    suite = OmegaConf.to_container(OmegaConf.load(Path(__file__).parents[1] / "configs/suite/shifted.yaml"))
    assert locate(suite_seed(suite["seed_base"], len(suite["segments"]) - 1, 499))[0] == "suite:other"
    modes = set()
    for seg in suite["segments"]:
        cfg = ReferEnvConfig.from_kwargs(**seg["env"])
        assert cfg.quality and RandomizationConfig.from_any(cfg.randomization) == PRESETS["heldout"]
        modes.add(seg["env"]["depth_noise"])
    assert modes == {"realsense", "no_depth"}


def test_g1_randomizes_with_exact_segmentation():
    env = gym.make("roboref/Refer-G1-v0", randomization="strong", depth_noise="no_depth")
    obs, info = env.reset(seed=4)
    u = env.unwrapped
    assert info["depth_mode"] == "none" and not obs["depth"].any() and info["randomization"]["camera"]
    u.sim.renderer.seg_mode = "two_pass"
    assert np.array_equal(u.sim.render("agent", seg=True).seg, u.frame.seg)
    assert u.task.mask.any() and env.observation_space.contains(obs)
    env.close()
