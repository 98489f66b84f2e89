import gymnasium as gym

from roboref.sim_reward import SimOutcomeReward


def test_sim_outcome_reward_executes_completions():
    env_kwargs = {"kinds": ["location"], "num_steps": [1, 2]}
    env = gym.make("roboref/Refer-UR5e-v0", **env_kwargs)
    rows = []
    for seed in (11, 12):
        env.reset(seed=seed)
        t = env.unwrapped.task
        rows.append((seed, t.instruction, f"[({t.point[0]:.4f}, {t.point[1]:.4f})]"))
    env.close()
    reward = SimOutcomeReward(env_kwargs, workers=1)
    seeds = [r[0] for r in rows] + [rows[0][0], rows[0][0]]
    instructions = [r[1] for r in rows] + [rows[0][1], "something else"]
    completions = [r[2] for r in rows] + ["[(1000, 5)]", rows[0][2]]
    scores = reward(prompts=[""] * 4, completions=completions, seed=seeds, instruction=instructions, robot=["ur5e"] * 4)
    assert sum(scores[:2]) >= 1.0  # the oracle points get picked up (UR5e picks ~90 %+)
    assert scores[2] == 0.0 and "pixel" in reward.last_reasons[2]
    assert scores[3] == 0.0 and "reproduce" in reward.last_reasons[3]
    assert reward.__name__ == "roboref_outcome"


def test_grpo_with_the_simulator_in_the_loop_logs_the_outcome_term(tmp_path):
    import csv
    import json

    from roboref.cli import main

    out = tmp_path / "rft_sim"
    args = [
        "train",
        "vlm-rft",
        f"out={out}",
        "trainer.max_steps=2",
        "trainer.save_steps=2",
        "data.num_samples=4",
        "reward.sim_outcome.enabled=true",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reward_terms"][-1] == "roboref_outcome" and summary["reward_weights"][-1] == 0.5
    rows = [r for r in csv.DictReader(open(out / "metrics.csv")) if r.get("loss")]
    assert len(rows) == 2 and all("rewards/roboref_outcome/mean" in r for r in rows)
    assert all(0.0 <= float(r["rewards/roboref_outcome/mean"]) <= 1.0 for r in rows)


def test_only_expected_failures_score_zero_and_are_counted(caplog):
    """A seed the task engine has no program for (one object cannot be 'between' two) scores 0,
    counted and logged by reason; any other error (an impossible env config) propagates."""
    import pytest

    reward = SimOutcomeReward({"num_objects": [1, 1], "relations": ["between"], "num_steps": [2, 2]}, workers=1)
    with caplog.at_level("WARNING", logger="roboref.sim_reward"):
        scores = reward(completions=["[(0.5, 0.5)]"] * 2, seed=[7, None], robot=["ur5e", "ur5e"])
    reward.close()
    assert scores == [0.0, 0.0]
    assert reward.last_reasons[0].startswith("NoTaskError: no valid referring program in 50 scenes")
    assert reward.last_reasons[1] == "row has no seed"
    assert reward.skipped == {"NoTaskError": 1, "no seed": 1}
    assert "scored 2 of 2 completions 0" in caplog.text and "NoTaskError" in caplog.text

    broken = SimOutcomeReward({"num_objects": [40, 40]}, workers=1)
    with pytest.raises(ValueError, match="num_objects"):  # not a silent reward of 0
        broken(completions=["[(0.5, 0.5)]"], seed=[7], robot=["ur5e"])
