"""RefPoint: checkpoints, SFT/RFT training guarantees (resume, NaN stop), sampling, the agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from refpoint_tiny import TINY

from roboref.agents.refpoint.batches import TextCache, batch_indices, batch_tensors
from roboref.agents.refpoint.checkpoint import list_checkpoints
from roboref.agents.refpoint.config import RefPointConfig
from roboref.agents.refpoint.data import SampleSet, build_cache, shard_specs
from roboref.agents.refpoint.loop import read_index_log
from roboref.agents.refpoint.model import RefPointModel
from roboref.agents.refpoint.sampling import sample_points
from roboref.agents.refpoint.sft import RefPointSFTConfig, point_cells, sft_loss, train_sft


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A few real env samples at the tiny model's resolution (generated once per module)."""
    d = tmp_path_factory.mktemp("refpoint_cache")
    specs = shard_specs(12, "train", ["ur5e"], 48, 12, 3.0, shard_size=12)
    specs += shard_specs(4, "val", ["ur5e"], 48, 12, 3.0, shard_size=4)
    build_cache(specs, d, progress=False)
    return d


@pytest.fixture(scope="module")
def samples(cache_dir):
    return SampleSet(sorted(cache_dir.glob("*-train-*.npz")))


def sft_cfg(out, cache_dir, **kw) -> RefPointSFTConfig:
    base = dict(
        out=str(out),
        cache_dir=str(cache_dir),
        num_samples=12,
        val_samples=4,
        robots=("ur5e",),
        shard_size=12,
        batch_size=4,
        max_steps=6,
        save_every=3,
        eval_every=3,
        log_every=1,
        warmup_steps=2,
        progress=False,
        threads=1,
        model=dict(TINY),
    )
    return RefPointSFTConfig(**{**base, **kw})


def rft_cfg(tmp_path, **kw):
    """An RFT run of the tiny model (saved to ``tmp_path/init``) on the fixture samples."""
    from roboref.agents.refpoint.rft import RefPointRFTConfig

    tiny_model().save_pretrained(tmp_path / "init")
    base = dict(
        init=str(tmp_path / "init"),
        out=str(tmp_path / "rft"),
        log_every=1,
        warmup_steps=1,
        progress=False,
        threads=1,
    )
    return RefPointRFTConfig(**{**base, **kw})


def tiny_model(seed: int = 0, **kw) -> RefPointModel:
    torch.manual_seed(seed)
    return RefPointModel(RefPointConfig.from_dict({**TINY, **kw}))


def test_save_load_round_trip_gives_identical_outputs(tmp_path, samples):
    model = tiny_model().eval()
    texts = TextCache(model, samples)
    t = batch_tensors(model, samples, texts, np.arange(4))
    before = model(t["rgb"], t["depth"], t["text"], t["text_mask"])
    model.save_pretrained(tmp_path / "m")
    loaded = RefPointModel.from_pretrained(tmp_path / "m")
    after = loaded(t["rgb"], t["depth"], t["text"], t["text_mask"])
    assert loaded.config == model.config
    for a, b in zip((before.logits, before.depth, before.kind), (after.logits, after.depth, after.kind), strict=True):
        assert torch.equal(a, b)


