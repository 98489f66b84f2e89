"""RGB-only observations (depth ``None`` or all zeros: RefSpatial-Bench, many cameras) and
RefSpatial-Bench's answer-format suffix reach every shipped agent; RefPoint's learned no-depth
input (depth dropout), its loading of older checkpoints, and the trainers' env pass-through."""

from __future__ import annotations

import hashlib
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
from refpoint_tiny import TINY

import roboref.envs  # noqa: F401
from roboref.agents import make_agent
from roboref.agents.inputs import REFSPATIAL_SUFFIX, observed_depth, strip_answer_suffix
from roboref.agents.refpoint.batches import TextCache, batch_tensors
from roboref.agents.refpoint.config import RefPointConfig
from roboref.agents.refpoint.data import SampleSet, build_cache, encode_sample, shard_specs
from roboref.agents.refpoint.model import RefPointModel, depth_missing
from roboref.agents.refpoint.sft import RefPointSFTConfig, train_sft

MODES = ("none", "zeros")


def without_depth(obs: dict, mode: str) -> dict:
    """The observation as an RGB-only source gives it: depth None or an all-zero map."""
    return {**obs, "depth": None if mode == "none" else np.zeros_like(obs["depth"])}


@pytest.fixture(scope="module")
def episodes():
    """Eight seeded UR5e episodes (observation, task) of the default env."""
    env = gym.make("roboref/Refer-UR5e-v0")
    out = []
    for seed in range(8_100_000, 8_100_008):
        obs, _ = env.reset(seed=seed)
        out.append((obs, env.unwrapped.task))
    env.close()
    return out


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Real samples at the tiny model's resolution: 16 train, 50 val (the RGB-only probe)."""
    d = tmp_path_factory.mktemp("rgb_only_cache")
    specs = shard_specs(16, "train", ["ur5e"], 48, 12, 3.0, shard_size=16)
    specs += shard_specs(50, "val", ["ur5e"], 48, 12, 3.0, shard_size=16)  # the shards tiny_sft asks for
    build_cache(specs, d, progress=False)
    return d


def tiny_sft(out, cache_dir, **kw) -> RefPointSFTConfig:
    base = dict(
        out=str(out),
        cache_dir=str(cache_dir),
        num_samples=16,
        val_samples=50,
        robots=("ur5e",),
        shard_size=16,
        batch_size=8,
        max_steps=30,
        save_every=30,
        eval_every=30,
        log_every=5,
        warmup_steps=2,
        lr=3e-3,
        progress=False,
        threads=1,
        model=dict(TINY),
    )
    return RefPointSFTConfig(**{**base, **kw})


# -- reading an observation -----------------------------------------------------------------------
def test_observed_depth_means_none_for_missing_or_all_zero_and_rejects_bad_shapes():
    rgb = np.zeros((6, 8, 3), np.uint8)
    assert observed_depth({"rgb": rgb}) is None
    assert observed_depth({"rgb": rgb, "depth": None}) is None
    assert observed_depth({"rgb": rgb, "depth": np.zeros((6, 8), np.float32)}) is None
    assert observed_depth({"rgb": rgb, "depth": np.full((6, 8), np.nan)}) is None
    d = np.zeros((6, 8), np.float32)
    d[2, 3] = 0.8  # one valid pixel is depth with holes, not "no depth"
    assert observed_depth({"rgb": rgb, "depth": d}) is not None
    assert observed_depth({"rgb": rgb, "depth": d[..., None]}).shape == (6, 8)
    with pytest.raises(ValueError, match=r"depth must be H×W .*\(6, 8\).*got shape \(4, 8\)"):
        observed_depth({"rgb": rgb, "depth": np.ones((4, 8))})


