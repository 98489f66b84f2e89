"""The RealSense-like depth model (envs/sensors.py): each component's statistics match its
parameters, the same generator gives the same noise, bad parameters are refused, and the env's
``depth_noise=`` / ``DepthNoise`` wrapper noise only the observation."""

import math

import gymnasium as gym
import numpy as np
import pytest

from roboref.envs.sensors import DEPTH_PRESETS, DepthNoiseConfig, apply_depth_noise, edge_mask
from roboref.envs.wrappers import DepthNoise

REALSENSE = DepthNoiseConfig(axial_a=0.0012, axial_b=0.0019, axial_c=0.4)


@pytest.mark.parametrize("z", [0.5, 1.0, 2.0, 3.0])
def test_axial_noise_std_on_a_flat_plane_matches_sigma_of_z(z):
    plane = np.full((300, 300), z, np.float32)
    noisy = apply_depth_noise(plane, np.random.default_rng(0), REALSENSE)
    sigma = 0.0012 + 0.0019 * (z - 0.4) ** 2
    err = noisy.astype(np.float64) - z
    assert abs(err.std() / sigma - 1) < 0.03  # 90,000 samples: std of the std ≈ 0.24 %
    assert abs(err.mean()) < 4 * sigma / 300
    assert np.isclose(REALSENSE.sigma(z), sigma)


def _expected_rounded_normal_std(sigma: float) -> float:
    """std of round(N(0, σ)), from the normal CDF."""
    cdf = lambda x: 0.5 * (1 + math.erf(x / (sigma * math.sqrt(2))))  # noqa: E731
    return math.sqrt(sum(k * k * (cdf(k + 0.5) - cdf(k - 0.5)) for k in range(-30, 31)))


@pytest.mark.parametrize("sigma", [0.8, 2.0])
def test_lateral_jitter_displacement_matches_its_sigma(sigma):
    h, w = 200, 260
    ramp = (1.0 + 0.01 * np.arange(w, dtype=np.float32))[None].repeat(h, 0)  # depth encodes the column
    noisy = apply_depth_noise(ramp, np.random.default_rng(1), DepthNoiseConfig(lateral_px=sigma))
    shift = np.rint((noisy[:, 20:-20] - ramp[:, 20:-20]) / 0.01)
    assert abs(shift.std() / _expected_rounded_normal_std(sigma) - 1) < 0.03
    assert abs(shift.mean()) < 0.02
    assert np.abs(shift).max() <= 20  # whole-pixel reads of real neighbours, nothing invented
    vertical = np.full((h, w), 1.0, np.float32) + 0.01 * np.arange(h, dtype=np.float32)[:, None]
    vshift = np.rint(
        (apply_depth_noise(vertical, np.random.default_rng(2), DepthNoiseConfig(lateral_px=sigma)) - vertical)[20:-20]
        / 0.01
    )
    assert abs(vshift.std() / _expected_rounded_normal_std(sigma) - 1) < 0.03


def test_edge_dropout_rate_on_edges_and_none_elsewhere():
    step = np.ones((200, 200), np.float32)
    step[:, 100:] = 2.0
    step[50:60, 20:40] = 0.7
    edges = edge_mask(step, 0.02)
    assert edges.sum() == 400 + 2 * (2 * 20 + 2 * 10) - 4  # both sides of every jump (4 inner corners twice)
    noisy = apply_depth_noise(step, np.random.default_rng(3), DepthNoiseConfig(edge_dropout=0.5))
    dropped = noisy == 0
    assert not dropped[~edges].any()
    assert abs(dropped[edges].mean() - 0.5) < 0.06
    assert (apply_depth_noise(step, np.random.default_rng(3), DepthNoiseConfig(edge_dropout=1.0))[edges] == 0).all()


@pytest.mark.parametrize(("rate", "size"), [(0.01, 1), (0.004, 3)])
def test_hole_fraction_matches_rate_and_size(rate, size):
    plane = np.full((400, 400), 1.0, np.float32)
    noisy = apply_depth_noise(plane, np.random.default_rng(4), DepthNoiseConfig(hole_rate=rate, hole_size=size))
    inner = noisy[size:, size:]
    expected = 1 - (1 - rate) ** (size * size)
    assert abs((inner == 0).mean() / expected - 1) < 0.1
    assert set(np.unique(noisy).tolist()) <= {0.0, 1.0}


def test_quantization_steps_and_max_range():
    rng = np.random.default_rng(5)
    depth = rng.uniform(0.3, 5.0, (100, 100)).astype(np.float32)
    out = apply_depth_noise(depth, rng, DepthNoiseConfig(quantization=0.001, max_range=4.0))
    kept = out > 0
    assert np.allclose(out[kept] / 0.001, np.rint(out[kept] / 0.001), atol=1e-3)
    assert np.abs(out[kept] - depth[kept]).max() <= 0.0005 + 1e-6
    assert (out[depth > 4.0 + 0.001] == 0).all() and (kept == (depth <= 4.0005)).all()