def test_corrupt_and_mismatched_checkpoints_raise_clear_errors(tmp_path):
    d = tmp_path / "m"
    tiny_model().save_pretrained(d)
    weights = d / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"model\.safetensors.*corrupt"):
        RefPointModel.from_pretrained(d)
    weights.write_bytes(good)
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "dim": 32}))
    with pytest.raises(ValueError, match=r"does not match .*config\.json.*shape mismatches"):
        RefPointModel.from_pretrained(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config\.json: not a valid RefPoint config"):
        RefPointModel.from_pretrained(d)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        RefPointModel.from_pretrained(d)


def test_sft_steps_reduce_the_loss_on_a_fixed_batch(samples):
    model = tiny_model().train()
    texts = TextCache(model, samples)
    t = batch_tensors(model, samples, texts, np.arange(8))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    cfg = RefPointSFTConfig()
    losses = []
    for _ in range(25):
        loss, _ = sft_loss(model(t["rgb"], t["depth"], t["text"], t["text_mask"]), t, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0], losses


def test_point_target_trains_the_answer_cell_not_the_whole_mask(samples):
    """``target="point"`` is cross-entropy on the answer point's cell only: training on it puts the
    arg-max on that cell, while the mask loss of the same logits stays a separate quantity."""
    model = tiny_model().train()
    texts = TextCache(model, samples)
    t = batch_tensors(model, samples, texts, np.arange(4))
    grid = model.config.grid
    cells = point_cells(t["point"], grid)
    x, y = t["point"][0].tolist()
    assert int(cells[0]) == min(int(y * grid), grid - 1) * grid + min(int(x * grid), grid - 1)
    assert all(t["target"][i].flatten()[cells[i]] > 0 for i in range(4))  # the answer lies in its mask
    cfg_point, cfg_mask = RefPointSFTConfig(target="point"), RefPointSFTConfig()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss, parts = sft_loss(model(t["rgb"], t["depth"], t["text"], t["text_mask"]), t, cfg_point)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = model(t["rgb"], t["depth"], t["text"], t["text_mask"])
    assert torch.equal(out.logits.flatten(1).argmax(-1), cells)
    _, point_parts = sft_loss(out, t, cfg_point)
    _, mask_parts = sft_loss(out, t, cfg_mask)
    assert point_parts["point_ce"] < mask_parts["point_ce"]
    with pytest.raises(ValueError, match="target must be 'mask' or 'point'"):
        RefPointSFTConfig.from_dict({"target": "box"})


def test_batches_are_a_pure_function_of_seed_and_step():
    n, b = 10, 4
    seen = np.concatenate([batch_indices(0, s, b, n) for s in range(5)])  # two epochs
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))
    assert np.array_equal(batch_indices(0, 3, b, n), batch_indices(0, 3, b, n))
    assert not np.array_equal(batch_indices(0, 0, b, n), batch_indices(1, 0, b, n))


def test_killed_run_resumes_without_repeating_or_skipping_data(tmp_path, cache_dir):
    steps = 40
    ref = train_sft(sft_cfg(tmp_path / "ref", cache_dir, max_steps=steps, save_every=5, eval_every=100))
    assert ref.status == "done"
    expected = read_index_log(tmp_path / "ref" / "data_indices.txt")
    assert sorted(expected) == list(range(steps))

    out = tmp_path / "killed"
    cfg = sft_cfg(out, cache_dir, max_steps=steps, save_every=5, eval_every=100)
    script = (
        "import json, sys; from roboref.agents.refpoint.sft import RefPointSFTConfig, train_sft; "
        "train_sft(RefPointSFTConfig(**json.loads(sys.argv[1])))"
    )
    args = json.dumps({**cfg.__dict__, "robots": list(cfg.robots)})
    proc = subprocess.Popen([sys.executable, "-c", script, args], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 60
    while not list_checkpoints(out) and time.time() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    kept = list_checkpoints(out)
    assert kept, "the run wrote no checkpoint before it was killed"
    assert not (out / "final").exists(), "the run finished before it could be killed"
    resumed = train_sft(cfg)
    assert resumed.status == "done" and resumed.step == steps
    assert read_index_log(out / "data_indices.txt") == expected


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, cache_dir, samples):
    out = tmp_path / "nan"
    first = train_sft(sft_cfg(out, cache_dir, max_steps=2, save_every=2), train_set=samples, val_set=samples)
    assert first.status == "done"
    bad = SampleSet(samples.paths)
    bad.arrays["depth"] = np.full_like(bad.arrays["depth"], np.nan)
    result = train_sft(sft_cfg(out, cache_dir, max_steps=4, save_every=2), train_set=bad, val_set=samples)
    assert result.status == "nan" and result.step == 2
    assert "step-0000002" in result.message
    assert [p.name for p in list_checkpoints(out)] == ["step-0000002"]
    RefPointModel.from_pretrained(list_checkpoints(out)[-1])  # still loadable


