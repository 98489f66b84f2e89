"""The VLM agent and its TRL trainers, on a tiny Qwen2-VL built from a config (no downloads)."""

import csv
import json

import datasets
import pytest
import torch
from PIL import Image

from roboref.agents.base import AgentOutput
from roboref.agents.vlm import HFVLMAgent, VLMLoadError
from roboref.agents.vlm.data import disk_samples, env_samples
from roboref.agents.vlm.tiny import build_tiny_qwen2vl, load_tiny_qwen2vl
from roboref.agents.vlm.train import CheckpointFix, reward_setup, trainer_args
from roboref.cli import compose, main


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    build_tiny_qwen2vl(out, seed=0)
    return out


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_model_builds_and_round_trips(tiny_dir):
    assert (tiny_dir / "model.safetensors").is_file() and (tiny_dir / "config.json").is_file()
    model, processor = build_tiny_qwen2vl(seed=0)
    loaded, proc2 = load_tiny_qwen2vl(tiny_dir)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert proc2.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    assert proc2.image_processor.size == processor.image_processor.size
    img = Image.new("RGB", (224, 224), (120, 30, 30))
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Point to the mug."}]}]
    text = proc2.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    inputs = proc2(text=[text], images=[img], return_tensors="pt")
    with torch.no_grad():
        logits = loaded(**inputs).logits
    assert logits.shape[-1] == loaded.config.text_config.vocab_size and torch.isfinite(logits).all()


def test_agent_answers_on_a_real_observation(ur5e_env, tiny_dir):
    obs, _ = ur5e_env.reset(seed=3)
    agent = HFVLMAgent(tiny_dir, max_new_tokens=12)
    assert agent.device.type in ("cpu", "cuda")
    out = agent.act(obs)
    assert isinstance(out, AgentOutput) and isinstance(out.text, str)
    if out.point is None:  # a random model mostly says nothing parseable: kept as text, no exception
        assert out.text == agent.act(obs).text  # greedy is deterministic
    else:
        assert all(0.0 <= v <= 1.0 for v in out.point)
    obs2, _ = ur5e_env.reset(seed=4)
    outs = agent.act_batch([obs, obs2])
    assert len(outs) == 2 and all(isinstance(o, AgentOutput) for o in outs)


def test_agent_sampling_reasoning_and_depth(ur5e_env, tiny_dir):
    obs, _ = ur5e_env.reset(seed=5)
    model, processor = load_tiny_qwen2vl(tiny_dir)
    agent = HFVLMAgent(
        model,
        processor,
        do_sample=True,
        temperature=1.0,
        seed=1,
        reasoning=True,
        depth_image=True,
        max_new_tokens=8,
    )
    prompt = agent.prompt(obs)
    assert prompt.count("<|image_pad|>") == 2 and "<think>" in prompt and obs["instruction"] in prompt
    assert [im.size for im in agent.images(obs)] == [(224, 224)] * 2
    assert agent.act(obs).text == agent.act(obs).text  # seeded sampling repeats


def test_parse_keeps_garbage_as_text_and_reads_answers():
    bad = HFVLMAgent.parse("fork w far ban spoon")
    assert bad.point is None and bad.text == "fork w far ban spoon"
    good = HFVLMAgent.parse("<think>[Position] red bowl: (0.1, 0.2)</think><answer>[(0.4, 0.6)]</answer>")
    assert good.point == (0.4, 0.6) and len(good.steps) == 1 and good.steps[0].subject == "red bowl"
    assert HFVLMAgent.parse("[(412, 637)]").point is None  # pixels are not normalized points