def test_the_refspatial_suffix_and_its_variants_are_stripped():
    from roboref.agents.vlm.prompts import ANSWER_SUFFIX, REASONING_SUFFIX, prompt_text
    from roboref.refspatial import DEFAULT_SUFFIX

    assert REFSPATIAL_SUFFIX == DEFAULT_SUFFIX  # the benchmark's text, one copy each side
    plain = "Please point at the red mug left of the blue bowl."
    for suffix in (
        " " + REFSPATIAL_SUFFIX,
        "\n" + REFSPATIAL_SUFFIX.upper(),
        ANSWER_SUFFIX,
        ANSWER_SUFFIX + REASONING_SUFFIX,
    ):
        assert strip_answer_suffix(plain + suffix) == plain
    assert strip_answer_suffix("  " + plain + "  ") == plain
    assert strip_answer_suffix("the answer is the mug") == "the answer is the mug"
    # the VLM prompt carries its own suffix once, whether or not the instruction came with one
    assert prompt_text(plain + " " + REFSPATIAL_SUFFIX) == prompt_text(plain) == plain + ANSWER_SUFFIX


# -- every shipped agent, without depth --------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_baselines_answer_rgb_only_observations(episodes, ur5e_env, mode):
    random_agent, heuristic = make_agent("random", seed=0), make_agent("heuristic", seed=0)
    heuristic_points = set()
    for i, (obs, _) in enumerate(episodes):
        o = without_depth(obs, mode)
        random_agent.reset(i)
        for agent in (random_agent, heuristic):
            out = agent.act(o)
            assert all(0.0 <= v <= 1.0 for v in out.point), (agent, out)
        heuristic_points.add(heuristic.act(o).point)
        # the suffix is not read as words about the scene
        assert (
            heuristic.act({**o, "instruction": o["instruction"] + " " + REFSPATIAL_SUFFIX}).point
            == heuristic.act(o).point
        )
    # the heuristic finds objects by colour: its answers follow the scene, not one fixed point
    assert len(heuristic_points) >= 6, heuristic_points
    obs, _ = ur5e_env.reset(seed=8_100_000)
    oracle = make_agent("oracle", env=ur5e_env)
    assert oracle.act(without_depth(obs, mode)).point == ur5e_env.unwrapped.task.point


@pytest.fixture(scope="module")
def shipped():
    return make_agent("refpoint")


@pytest.mark.parametrize("mode", MODES)
def test_shipped_refpoint_answers_rgb_only_and_ignores_the_suffix(episodes, shipped, mode):
    from roboref.rewards.format import parse_answer

    observations = [obs for obs, _ in episodes]
    rgb_only = [without_depth(o, mode) for o in observations]
    outs = shipped.act_batch(rgb_only)
    for out in outs:
        parsed = parse_answer(out.text)
        assert parsed.strict_layout and all(0.0 <= v <= 1.0 for v in out.point)
    assert len({o.point for o in outs}) >= 5  # 8 of 8 measured, v4 and v5 alike
    # a mixed batch: each row is answered as it would be alone
    mixed = shipped.act_batch([observations[0], rgb_only[1], observations[2]])
    assert [m.text for m in mixed] == [shipped.act(o).text for o in (observations[0], rgb_only[1], observations[2])]
    assert mixed[1].text == outs[1].text and mixed[0].text != shipped.act(rgb_only[0]).text
    # RefSpatial-Bench's suffix: the same answer as the plain instruction, with and without depth
    for o in (observations[3], rgb_only[3]):
        suffixed = {**o, "instruction": f"{o['instruction']} {REFSPATIAL_SUFFIX}"}
        assert shipped.act(suffixed).text == shipped.act(o).text