def test_runs_log_to_csv_tensorboard_and_a_plot(tmp_path, cache_dir, samples):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from roboref.agents.refpoint.metrics import plot_metrics, read_metrics

    out = tmp_path / "logged"
    train_sft(sft_cfg(out, cache_dir, max_steps=4, eval_every=2), train_set=samples, val_set=samples)
    rows = read_metrics(out / "metrics.csv")
    val_steps = [r["step"] for r in rows if r["split"] == "val" and r["name"] == "success"]
    assert val_steps == [2, 4]
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("val/success")] == val_steps
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    with Image.open(out / "metrics.png") as img:
        assert img.size[0] > 300 and img.size[1] > 100
    assert plot_metrics(out / "metrics.csv", tmp_path / "again.png") == {
        "train/loss": 4,
        "train/point_ce": 4,
        "val/success": 2,
    }


def test_heatmap_sampling_is_reproducible_with_a_seed():
    logits = torch.randn(3, 12, 12)
    a = sample_points(logits, 8, torch.Generator().manual_seed(0))
    b = sample_points(logits, 8, torch.Generator().manual_seed(0))
    c = sample_points(logits, 8, torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    peaked = torch.full((1, 12, 12), -1e4)
    peaked[0, 5, 7] = 0.0
    cells, points = sample_points(peaked, 16, torch.Generator().manual_seed(0))
    assert (cells == 5 * 12 + 7).all()
    assert ((points[..., 0] >= 7 / 12) & (points[..., 0] < 8 / 12)).all()


def test_rft_runs_and_logs_rewards(tmp_path, cache_dir, samples):
    from roboref.agents.refpoint.loop import TrainResult
    from roboref.agents.refpoint.rft import train_rft

    cfg = rft_cfg(tmp_path, batch_size=2, group_size=4, max_steps=2, save_every=1, eval_every=2)
    result: TrainResult = train_rft(cfg, train_set=samples, val_set=samples)
    assert result.status == "done" and result.step == 2
    assert 0.0 <= result.metrics["point"] <= 1.0 and np.isfinite(result.metrics["kl"])
    again = train_rft(replace(cfg, max_steps=3), train_set=samples, val_set=samples)  # resumes at 2
    assert again.step == 3
    assert sorted(read_index_log(tmp_path / "rft" / "data_indices.txt")) == [0, 1, 2]


@pytest.mark.parametrize("kind", ["sft", "rft"])
def test_a_resumed_run_ends_bit_identical_to_an_uninterrupted_one(tmp_path, cache_dir, samples, kind):
    """Same config and seed: the same weights, optimizer state, metrics and data order, whether
    the run went through in one go or stopped at a checkpoint and was resumed."""
    from roboref.agents.refpoint.rft import train_rft

    def run(name: str, steps: int):
        if kind == "sft":
            cfg = sft_cfg(tmp_path / name, cache_dir, max_steps=steps, save_every=2, eval_every=2)
            return train_sft(cfg, train_set=samples, val_set=samples)
        cfg = rft_cfg(tmp_path, out=str(tmp_path / name), batch_size=2, group_size=4, max_steps=steps)
        return train_rft(replace(cfg, save_every=2, eval_every=2), train_set=samples, val_set=samples)

    whole = run("whole", 4)
    assert run("split", 2).step == 2
    split = run("split", 4)
    assert whole.status == split.status == "done" and whole.metrics == split.metrics
    for name in ("metrics.csv", "data_indices.txt"):
        assert (tmp_path / "whole" / name).read_text() == (tmp_path / "split" / name).read_text(), name
    for d in ("final", "best", "checkpoints/step-0000004"):
        a = RefPointModel.from_pretrained(tmp_path / "whole" / d).state_dict()
        b = RefPointModel.from_pretrained(tmp_path / "split" / d).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), d
    opt_a, opt_b = (torch.load(tmp_path / r / "checkpoints/step-0000004/optimizer.pt") for r in ("whole", "split"))
    assert opt_a["param_groups"] == opt_b["param_groups"]
    for i, st in opt_a["state"].items():
        assert all(torch.equal(v, opt_b["state"][i][k]) for k, v in st.items())