def test_load_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(VLMLoadError, match="does not exist"):
        HFVLMAgent(tmp_path / "no_such_model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VLMLoadError, match="no config.json"):
        HFVLMAgent(tmp_path / "empty")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(VLMLoadError, match="not available offline") as err:
        HFVLMAgent("Qwen/Qwen2-VL-2B-Instruct")
    assert "local directory" in str(err.value)
    from transformers import Qwen2Config, Qwen2ForCausalLM

    text_only = tmp_path / "text_only"
    cfg = Qwen2Config(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    Qwen2ForCausalLM(cfg).save_pretrained(text_only)
    with pytest.raises(VLMLoadError, match="image-text-to-text"):
        HFVLMAgent(text_only)
    model, processor = build_tiny_qwen2vl()
    with pytest.raises(VLMLoadError, match="image processor"):
        HFVLMAgent(model, processor.tokenizer)


def test_env_samples_have_prompt_image_and_reward_columns():
    ds = env_samples(2, seed=0, env_kwargs={"num_objects": (4, 6)})
    assert {"image", "prompt", "completion", "mask", "answer", "reasoning", "kind"} <= set(ds.column_names)
    row = ds[0]
    assert row["prompt"][0]["content"][0]["type"] == "image"
    assert row["completion"][0]["content"] == row["answer"]
    assert row["mask"].size == row["image"].size


def test_disk_samples_read_the_datagen_layout(tmp_path):
    """A parquet set with datagen's columns (written here, so the test needs no datagen run)."""
    ds = env_samples(2, seed=0, env_kwargs={"num_objects": (4, 6)})
    rows = [{k: r[k] for k in ("image", "mask", "instruction", "answer", "reasoning", "kind")} for r in ds]
    (tmp_path / "data").mkdir()
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "data" / "train-00000-of-00001.parquet"))
    got = disk_samples(tmp_path, "train", num_samples=1, with_reasoning=True)
    assert len(got) == 1 and got[0]["answer"] == rows[0]["answer"]
    assert got[0]["completion"][0]["content"].startswith("<think>")
    with pytest.raises(ValueError, match="depth"):
        disk_samples(tmp_path, "train", depth_image=True)