#: The shipped checkpoint's answers with depth, recorded from v4 (2026-11-25) with main at 335197c,
#: before the no-depth input existed; v5 (v4 + a trained no-depth map) gives them bit for bit:
#: (robot, seed - 7_100_000, heatmap column, row) on the 28×28 grid, and the sha256 of the 24
#: answer texts joined by newlines. The texts were re-recorded (2026-12-03) when the robots'
#: visual meshes were decimated further (a few robot pixels changed): v4 and v5 again gave the
#: same 24 texts, and the same points as before.
SHIPPED_DEPTH_ANSWERS = [
    *[("UR5e", i, c, r) for i, (c, r) in enumerate([(5, 18), (8, 12), (3, 21), (4, 21), (4, 16), (18, 21)])],
    *[("UR5e", 6 + i, c, r) for i, (c, r) in enumerate([(23, 20), (15, 17), (10, 21), (21, 19), (13, 16), (5, 20)])],
    *[("G1", i, c, r) for i, (c, r) in enumerate([(10, 12), (19, 16), (7, 11), (18, 16), (3, 17), (18, 12)])],
    *[("G1", 6 + i, c, r) for i, (c, r) in enumerate([(16, 16), (10, 13), (22, 13), (23, 17), (14, 14), (8, 11)])],
]
SHIPPED_TEXTS_SHA256 = "0e107572243949e6c3b34186b208cd14960cb65dfcf871430f80eec96288267f"


def test_shipped_refpoint_answers_with_depth_are_unchanged(shipped):
    """Re-record these when a checkpoint with other depth answers is shipped on purpose."""
    got, texts = [], []
    for robot in ("UR5e", "G1"):
        env = gym.make(f"roboref/Refer-{robot}-v0")
        for i in range(12):
            obs, _ = env.reset(seed=7_100_000 + i)
            out = shipped.act(obs)
            got.append((robot, i, int(out.point[0] * 28), int(out.point[1] * 28)))
            texts.append(out.text)
        env.close()
    assert got == SHIPPED_DEPTH_ANSWERS
    assert hashlib.sha256("\n".join(texts).encode()).hexdigest() == SHIPPED_TEXTS_SHA256


@pytest.mark.parametrize("mode", MODES)
def test_hf_vlm_agent_answers_rgb_only_with_and_without_a_depth_image(episodes, tmp_path_factory, mode):
    from roboref.agents.vlm import HFVLMAgent
    from roboref.agents.vlm.tiny import build_tiny_qwen2vl, load_tiny_qwen2vl

    tiny = tmp_path_factory.mktemp("tiny_vlm")
    build_tiny_qwen2vl(tiny, seed=0)
    model, processor = load_tiny_qwen2vl(tiny)
    obs = episodes[0][0]
    rgb_only = without_depth(obs, mode)
    for depth_image in (False, True):
        agent = HFVLMAgent(model, processor, depth_image=depth_image, max_new_tokens=6)
        assert agent.prompt(rgb_only).count("<|image_pad|>") == 1 and len(agent.images(rgb_only)) == 1
        assert "depth map" not in agent.prompt(rgb_only)
        assert agent.prompt(obs).count("<|image_pad|>") == (2 if depth_image else 1)
        outs = agent.act_batch([rgb_only, obs])  # one image and two in one batch
        assert len(outs) == 2 and all(isinstance(o.text, str) for o in outs)
        assert outs[0].text == agent.act(rgb_only).text
        suffixed = {**rgb_only, "instruction": rgb_only["instruction"] + " " + REFSPATIAL_SUFFIX}
        assert agent.prompt(suffixed) == agent.prompt(rgb_only)


# -- RefPoint's no-depth input -------------------------------------------------------------------
def tiny_model(seed: int = 0, **kw) -> RefPointModel:
    torch.manual_seed(seed)
    return RefPointModel(RefPointConfig.from_dict({**TINY, **kw})).eval()


def _inputs(model: RefPointModel, samples: SampleSet, n: int = 4):
    return batch_tensors(model, samples, TextCache(model, samples), np.arange(n))