def test_agents_and_training_leave_torch_threads_as_they_found_them(tmp_path, cache_dir, samples):
    """torch's thread count is process-global: building an agent must not change it, and a
    training call that asks for ``threads`` restores it when it returns."""
    import inspect

    from roboref.agents.refpoint.agent import RefPointAgent
    from roboref.agents.refpoint.rft import train_rft

    original = torch.get_num_threads()
    torch.set_num_threads(3)  # anything but the 1 thread the runs below ask for
    try:
        asks = {"threads": 1} if "threads" in inspect.signature(RefPointAgent).parameters else {}
        RefPointAgent(model=tiny_model(), **asks)
        assert torch.get_num_threads() == 3
        train_sft(sft_cfg(tmp_path / "sft", cache_dir, max_steps=1, threads=1), train_set=samples, val_set=samples)
        assert torch.get_num_threads() == 3
        cfg = rft_cfg(tmp_path, batch_size=1, group_size=2, max_steps=1, threads=1)
        train_rft(cfg, train_set=samples, val_set=samples)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(original)


def test_rft_outcome_term_executes_points_in_the_simulator(tmp_path, samples):
    """With ``reward_weights.outcome`` > 0 every sampled point is executed by the robot's real
    controller on its re-created episode: the answer point of a pick task can succeed, a point on
    the image corner (off the table) never does."""
    from roboref.agents.refpoint.config import KINDS
    from roboref.agents.refpoint.rft import outcome_rewards, train_rft
    from roboref.outcome_table import OutcomeTable
    from roboref.sim_reward import SimOutcomeReward

    assert (samples.seeds >= 0).all() and set(samples.robots) == {"ur5e"}
    picks = np.array([i for i in range(len(samples)) if KINDS[int(samples.arrays["kind"][i])] == "location"][:4])
    assert len(picks) >= 2
    answer = torch.as_tensor(samples.arrays["point"][picks], dtype=torch.float32)[:, None]
    corner = torch.full_like(answer, 0.01)
    table = OutcomeTable(SimOutcomeReward({"task_split": "train"}), grid=28)
    scores = outcome_rewards(samples, picks, torch.cat([answer, corner], 1), table)
    assert scores.shape == (len(picks), 2) and table.executed == len(picks)
    assert (scores[:, 1] == 0).all() and scores[:, 0].max() > 0, (scores, table.table)
    table.close()

    cfg = rft_cfg(tmp_path, batch_size=1, group_size=2, max_steps=1, eval_every=1, reward_weights={"outcome": 1.0})
    result = train_rft(cfg, train_set=samples, val_set=samples)
    assert result.status == "done" and 0.0 <= result.metrics["outcome"] <= 1.0
    assert result.metrics["outcome_executions"] >= 0  # logged: how many executions the step needed


def test_sample_set_holds_every_shard_in_order_and_names_a_bad_shard(tmp_path, cache_dir, samples):
    train = sorted(cache_dir.glob("*-train-*.npz"))
    val = sorted(cache_dir.glob("*-val-*.npz"))
    both = SampleSet([*val, *train])
    assert both.sizes == [4, 12] and len(both) == 16
    for k, a in samples.arrays.items():
        assert np.array_equal(both.arrays[k][4:], a), k
    assert np.array_equal(both.seeds[4:], samples.seeds)
    # a shard of another resolution cannot join the set; a corrupt one is named
    with np.load(val[0]) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["rgb"] = arrays["rgb"][:, ::2, ::2]
    other = tmp_path / "other.npz"
    np.savez(other, **arrays)
    with pytest.raises(ValueError, match="other.npz"):
        SampleSet([*train, other])
    broken = tmp_path / "broken.npz"
    broken.write_bytes(train[0].read_bytes()[:1000])
    with pytest.raises(ValueError, match="broken.npz.*regenerate"):
        SampleSet([broken])


