import json

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from roboref.agents import AgentOutput, RandomAgent
from roboref.refspatial import evaluate_agent, load_split, score_answer


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A tiny RefSpatial-Bench-shaped folder rendered by our env (never downloaded)."""
    root = tmp_path_factory.mktemp("refspatial")
    for split, kind in (("Location", "location"), ("Placement", "placement")):
        env = gym.make("roboref/Refer-UR5e-v0", kinds=[kind])
        folder = root / split
        (folder / "image").mkdir(parents=True)
        (folder / "mask").mkdir()
        entries = []
        for i in range(3):
            obs, _ = env.reset(seed=100 + i)
            task = env.unwrapped.task
            Image.fromarray(obs["rgb"]).save(folder / "image" / f"{i}.png")
            Image.fromarray(task.mask.astype(np.uint8) * 255).save(folder / "mask" / f"{i}.png")
            entries.append(
                {
                    "id": i,
                    "rgb_path": f"image/{i}.png",
                    "mask_path": f"mask/{i}.png",
                    "object": task.instruction,
                    "prompt": task.instruction,
                    "suffix": "Answer with [(x, y)].",
                    "step": task.num_steps,
                    "_point": list(task.point),
                }
            )
        (folder / "question.json").write_text(json.dumps(entries))
        env.close()
    return root


class MaskCentreAgent:
    """A test double standing in for a model: it answers with a point it was handed."""

    def __init__(self, answers):
        self.answers = iter(answers)

    def act(self, obs):
        x, y = next(self.answers)
        return AgentOutput(point=(x, y), text=f"[({x:.4f}, {y:.4f})]")


def test_loader_reads_the_published_layout(bench):
    entries = load_split(bench, "location")
    assert len(entries) == 3 and entries[0].image.exists() and entries[0].step >= 1
    rgb, mask = entries[0].load()
    assert rgb.shape == (224, 224, 3) and mask.any()


def test_scores_are_the_fraction_of_points_inside(bench):
    e = load_split(bench, "placement")[0]
    _, mask = e.load()
    rows, cols = np.nonzero(mask)
    inside = ((cols[0] + 0.5) / 224, (rows[0] + 0.5) / 224)
    out_r, out_c = np.nonzero(~mask)
    outside = ((out_c[0] + 0.5) / 224, (out_r[0] + 0.5) / 224)
    text = f"[({inside[0]}, {inside[1]}), ({outside[0]}, {outside[1]})]"
    assert score_answer(text, mask) == (0.5, True, "ok")
    assert score_answer("[(500, 300)]", mask)[:2] == (0.0, False)


def test_perfect_agent_scores_one_random_scores_low(bench):
    entries = load_split(bench, "location")
    truth = [json.loads((bench / "Location" / "question.json").read_text())[i]["_point"] for i in range(3)]
    perfect = evaluate_agent(MaskCentreAgent(truth), entries)
    assert [r["score"] for r in perfect] == [1.0, 1.0, 1.0]
    rand = evaluate_agent(RandomAgent(seed=0), entries)
    assert sum(r["score"] for r in rand) <= 1.0


def test_bad_layouts_give_clear_errors(tmp_path, bench):
    with pytest.raises(ValueError, match="splits"):
        load_split(bench, "outdoor")
    with pytest.raises(ValueError, match="Unseen"):
        load_split(bench, "unseen")
    (tmp_path / "Location").mkdir()
    (tmp_path / "Location" / "question.json").write_text(
        json.dumps([{"id": 1, "prompt": "x", "rgb_path": "a.png", "mask_path": "b.png"}])
    )
    with pytest.raises(ValueError, match="not found"):
        load_split(tmp_path, "location")


def test_eval_command_on_the_bench(bench, tmp_path, capsys):
    from roboref.cli import main

    out = tmp_path / "bench_eval"
    assert main(["eval", "agent=random", f"bench_dir={bench}", "bench_split=location", f"out={out}"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["n"] == 3 and "refspatial-location" in summary["mean_score"]
    assert main(["eval", "agent=random", f"bench_dir={bench}", "bench_split=location", f"out={out}"]) == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 3  # resumed, nothing repeated
    assert main(["eval", "agent=oracle", f"bench_dir={bench}", f"out={out}"]) == 2
    assert "simulator" in capsys.readouterr().err