def test_missing_rows_use_the_no_depth_map_and_rows_with_depth_never_do(cache_dir):
    samples = SampleSet(sorted(cache_dir.glob("*-train-*.npz")))
    model = tiny_model()
    t = _inputs(model, samples)
    has = np.array([True, False, True, False])
    rgb, depth = model.image_inputs(samples.arrays["rgb"][:4], samples.arrays["depth"][:4].astype(np.float32), has)
    assert depth_missing(depth).tolist() == [False, True, False, True] and not depth_missing(t["depth"]).any()
    with torch.no_grad():
        full = model(t["rgb"], t["depth"], t["text"], t["text_mask"]).logits
        mixed = model(rgb, depth, t["text"], t["text_mask"]).logits
        model.no_depth.add_(torch.randn_like(model.no_depth))
        moved = model(rgb, depth, t["text"], t["text_mask"]).logits
    assert torch.equal(mixed[has], full[has]) and torch.equal(moved[has], full[has])
    assert not torch.equal(moved[~has], mixed[~has])  # the missing rows read the learned map


def test_a_checkpoint_without_the_no_depth_map_loads_and_other_missing_tensors_still_fail(tmp_path, cache_dir):
    from safetensors.torch import load_file, save_file

    samples = SampleSet(sorted(cache_dir.glob("*-train-*.npz")))
    model = tiny_model()
    model.save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    state = load_file(str(weights))
    old = {k: v for k, v in state.items() if k != "no_depth"}
    save_file(old, str(weights))  # as written before the no-depth map existed
    loaded = RefPointModel.from_pretrained(tmp_path / "m")
    assert loaded.filled_in == ("no_depth",)
    # filled with what the old model's depth encoder made of the missing (all-zero) input
    assert torch.equal(loaded.no_depth, loaded.missing_depth_features())
    t = _inputs(model, samples)
    blank = torch.zeros_like(t["depth"])
    with torch.no_grad():
        assert torch.equal(loaded(**_fwd(t)).logits, model(**_fwd(t)).logits)
        model.no_depth.copy_(loaded.no_depth)
        assert torch.equal(loaded(**_fwd(t, blank)).logits, model(**_fwd(t, blank)).logits)
    assert RefPointModel.from_pretrained(tmp_path / "m").filled_in == ("no_depth",)
    save_file({k: v for k, v in old.items() if k != "pos"}, str(weights))
    with pytest.raises(ValueError, match=r"missing tensors \['pos'\]"):
        RefPointModel.from_pretrained(tmp_path / "m")
    weights.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        RefPointModel.from_pretrained(tmp_path / "m")
    # a checkpoint saved now has the map, and loads without filling anything in
    model.save_pretrained(tmp_path / "new")
    assert RefPointModel.from_pretrained(tmp_path / "new").filled_in == ()


def _fwd(t: dict, depth: torch.Tensor | None = None) -> dict:
    return {
        "rgb": t["rgb"],
        "depth": t["depth"] if depth is None else depth,
        "text": t["text"],
        "text_mask": t["text_mask"],
    }


def test_rgb_only_samples_are_stored_as_such_and_batched_as_missing(episodes, tmp_path):
    obs, task = episodes[0]
    row = encode_sample(without_depth(obs, "none"), task, 48, 12, 3.0)
    assert not row["has_depth"] and np.isnan(row["target_depth"]) and not row["depth"].any()
    with_depth = encode_sample(obs, task, 48, 12, 3.0)
    assert with_depth["has_depth"] and np.isfinite(with_depth["target_depth"])
    rows = [with_depth, row]
    arrays = {k: np.stack([r[k] for r in rows]) for k in rows[0] if k not in ("instruction", "steps")}
    arrays["instruction"] = np.array([r["instruction"] for r in rows])
    arrays["steps"] = np.array([r["steps"] for r in rows])
    arrays["seed"] = np.array([1, 2])
    path = tmp_path / "ur5e-x-train-s48g12d3-0000000000-2.npz"
    np.savez(path, **arrays)
    samples = SampleSet([path])
    assert samples.arrays["has_depth"].tolist() == [True, False]
    model = tiny_model()
    assert depth_missing(_inputs(model, samples, 2)["depth"]).tolist() == [False, True]


