"""SFT and GRPO (RFT) of a vision-language model on roboref pointing data, with TRL.

``roboref train vlm-sft|vlm-rft out=DIR …`` (configs ``train_vlm_sft.yaml`` / ``train_vlm_rft.yaml``,
``profile=gpu`` / ``profile=multi_gpu`` for GPU runs) calls ``run_sft`` / ``run_rft``. The config's
``trainer:`` block is passed as-is to TRL's ``SFTConfig`` / ``GRPOConfig``, so any TRL option can
be set from the command line (``trainer.learning_rate=1e-5``). GRPO's rewards are the pure reward
terms of ``roboref.rewards`` through their TRL adapters, one function per term (TRL logs each as
``rewards/roboref_<term>/mean``), weighted by the chosen preset.

Writes ``DIR/checkpoint-N/`` (resumable with ``resume=true``), ``DIR/metrics.csv`` (every logged
value, one row per log step), ``DIR/model/`` (the final model and processor, loadable with
``HFVLMAgent(DIR/model)``; with LoRA the adapters are merged into it and also kept alone in
``DIR/adapter/``) and ``DIR/summary.json``.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from transformers import TrainerCallback

from roboref.agents.threads import torch_threads
from roboref.envs.atomic import atomic_path, write_json_atomic

#: Trainer arguments a CPU run needs whatever the config says (no mixed precision on CPU).
CPU_OVERRIDES = {"use_cpu": True, "bf16": False, "fp16": False}


class MetricsCSV(TrainerCallback):
    """Every log (loss, each reward term's mean and std, lr, …) as a CSV row per log step. The
    file is small and rewritten atomically at each log, so new keys simply widen the header.
    ``keep=True`` (a resumed run) keeps the rows already there."""

    def __init__(self, path: str | Path, keep: bool = False):
        self.path = Path(path)
        self.rows: list[dict] = []
        if keep and self.path.is_file():
            with self.path.open(newline="") as f:
                self.rows = list(csv.DictReader(f))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step, "time": round(time.time(), 3)}
        row.update({k: v for k, v in logs.items() if isinstance(v, int | float)})
        self.rows = [r for r in self.rows if not _same_step(r, row)] + [row]
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as f:  # never half a file
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)


def _same_step(a: dict, b: dict) -> bool:
    """Two rows of the same step and the same kind of log (train logs vs the final summary)."""
    return str(a.get("step")) == str(b.get("step")) and ("train_runtime" in a) == ("train_runtime" in b)


class CheckpointFix:
    """Resume that restores the weights. transformers 5 writes checkpoints with the hub's key
    names (``visual.*``, ``model.layers.*`` for Qwen2-VL) but ``Trainer._load_from_checkpoint``
    reads them back with a plain ``load_state_dict(strict=False)``: nothing matches, and the run
    silently continues from the fresh weights. ``from_pretrained`` renames the keys; use it."""

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        model = model if model is not None else self.model
        plain = (Path(resume_from_checkpoint) / "config.json").is_file() and not hasattr(model, "peft_config")
        if not plain or getattr(self, "is_fsdp_enabled", False):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)  # type: ignore[misc]
        dtype = next(model.parameters()).dtype
        loaded = type(model).from_pretrained(resume_from_checkpoint, dtype=dtype)
        model.load_state_dict(loaded.state_dict())


def with_checkpoint_fix(trainer_cls: type) -> type:
    """``trainer_cls`` with ``CheckpointFix`` mixed in (TRL's trainers are imported lazily)."""
    return type(trainer_cls.__name__, (CheckpointFix, trainer_cls), {})


# --- model, processor, data ------------------------------------------------------------------
def load_model_and_processor(cfg: DictConfig):
    """``model: tiny`` builds the random tiny Qwen2-VL (tests, CPU smoke runs); anything else is a
    local directory or a cached hub id (``roboref.agents.vlm.load``)."""
    import torch

    from roboref.agents.vlm.load import load_model, load_processor, resolve_dtype

    name = str(cfg.model)
    if name == "tiny":
        from roboref.agents.vlm.tiny import build_tiny_qwen2vl

        model, processor = build_tiny_qwen2vl(seed=int(cfg.seed))
        return model.train(), processor
    dtype = resolve_dtype(str(cfg.get("dtype", "auto")), torch.device("cuda" if _on_gpu(cfg) else "cpu"))
    model = load_model(name, torch.device("cpu"), dtype, bool(cfg.get("trust_remote_code", False)))
    processor = load_processor(name, model.config.model_type, bool(cfg.get("trust_remote_code", False)))
    return model.train(), processor


def _on_gpu(cfg: DictConfig) -> bool:
    import torch

    return torch.cuda.is_available() and not bool(cfg.trainer.get("use_cpu", False))


def load_samples(cfg: DictConfig):
    """The training set: ``data.data_dir`` (a ``roboref datagen`` set) if given, else env resets."""
    from roboref.agents.vlm.data import disk_samples, env_samples

    d = cfg.data
    reasoning, depth = bool(cfg.prompt.reasoning), bool(cfg.prompt.depth_image)
    if d.get("data_dir"):
        n = d.get("num_samples")
        return disk_samples(d.data_dir, str(d.get("split", "train")), None if n is None else int(n), reasoning, depth)
    env_kwargs = OmegaConf.to_container(d.env, resolve=True) if d.get("env") is not None else {}
    return env_samples(int(d.num_samples), int(d.seed), str(d.env_id), env_kwargs, reasoning, depth)


def peft_config(cfg: DictConfig):
    """A peft ``LoraConfig`` when ``lora.enabled`` (``pip install peft``), else None."""
    lora = cfg.get("lora")
    if lora is None or not lora.get("enabled", False):
        return None
    try:
        from peft import LoraConfig
    except ImportError as err:
        raise ValueError("lora.enabled=true needs peft: pip install 'peft>=0.13'") from err
    targets = lora.get("target_modules", "all-linear")
    return LoraConfig(
        r=int(lora.r),
        lora_alpha=int(lora.alpha),
        lora_dropout=float(lora.dropout),
        target_modules=targets if isinstance(targets, str) else list(targets),
        task_type="CAUSAL_LM",
    )


def trainer_args(cfg: DictConfig, out: Path) -> dict:
    """The ``trainer:`` block as keyword arguments, with the output dir, seed and CPU settings."""
    args = OmegaConf.to_container(cfg.trainer, resolve=True)
    args.update(output_dir=str(out), seed=int(cfg.seed))
    if not _on_gpu(cfg):
        args.update(CPU_OVERRIDES)
    return args


def resume_checkpoint(cfg: DictConfig, out: Path) -> str | bool | None:
    """``resume``: false → fresh run; true → the last ``checkpoint-N`` in ``out`` (fresh if none);
    a path → that checkpoint."""
    resume = cfg.get("resume", False)
    if not resume:
        return None
    if resume is True or str(resume).lower() == "true":
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None:
            print(f"resume: no checkpoint in {out}, starting from step 0")
        return last
    if not Path(str(resume)).is_dir():
        raise ValueError(f"resume={resume}: no such checkpoint directory")
    return str(resume)


# --- runs ------------------------------------------------------------------------------------
def run_sft(cfg: DictConfig) -> dict:
    """Supervised fine-tuning on (image, prompt) → ground-truth answer (and steps with reasoning)."""
    from trl import SFTConfig, SFTTrainer

    with torch_threads(cfg.get("torch_threads")):
        columns = ["prompt", "completion", "images" if cfg.prompt.depth_image else "image"]
        return _train(cfg, "vlm-sft", SFTTrainer, SFTConfig, load_samples(cfg).select_columns(columns))


def reward_setup(cfg: DictConfig) -> tuple[list, list[float]]:
    """TRL reward functions and weights of the configured preset (``default`` | ``roborefer``),
    with optional per-term weight overrides (``+reward.weights.point=2``)."""
    from roboref.rewards.compose import RewardConfig
    from roboref.rewards.trl import reward_functions

    rc = RewardConfig.preset(str(cfg.reward.preset))
    weights = cfg.reward.get("weights")
    if weights:
        rc = rc.with_weights(**{k: float(v) for k, v in weights.items()})
    funcs, w = reward_functions(rc)
    sim = cfg.reward.get("sim_outcome")
    if sim and sim.get("enabled"):
        from roboref.sim_reward import SimOutcomeReward

        env_kwargs = OmegaConf.to_container(cfg.data.env, resolve=True) if cfg.data.get("env") else {}
        funcs.append(SimOutcomeReward(env_kwargs, workers=int(sim.get("workers", 1))))
        w.append(float(sim.get("weight", 0.5)))
    return funcs, w


def run_rft(cfg: DictConfig) -> dict:
    """GRPO: sample ``num_generations`` answers per prompt, score each with the reward terms,
    push up the better-than-group-mean ones."""
    from trl import GRPOConfig, GRPOTrainer

    with torch_threads(cfg.get("torch_threads")):
        samples = load_samples(cfg).remove_columns(["completion"])
        funcs, weights = reward_setup(cfg)
        extra = {"reward_terms": [f.__name__ for f in funcs], "reward_weights": weights}
        args = {"reward_weights": weights}
        return _train(cfg, "vlm-rft", GRPOTrainer, GRPOConfig, samples, args, extra, reward_funcs=funcs)


def _train(
    cfg: DictConfig,
    kind: str,
    trainer_cls: type,
    config_cls: type,
    dataset: Any,
    args: dict | None = None,
    extra: dict | None = None,
    **trainer_kwargs: Any,
) -> dict:
    """What SFT and GRPO share: load the model, build TRL's trainer from its config class (the
    ``trainer:`` block plus ``args``) with ``CheckpointFix`` and the metrics CSV, train (resuming
    as ``resume`` says), save the model (LoRA: merged, and the adapter alone) and the processor,
    and write ``summary.json`` (plus ``extra``) from the main process only."""
    out = Path(cfg.out)
    model, processor = load_model_and_processor(cfg)
    trainer = with_checkpoint_fix(trainer_cls)(
        model=model,
        args=config_cls(**trainer_args(cfg, out), **(args or {})),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config(cfg),
        callbacks=[MetricsCSV(out / "metrics.csv", keep=bool(cfg.get("resume")))],
        **trainer_kwargs,
    )
    main_process = trainer.is_world_process_zero()  # several GPUs: one process writes files
    out.mkdir(parents=True, exist_ok=True)
    if main_process:
        OmegaConf.save(cfg, out / "config.yaml")
    resume = resume_checkpoint(cfg, out)
    start_step = trainer.state.global_step
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t0
    steps = trainer.state.global_step
    model_dir = out / "model"
    if hasattr(trainer.model, "merge_and_unload"):  # LoRA: keep the adapter, save the merged model
        trainer.save_model(str(out / "adapter"))
        if main_process:
            trainer.model.merge_and_unload().save_pretrained(str(model_dir))
    else:
        trainer.save_model(str(model_dir))
    if main_process:
        processor.save_pretrained(str(model_dir))
    logs = [h for h in trainer.state.log_history if "train_runtime" not in h]
    summary = {
        "command": kind,
        "model": str(cfg.model),
        "samples": len(dataset),
        "steps": steps,
        "resumed_from": resume,
        "seconds": round(seconds, 3),
        "seconds_per_step": round(seconds / max(1, steps - start_step), 4),
        "train_loss": getattr(result, "training_loss", None),
        "last_log": logs[-1] if logs else {},
        "model_dir": str(model_dir),
        **(extra or {}),
    }
    if main_process:
        write_json_atomic(out / "summary.json", summary, default=str)
    print(f"{kind}: {steps} steps in {seconds:.1f} s; model in {model_dir}; metrics in {out / 'metrics.csv'}")
    return summary


def sft_command(cfg: DictConfig) -> int:
    """``roboref train vlm-sft``: exit status 0 after a run (errors raise)."""
    run_sft(cfg)
    return 0


def rft_command(cfg: DictConfig) -> int:
    """``roboref train vlm-rft``."""
    run_rft(cfg)
    return 0