def test_invalid_input_stays_zero_and_no_depth_is_all_zeros():
    depth = np.full((20, 30), 1.5, np.float32)
    depth[3, 4] = 0.0
    depth[5, 6] = np.nan
    out = apply_depth_noise(depth, np.random.default_rng(6), REALSENSE)
    assert out[3, 4] == 0 and out[5, 6] == 0 and np.isfinite(out).all()
    assert (apply_depth_noise(depth, np.random.default_rng(6), DEPTH_PRESETS["no_depth"]) == 0).all()
    assert DEPTH_PRESETS["no_depth"].mode == "none" and DEPTH_PRESETS["none"].mode == "exact"


def test_same_seed_same_noise_and_other_seed_other_noise():
    depth = np.random.default_rng(7).uniform(0.5, 2.5, (64, 64)).astype(np.float32)
    cfg = DEPTH_PRESETS["realsense"]
    a = apply_depth_noise(depth, np.random.default_rng(11), cfg)
    b = apply_depth_noise(depth, np.random.default_rng(11), cfg)
    c = apply_depth_noise(depth, np.random.default_rng(12), cfg)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert a.dtype == np.float32 and a.shape == depth.shape


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"axial_a": -0.001}, ["axial_a", ">= 0"]),
        ({"lateral_px": float("nan")}, ["lateral_px"]),
        ({"hole_rate": 1.5}, ["hole_rate", "[0, 1]"]),
        ({"hole_size": 0}, ["hole_size"]),
        ({"edge_threshold": 0}, ["edge_threshold"]),
        ({"axial_sigma": 0.1}, ["unknown", "axial_sigma", "axial_a", "quantization"]),
        ("kinect", ["unknown", "kinect", "realsense", "no_depth"]),
        (3, ["preset name"]),
    ],
)
def test_bad_depth_noise_parameters_get_clear_errors(value, words):
    with pytest.raises(ValueError) as e:
        DepthNoiseConfig.from_any(value)
    for w in words:
        assert w in str(e.value)


def test_bad_depth_noise_is_refused_at_make_time():
    with pytest.raises(ValueError, match="hole_rate"):
        gym.make("roboref/Refer-UR5e-v0", depth_noise={"preset": "realsense", "hole_rate": -1})
    with pytest.raises(ValueError, match=r"\(H, W\) array"):
        apply_depth_noise(np.zeros((2, 3, 4)), np.random.default_rng(0), REALSENSE)


@pytest.fixture(scope="module")
def noisy_env():
    env = gym.make("roboref/Refer-UR5e-v0", depth_noise="realsense")
    yield env
    env.close()


def test_env_depth_noise_changes_only_the_observed_depth(noisy_env, ur5e_env):
    obs, info = noisy_env.reset(seed=21)
    ref, _ = ur5e_env.reset(seed=21)
    assert info["depth_mode"] == "noisy" and info["randomization"] == {}
    assert obs["rgb"].tobytes() == ref["rgb"].tobytes()  # a sensor model, not another scene
    assert obs["instruction"] == ref["instruction"]
    assert np.array_equal(noisy_env.unwrapped.task.mask, ur5e_env.unwrapped.task.mask)
    assert obs["depth"].tobytes() != ref["depth"].tobytes()
    table = noisy_env.unwrapped.frame.seg == 254
    err = (obs["depth"] - ref["depth"])[table & (obs["depth"] > 0)]
    robust_std = 1.4826 * np.median(np.abs(err))  # lateral jitter makes a few off-table reads at edges
    assert 0.001 < robust_std < 0.01
    assert noisy_env.observation_space.contains(obs)
    again, _ = noisy_env.reset(seed=21)
    assert again["depth"].tobytes() == obs["depth"].tobytes()


def test_no_depth_observation_is_zeros_in_the_same_space_and_said_in_info():
    env = gym.make("roboref/Refer-UR5e-v0", depth_noise="no_depth")
    obs, info = env.reset(seed=3)
    assert info["depth_mode"] == "none"
    assert obs["depth"].shape == (224, 224) and not obs["depth"].any()
    assert env.observation_space.contains(obs)
    obs2, *_ = env.step(np.array([0.5, 0.5], np.float32))
    assert not obs2["depth"].any()
    env.close()


def test_depth_noise_wrapper_is_seeded_by_the_episode(ur5e_env):
    env = DepthNoise(ur5e_env, "realsense")
    a, info = env.reset(seed=8)
    b, _ = env.reset(seed=8)
    c, _ = env.reset(seed=9)
    assert info["depth_mode"] == "noisy"
    assert a["depth"].tobytes() == b["depth"].tobytes() != c["depth"].tobytes()
    ref, _ = ur5e_env.reset(seed=8)
    assert a["rgb"].tobytes() == ref["rgb"].tobytes() and a["depth"].tobytes() != ref["depth"].tobytes()