def test_grpo_on_the_tiny_model_logs_each_reward_term(tmp_path):
    out = tmp_path / "rft"
    args = [
        "train",
        "vlm-rft",
        f"out={out}",
        "trainer.max_steps=2",
        "trainer.save_steps=2",
        "data.num_samples=4",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2
    assert summary["reward_terms"] == ["roboref_format", "roboref_point", "roboref_process"]
    assert summary["reward_weights"] == [0.1, 1.0, 0.25]
    rows = [r for r in _rows(out / "metrics.csv") if r.get("loss")]
    assert [r["step"] for r in rows] == ["1", "2"]
    for term in summary["reward_terms"]:
        assert all(0.0 <= float(r[f"rewards/{term}/mean"]) <= 1.0 for r in rows)
    assert (out / "checkpoint-2").is_dir() and (out / "model" / "model.safetensors").is_file()
    agent = HFVLMAgent(out / "model", max_new_tokens=4)  # the trained model loads as an agent
    assert agent.model.config.model_type == "qwen2_vl"


def test_roborefer_preset_adds_step_terms():
    cfg = compose("train_vlm_rft", ["reward.preset=roborefer"])
    funcs, weights = reward_setup(cfg)
    assert [f.__name__ for f in funcs] == [
        "roboref_format",
        "roboref_point",
        "roboref_step_format",
        "roboref_process",
    ]
    assert weights == [1.0, 1.0, 0.25, 0.25]
    cfg = compose("train_vlm_rft", ["+reward.weights.point=2"])
    assert reward_setup(cfg)[1] == [0.1, 2.0, 0.25]


def test_sft_steps_then_resume_restores_weights(tmp_path):
    out = tmp_path / "sft"
    base = ["train", "vlm-sft", f"out={out}", "data.num_samples=4", "trainer.save_steps=2"]
    assert main([*base, "trainer.max_steps=2"]) == 0
    first = json.loads((out / "summary.json").read_text())
    assert first["steps"] == 2 and first["train_loss"] > 0
    assert main([*base, "trainer.max_steps=3", "resume=true"]) == 0
    second = json.loads((out / "summary.json").read_text())
    assert second["steps"] == 3 and second["resumed_from"].endswith("checkpoint-2")
    steps = [r["step"] for r in _rows(out / "metrics.csv") if r.get("loss")]
    assert steps == ["1", "2", "3"]
    # CheckpointFix loads the checkpoint's weights into a model with other weights
    fresh, _ = build_tiny_qwen2vl(seed=1)
    holder = type("Holder", (CheckpointFix,), {"model": fresh})()
    holder._load_from_checkpoint(str(out / "checkpoint-2"))
    saved, _ = load_tiny_qwen2vl(out / "checkpoint-2")
    for name, tensor in saved.state_dict().items():
        assert torch.equal(tensor, fresh.state_dict()[name]), name


def test_train_cli_dispatch_and_profiles(tmp_path, capsys):
    assert main(["train"]) == 2
    assert "vlm-sft" in capsys.readouterr().err
    assert main(["train", "fly", f"out={tmp_path}"]) == 2
    assert main(["train", "vlm-sft", "profile=tpu"]) == 2
    assert "tpu" in capsys.readouterr().err
    from trl import GRPOConfig, SFTConfig

    for what, config_cls in (("sft", SFTConfig), ("rft", GRPOConfig)):
        for profile in ("", "_gpu", "_multi_gpu"):
            cfg = compose(f"train_vlm_{what}{profile}", [])
            args = config_cls(**trainer_args(cfg, tmp_path))
            assert args.output_dir == str(tmp_path)
            if profile:
                assert cfg.data.data_dir and cfg.model != "tiny"


def test_sft_then_grpo_gets_nonzero_rewards(tmp_path):
    """The tiny model learns the answer format from SFT (40 steps on 4 samples); GRPO from that
    model, sampling at a low temperature, then gets nonzero format and point rewards."""
    sft = tmp_path / "sft"
    assert (
        main(
            [
                "train",
                "vlm-sft",
                f"out={sft}",
                "data.num_samples=4",
                "trainer.max_steps=40",
                "trainer.learning_rate=5e-3",
                "trainer.save_steps=1000",
                "trainer.logging_steps=10",
            ]
        )
        == 0
    )
    rft = tmp_path / "rft"
    assert (
        main(
            [
                "train",
                "vlm-rft",
                f"out={rft}",
                f"model={sft / 'model'}",
                "data.num_samples=4",
                "trainer.max_steps=2",
                "trainer.learning_rate=1e-4",
                "trainer.temperature=0.3",
            ]
        )
        == 0
    )
    rows = [r for r in _rows(rft / "metrics.csv") if r.get("loss")]
    assert float(rows[0]["rewards/roboref_format/mean"]) > 0 and float(rows[0]["rewards/roboref_point/mean"]) > 0


def test_lora_sft_saves_adapter_and_merged_model(tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    args = [
        "train",
        "vlm-sft",
        f"out={out}",
        "data.num_samples=2",
        "trainer.max_steps=1",
        "lora.enabled=true",
    ]
    assert main([*args, "lora.r=4", "lora.alpha=8"]) == 0
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    agent = HFVLMAgent(out / "model", max_new_tokens=2)  # merged: a plain model again
    assert not any("lora" in name for name in agent.model.state_dict())


def test_ppo_learning_curve_and_resume(tmp_path):
    out = tmp_path / "ppo"
    args = [
        "train",
        "ppo",
        f"out={out}",
        "total_timesteps=64",
        "ppo.n_steps=32",
        "ppo.batch_size=16",
        "curve_window=8",
    ]
    assert main(args) == 0
    assert main([*args, "resume=true"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timesteps"] == 128
    curve = _rows(out / "learning_curve.csv")
    assert len(curve) == 16 and all(0.0 <= float(r["mean_reward"]) <= 2.0 for r in curve)
    assert Image.open(out / "learning_curve.png").size == (480, 320)


def test_resumed_grpo_run_continues_from_its_checkpoint(tmp_path):
    out = tmp_path / "rft_resume"
    base = ["train", "vlm-rft", f"out={out}", "data.num_samples=4", "trainer.save_steps=2"]
    assert main([*base, "trainer.max_steps=2"]) == 0
    assert main([*base, "trainer.max_steps=3", "resume=true"]) == 0
    second = json.loads((out / "summary.json").read_text())
    assert second["steps"] == 3 and second["resumed_from"].endswith("checkpoint-2")