def test_shard_names_change_when_a_robot_moves(monkeypatch):
    """A cached shard is only reused for the same robot placement (mount and workspace)."""
    from roboref.agents.refpoint.data import ShardSpec, robot_tag
    from roboref.envs import robots

    spec = ShardSpec("g1", "train", 0, 250, 112, 28, 3.0)
    before = spec.name
    assert robot_tag("g1") in before and robot_tag("g1") != robot_tag("ur5e")
    moved = replace(robots.get_robot("g1"), mount_pos=(-0.80, 0.0, 0.04))
    monkeypatch.setitem(robots.ROBOTS, "g1", moved)
    assert spec.name != before


def test_advantages_are_group_relative_and_scaled_as_asked():
    from roboref.agents.refpoint.rft import RefPointRFTConfig, advantages

    r = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.52, 0.5, 0.5, 0.5]])
    none, group = advantages(r, "none"), advantages(r, "group")
    assert torch.allclose(none.sum(1), torch.zeros(2), atol=1e-6)  # zero mean in every group
    assert torch.allclose(none[0], torch.tensor([0.75, -0.25, -0.25, -0.25]))
    # group scaling blows a 0.02 reward gap up to the size of a 1.0 gap; "none" keeps it small
    assert torch.allclose(group[0], group[1], atol=0.02)
    assert none[1].abs().max() < 0.02
    assert torch.allclose(advantages(r, "batch"), none / (r.std() + 1e-4))
    with pytest.raises(ValueError, match="scale_rewards"):
        RefPointRFTConfig.from_dict({"scale_rewards": "median"})


def test_cli_train_sft_composes_its_config(capsys):
    from roboref.cli import main

    assert main(["train", "sft", "max_steps=5", "--cfg"]) == 0
    assert "max_steps: 5" in capsys.readouterr().out
    assert main(["train", "nope"]) == 2


def test_shipped_checkpoint_is_registered_and_beats_random():
    import gymnasium as gym

    import roboref.envs  # noqa: F401
    from roboref.agents import make_agent
    from roboref.agents.refpoint import shipped_checkpoint
    from roboref.rewards import point_in_mask
    from roboref.rewards.format import parse_answer

    if not (shipped_checkpoint() / "model.safetensors").is_file():
        pytest.fail(f"no shipped RefPoint checkpoint at {shipped_checkpoint()}")
    agent, rand = make_agent("refpoint"), make_agent("random", seed=0)
    env = gym.make("roboref/Refer-UR5e-v0", task_split="train")
    hits = {"refpoint": 0.0, "random": 0.0}
    for seed in range(3_000_000, 3_000_030):
        obs, _ = env.reset(seed=seed)
        task = env.unwrapped.task
        out = agent.act(obs)
        parsed = parse_answer(out.text)
        assert parsed.strict_layout and parsed.points == ((round(out.point[0], 3), round(out.point[1], 3)),)
        assert out.steps and out.steps[0].kind == "Position" and parsed.steps == out.steps
        rand.reset(seed)
        for name, o in (("refpoint", out), ("random", rand.act(obs))):
            hits[name] += point_in_mask(o.point, task.mask)[0]
    env.close()
    # measured with the shipped checkpoint: see the report in agents/refpoint/README.md
    assert hits["refpoint"] >= 5 and hits["refpoint"] >= hits["random"] + 4, hits


def test_anchor_labels_follow_the_trace():
    from roboref.agents.refpoint.anchors import anchor_labels

    steps = json.dumps(
        [
            {"kind": "Position", "subject": "red book", "value": [0.25, 0.75]},
            {"kind": "Depth", "subject": "red book", "value": 1.2},
            {"kind": "Position", "subject": "blue ball", "value": [0.9, 0.1]},
            {"kind": "Distance", "subject": "purple cup -> blue ball", "value": 0.58},
            {"kind": "Position", "subject": "purple cup", "value": [0.5, 0.5]},
            {"kind": "Depth", "subject": "purple cup", "value": 0.9},
        ]
    )
    c = RefPointConfig()
    lab = anchor_labels(steps, 3, 4, c.colors, c.categories)
    assert lab["exist"].tolist() == [1.0, 1.0, 0.0]  # the target (last Position) is no anchor
    assert lab["cell"].tolist() == [3 * 4 + 1, 0 * 4 + 3, -1]
    assert lab["depth"][0] == pytest.approx(1.2) and np.isnan(lab["depth"][1])
    assert np.isnan(lab["dist"][0]) and lab["dist"][1] == pytest.approx(0.58)
    assert c.colors[lab["color"][0]] == "red" and c.categories[lab["category"][1]] == "ball"


