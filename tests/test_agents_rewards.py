import numpy as np
import pytest

from roboref.agents import Agent, OracleAgent, RandomAgent, make_agent
from roboref.rewards import point_in_mask


def test_point_in_mask_inside_outside_and_bad_points():
    mask = np.zeros((10, 20), bool)
    mask[2:5, 4:8] = True
    assert point_in_mask((6 / 20, 3 / 10), mask) == (1.0, "inside mask")
    assert point_in_mask((0.9, 0.9), mask)[0] == 0.0
    assert point_in_mask((8 / 20, 3 / 10), mask)[0] == 0.0  # the first column past the mask
    assert point_in_mask((1.0, 1.0), mask)[0] == 0.0  # the image's edge is a valid point
    for bad, word in [
        ((np.nan, 0.2), "finite"),
        ((0.2, 1.2), "outside"),
        ((0.1,), "2"),
        ("abc", "numeric"),
        ((np.inf, 0), "finite"),
    ]:
        value, reason = point_in_mask(bad, mask)
        assert value == 0.0 and word in reason


def test_random_agent_is_seeded_and_in_range():
    a, b = RandomAgent(seed=3), RandomAgent(seed=3)
    pts = [a.act({}).point for _ in range(50)]
    assert pts == [b.act({}).point for _ in range(50)]
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in pts)
    assert isinstance(a, Agent)


def test_oracle_point_is_inside_the_mask(ur5e_env):
    oracle = OracleAgent(ur5e_env)
    for seed in range(10):
        obs, _ = ur5e_env.reset(seed=seed)
        out = oracle.act(obs)
        assert point_in_mask(out.point, ur5e_env.unwrapped.task.mask)[0] == 1.0
        assert out.text == ur5e_env.unwrapped.task.answer


def test_random_agent_mostly_misses(ur5e_env):
    agent, hits = RandomAgent(seed=0), 0
    for seed in range(20):
        obs, _ = ur5e_env.reset(seed=seed)
        _, reward, _, _, _ = ur5e_env.step(np.array(agent.act(obs).point))
        hits += reward
    assert hits <= 5


def test_unknown_agent_lists_known_ones():
    with pytest.raises(ValueError, match="oracle"):
        make_agent("gpt")


def test_heuristic_agent_uses_only_the_observation_and_beats_random():
    import gymnasium as gym

    from roboref.agents import HeuristicAgent

    env = gym.make("roboref/Refer-UR5e-v0", kinds=["location"], num_steps=[1, 1])
    heuristic, rand, h_hits, r_hits = HeuristicAgent(seed=0), RandomAgent(seed=0), 0, 0
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        mask = env.unwrapped.task.mask
        h_hits += point_in_mask(heuristic.act(obs).point, mask)[0]
        r_hits += point_in_mask(rand.act(obs).point, mask)[0]
    env.close()
    assert h_hits >= 6 and h_hits > r_hits + 4
    # without depth or camera (RefSpatial-Bench images) it still answers a valid point
    out = heuristic.act({"rgb": obs["rgb"], "depth": None, "instruction": "Point to the red mug."})
    assert point_in_mask(out.point, mask)[1] in ("inside mask", "outside mask")
