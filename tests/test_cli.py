import json
import subprocess
import sys

import imageio.v2 as imageio
import pytest

from roboref.cli import main


def test_demo_writes_video_frames_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "agent=oracle", "episodes=2", f"out={out}", "hold_frames=1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["robot"] == "ur5e" and summary["episodes"] == 2
    assert summary["success_rate"] == 1.0  # the oracle
    frames = sorted((out / "frames").glob("*.png"))
    assert len(frames) == 2
    reader = imageio.get_reader(out / "demo.mp4")
    video = [f for f in reader]
    assert len(video) == 4  # 2 episodes x (before, after) x hold_frames=1
    assert video[0].std() > 10  # a real picture, not a blank frame
    printed = capsys.readouterr().out
    assert "success rate 1.00" in printed and "instruction" in printed


def test_demo_overrides_robot_and_agent(tmp_path):
    out = tmp_path / "g1"
    assert main(["demo", "robot=g1", "agent=random", "episodes=1", f"out={out}"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["robot"] == "g1" and summary["agent"] == "random"


def test_bad_overrides_exit_2_with_a_message(tmp_path, capsys):
    assert main(["demo", "robot=panda", f"out={tmp_path}"]) == 2
    assert "panda" in capsys.readouterr().err
    assert main(["demo", "no_such_key=1"]) == 2
    assert "no_such_key" in capsys.readouterr().err
    assert main(["fly"]) == 2
    assert "demo" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "roboref.cli", "--help"], capture_output=True, text=True, check=True)
    assert "roboref demo" in out.stdout


def test_default_demo_runs_the_shipped_refpoint_model(tmp_path):
    out = tmp_path / "refpoint"
    assert main(["demo", "episodes=3", f"out={out}", "hold_frames=1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent"] == "refpoint" and summary["episodes"] == 3
    assert all(0 <= r["point"][0] <= 1 and 0 <= r["point"][1] <= 1 for r in summary["results"])


RECORDER = "agent=py:eval_agents_for_tests:RecordingAgent"


@pytest.mark.parametrize("command", ["demo", "video"])
def test_every_episode_resets_the_agent_with_its_seed_before_it_acts(tmp_path, command):
    """A stochastic agent re-seeds at ``reset(seed)``; a loop that skips it makes the episode depend
    on what ran before (demo and video once did)."""
    from eval_agents_for_tests import RecordingAgent

    RecordingAgent.calls.clear()
    assert main([command, RECORDER, "episodes=2", "seed=5", f"out={tmp_path / command}"]) == 0
    assert [c[0] for c in RecordingAgent.calls] == ["reset", "act", "reset", "act"]
    assert [c[1] for c in RecordingAgent.calls if c[0] == "reset"] == [5, 6]


def test_demo_steps_the_env_with_the_whole_answer(tmp_path):
    """The agent's text and reasoning steps reach the reward (here the strict RoboRefer preset,
    which scores the answer's format and steps), not just its point."""
    import gymnasium as gym

    from roboref.envs.tasks import AgentOutput

    out = tmp_path / "demo"
    assert main(["demo", "agent=oracle", "episodes=1", "+env.reward=roborefer", f"out={out}"]) == 0
    reward = json.loads((out / "summary.json").read_text())["results"][0]["reward"]
    env = gym.make(
        "roboref/Refer-UR5e-v0", num_objects=[4, 15], image_size=[224, 224], quality=False, reward="roborefer"
    )
    env.reset(seed=0)
    task = env.unwrapped.task
    _, whole, *_ = env.step(AgentOutput(point=task.point, text=task.answer, steps=task.steps))
    env.reset(seed=0)
    _, bare, *_ = env.step(task.point)
    env.close()
    assert whole > bare
    assert reward == pytest.approx(whole)