def test_anchor_slots_learn_on_a_fixed_batch(samples):
    from roboref.agents.refpoint.anchors import anchor_loss

    model = tiny_model(anchor_slots=2).train()
    t = batch_tensors(model, samples, TextCache(model, samples), np.arange(8))
    assert t["anchor_exist"].sum() > 0  # the fixture's traces name anchors
    opt = torch.optim.AdamW([p for n, p in model.named_parameters() if n.startswith("anchor_")], lr=1e-2)
    losses = []
    for _ in range(40):
        loss = anchor_loss(model(t["rgb"], t["depth"], t["text"], t["text_mask"]).anchors, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0], losses


def test_anchor_slots_train_on_a_frozen_model_and_are_stated(tmp_path, cache_dir, samples):
    """``train=anchors`` from a checkpoint: only the anchor slots change (the point and target
    heads give exactly the same outputs), and the agent states the slots' steps."""
    from roboref.agents.refpoint.agent import RefPointAgent
    from roboref.rewards.format import parse_answer

    tiny_model().save_pretrained(tmp_path / "base")
    cfg = sft_cfg(tmp_path / "anch", cache_dir, init=str(tmp_path / "base"), train="anchors", model={"anchor_slots": 2})
    result = train_sft(cfg, train_set=samples, val_set=samples)
    assert result.status == "done" and result.metrics["anchors"] > 0
    base = RefPointModel.from_pretrained(tmp_path / "base")
    trained = RefPointModel.from_pretrained(result.out / "final")
    assert trained.config.anchor_slots == 2
    texts = TextCache(base, samples)
    t = batch_tensors(trained, samples, texts, np.arange(4))
    inputs = (t["rgb"], t["depth"], t["text"], t["text_mask"])
    with torch.no_grad():
        before, after = base(*inputs), trained(*inputs)
    assert torch.equal(before.logits, after.logits) and torch.equal(before.depth, after.depth)
    assert before.anchors is None and after.anchors.position.shape == (4, 2, 6 * 6)
    # the agent states every slot whose existence logit is positive, in the strict layout
    after.anchors.exist[:] = 5.0
    after.anchors.has_dist[:] = 5.0
    from roboref.agents.refpoint.agent import answer_text, predicted_steps
    from roboref.agents.refpoint.anchors import anchor_steps

    c = trained.config
    anchors = anchor_steps(after.anchors, 0, "red cup", c.feature_grid, c.colors, c.categories)
    steps = predicted_steps((0.5, 0.5), "red cup", 1.0, anchors)
    assert [s.kind for s in steps] == ["Position", "Depth", "Distance"] * 2 + ["Position", "Depth"]
    assert steps[2].subject.startswith("red cup -> ")
    parsed = parse_answer(answer_text((0.5, 0.5), steps))
    assert parsed.strict_layout and parsed.steps == steps
    agent = RefPointAgent(result.out / "final")
    obs = {"rgb": np.zeros((48, 48, 3), np.uint8), "depth": np.ones((48, 48), np.float32), "instruction": "the cup"}
    out = agent.act(obs)
    parsed = parse_answer(out.text)
    assert parsed.strict_layout and parsed.steps == out.steps
    assert (round(out.point[0], 3), round(out.point[1], 3)) in [s.value for s in out.steps if s.kind == "Position"]
    with pytest.raises(ValueError, match="train=anchors needs init"):
        RefPointSFTConfig.from_dict({"train": "anchors"})
    with pytest.raises(ValueError, match="only anchor_slots may change"):
        RefPointSFTConfig(init=str(tmp_path / "base"), model={"use_depth": False}).model_config()