# -- training: depth dropout and env options -----------------------------------------------------
def test_depth_dropout_trains_the_no_depth_map_and_rgb_only_answers_vary(tmp_path, cache_dir):
    """A short run with depth dropout: the no-depth map learns, validation reports RGB-only
    success, and RGB-only answers on 50 episodes vary about as much as the same model's answers
    with depth (a 30-step tiny model knows little, so neither varies much; the issue's 40-of-50
    check on a real checkpoint is the slow test below)."""
    from roboref.agents.refpoint import RefPointAgent
    from roboref.agents.refpoint.metrics import read_metrics

    result = train_sft(tiny_sft(tmp_path / "drop", cache_dir, depth_dropout=0.5))
    assert result.status == "done"
    model = RefPointModel.from_pretrained(tmp_path / "drop" / "final")
    assert model.no_depth.abs().sum() > 0  # it learned from the dropped rows (it starts at zeros)
    names = {r["name"] for r in read_metrics(tmp_path / "drop" / "metrics.csv") if r["split"] == "val"}
    assert {"success", "rgb_only_success", "rgb_only_point_ce"} <= names
    val = SampleSet(sorted(cache_dir.glob("*-val-*.npz")))
    agent = RefPointAgent(model=model)
    observations = [
        {
            "rgb": val.arrays["rgb"][i],
            "depth": val.arrays["depth"][i].astype(np.float32),
            "instruction": str(val.arrays["instruction"][i]),
        }
        for i in range(len(val))
    ]
    with_depth = {o.point for o in agent.act_batch(observations)}
    rgb_only = {o.point for o in agent.act_batch([without_depth(o, "none") for o in observations])}
    assert len(observations) == 50 and len(rgb_only) >= max(2, len(with_depth) // 2), (len(rgb_only), len(with_depth))
    # without dropout the map never sees a gradient
    train_sft(tiny_sft(tmp_path / "plain", cache_dir, max_steps=4, eval_every=4, save_every=4))
    assert RefPointModel.from_pretrained(tmp_path / "plain" / "final").no_depth.abs().sum() == 0


def test_train_no_depth_changes_only_the_map(tmp_path, cache_dir):
    tiny_model(anchor_slots=2).save_pretrained(tmp_path / "init")
    init = str(tmp_path / "init")
    with pytest.raises(ValueError, match="train=no_depth needs depth_dropout > 0"):
        tiny_sft(tmp_path / "x", cache_dir, init=init, train="no_depth")
    with pytest.raises(ValueError, match="train=no_depth keeps init's shape.*anchor_slots=2"):
        tiny_sft(
            tmp_path / "x", cache_dir, init=init, train="no_depth", depth_dropout=1.0, model={"anchor_slots": 0}
        ).model_config()
    # the CLI's model.anchor_slots default (null) keeps the init's slots
    model = {**TINY, "anchor_slots": None}
    cfg = tiny_sft(tmp_path / "nd", cache_dir, init=init, train="no_depth", depth_dropout=1.0, model=model)
    cfg.max_steps = cfg.save_every = cfg.eval_every = 6
    assert cfg.model_config().anchor_slots == 2
    train_sft(cfg)
    before = RefPointModel.from_pretrained(tmp_path / "init").state_dict()
    after = RefPointModel.from_pretrained(tmp_path / "nd" / "final").state_dict()
    assert set(before) == set(after)
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed == ["no_depth"]


def test_env_kwargs_reach_the_sample_env_and_tag_the_cache(tmp_path):
    default = shard_specs(4, "train", ["ur5e"], 48, 12, 3.0, shard_size=4)
    placed = shard_specs(4, "train", ["ur5e"], 48, 12, 3.0, shard_size=4, env_kwargs={"kinds": ["placement"]})
    assert default[0].name != placed[0].name and "-e" in placed[0].name and "-e" not in default[0].name
    assert placed == shard_specs(4, "train", ["ur5e"], 48, 12, 3.0, shard_size=4, env_kwargs={"kinds": ("placement",)})
    (path,) = build_cache(placed, tmp_path, progress=False)
    kinds = SampleSet([path]).arrays["kind"]
    assert len(kinds) == 4 and (kinds == 1).all()  # every sample a placement: the option reached the env
    with pytest.raises(ValueError, match=r"unknown env option\(s\) \['nope'\]; allowed: .*randomization|allowed"):
        RefPointSFTConfig(env_kwargs={"nope": 1})
    with pytest.raises(ValueError, match=r"env_kwargs may not set \['robot'\]"):
        RefPointSFTConfig(env_kwargs={"robot": "g1"})
    with pytest.raises(ValueError, match=r"depth_dropout must be a probability"):
        RefPointSFTConfig(depth_dropout=1.5)


def test_train_configs_take_env_kwargs_and_depth_dropout_from_the_cli():
    from roboref.agents.refpoint.commands import _plain
    from roboref.agents.refpoint.rft import RefPointRFTConfig
    from roboref.cli import compose

    sft = RefPointSFTConfig.from_dict(
        _plain(compose("train_sft", ["depth_dropout=0.3", "+env_kwargs.kinds=[placement]"]))
    )
    assert sft.depth_dropout == 0.3 and sft.env_kwargs == {"kinds": ["placement"]} and sft.val_env == sft.env_kwargs
    rft = RefPointRFTConfig.from_dict(_plain(compose("train_rft", ["depth_dropout=0.2", "val_env_kwargs={}"])))
    assert rft.depth_dropout == 0.2 and rft.env_kwargs == {} and rft.val_env == {}


def test_a_refpoint_checkpoint_varies_its_rgb_only_answers_on_50_episodes():
    """The issue's done-criterion on a real checkpoint (``ROBOREF_RGB_ONLY_CHECKPOINT``, default
    the shipped one): at least 40 distinct points on 50 RGB-only default-env episodes. Measured
    2026-12-03: shipped v5 (trained no-depth map) 45 (44 with depth); v4, whose map is filled in
    from its depth encoder, 33."""
    ckpt = os.environ.get("ROBOREF_RGB_ONLY_CHECKPOINT")
    agent = make_agent(f"refpoint:{ckpt}" if ckpt else "refpoint")
    observations = []
    for robot in ("UR5e", "G1"):
        env = gym.make(f"roboref/Refer-{robot}-v0")
        for seed in range(9_000_000, 9_000_025):
            obs, _ = env.reset(seed=seed)
            observations.append(without_depth(obs, "none"))
        env.close()
    points = {o.point for o in agent.act_batch(observations)}
    assert len(points) >= 40, f"{len(points)} distinct points on 50 RGB-only episodes ({ckpt or 'shipped'})"


def test_refpoint_dr_is_shipped_and_answers_rgb_only_with_varied_points(episodes):
    """The randomization-tuned checkpoint loads by name, keeps its anchor slots, and points
    somewhere that depends on the image and instruction without depth too."""
    dr = make_agent("refpoint-dr")
    assert dr.model.config.anchor_slots == 4
    outs = dr.act_batch([without_depth(obs, "zeros") for obs, _ in episodes])
    assert len({o.point for o in outs}) >= 5
    default = make_agent("refpoint")
    observations = [obs for obs, _ in episodes]
    assert [o.point for o in dr.act_batch(observations)] != [o.point for o in default.act_batch(observations)]


def test_image_inputs_take_read_only_arrays_without_a_warning():
    """Resized inputs are read-only (``preprocess_*`` return ``np.asarray`` of a PIL image): the
    tensors equal those of writable copies, and torch's non-writable-array warning is not raised."""
    import warnings

    from roboref.agents.refpoint.config import RefPointConfig
    from roboref.agents.refpoint.model import RefPointModel

    model = RefPointModel(RefPointConfig.from_dict(TINY)).eval()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    depth = rng.uniform(0.2, 3.0, (2, 48, 48)).astype(np.float32)
    ro_rgb, ro_depth = rgb.copy(), depth.copy()
    ro_rgb.flags.writeable = ro_depth.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = model.image_inputs(ro_rgb, ro_depth)
    want = model.image_inputs(rgb, depth)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
