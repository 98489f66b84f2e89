"""The outcome table (issue 18): outcomes executed once per prompt and cell, then looked up."""

import gymnasium as gym
import numpy as np
import pytest

from roboref.outcome_batch import Group, score_group
from roboref.outcome_table import OutcomeTable, Prompt
from roboref.sim_reward import SimOutcomeReward
from roboref.workers import Worker

GRID = 28


def _prompts(kind: str, seeds, size: int, rng_seed: int = 0):
    """Prompts of a ``kind``-only UR5e env and ``size`` points per prompt: points inside the mask
    (drawn at random, so several share a cell) and the image corner (off the table)."""
    env = gym.make("roboref/Refer-UR5e-v0", kinds=[kind])
    prompts, points = [], []
    rng = np.random.default_rng(rng_seed)
    for seed in seeds:
        env.reset(seed=seed)
        t = env.unwrapped.task
        prompts.append(Prompt("ur5e", seed, t.instruction, t.kind, t.mask.copy()))
        rows, cols = np.nonzero(t.mask)
        h, w = t.mask.shape
        pts = [((cols[k] + 0.5) / w, (rows[k] + 0.5) / h) for k in rng.integers(len(rows), size=size - 1)]
        points.append([*pts, (0.002, 0.002)])
    env.close()
    return prompts, np.array(points)


@pytest.mark.parametrize("kind,seeds", [("location", (3, 4)), ("placement", (6,))])
def test_table_scores_as_the_batched_path_and_executes_each_key_once(tmp_path, kind, seeds):
    """Scores equal ``score_group`` with the heatmap grid on the same points; a second batch of
    other points in the same cells executes nothing; a new table on the same file re-executes
    nothing; a point outside the mask scores 0 unexecuted."""
    prompts, points = _prompts(kind, seeds, size=6)
    path = tmp_path / "outcomes.jsonl"
    table = OutcomeTable(SimOutcomeReward({"kinds": [kind]}, place_grid=GRID), GRID, path)
    scores, reasons = table.scores(prompts, points)
    keys = {(i, table.cell(kind, p)) for i, row in enumerate(points) for p in row[:-1]}
    assert table.executed == len(keys) and len(table) == len(keys)
    assert (scores[:, -1] == 0).all() and all(r[-1].startswith(("pointed outside", "placed outside")) for r in reasons)
    assert scores.max() > 0, reasons  # something really executed and succeeded

    with Worker() as worker:
        env_json = table.scorer.env_kwargs_json
        for i, p in enumerate(prompts):
            texts = tuple(f"<answer>({x:.6f}, {y:.6f})</answer>" for x, y in points[i])
            ref = score_group(Group("ur5e", env_json, p.seed, p.instruction, texts, GRID), worker)
            assert [s[0] for s in ref] == list(scores[i]), (ref, reasons[i])

    # the same cells, other points (the first point of every cell moved to another in it)
    again = points.copy()
    again[:, :-1] = again[:, :-1][:, ::-1]
    executed = table.executed
    assert (table.scores(prompts, again)[0] == scores[:, ::-1][:, list(range(1, 6)) + [0]]).all()
    assert table.executed == executed and table.looked_up > 0
    table.close()

    with path.open("a") as fh:
        fh.write('{"prompt": ["ur5e", 3')  # a killed run's torn last line
    reloaded = OutcomeTable(SimOutcomeReward({"kinds": [kind]}, place_grid=GRID), GRID, path)
    assert len(reloaded) == len(keys)
    assert (reloaded.scores(prompts, points)[0] == scores).all() and reloaded.executed == 0
    reloaded.close()


def test_bad_points_and_kinds_get_clear_outcomes():
    """A NaN point scores 0 unexecuted; an unknown task kind or grid is an error naming it."""
    prompts, points = _prompts("location", (3,), size=2)
    table = OutcomeTable(SimOutcomeReward({"kinds": ["location"]}), GRID)
    points[0, 0] = np.nan
    scores, reasons = table.scores(prompts, points)
    assert (scores == 0).all() and table.executed == 0 and reasons[0][0].startswith("pointed outside")
    bad = [Prompt("ur5e", 3, "", "pouring", prompts[0].mask)]
    with pytest.raises(ValueError, match="pouring"):
        table.scores(bad, points)
    with pytest.raises(ValueError, match="grid"):
        OutcomeTable(table.scorer, 0)
    table.close()
