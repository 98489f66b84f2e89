"""GRPO-style reinforcement fine-tuning of RefPoint (``roboref train rft init=DIR``).

Per prompt, ``group_size`` points are sampled from the heatmap and scored with
``roboref.rewards.compute_reward`` (point + process terms; the process term scores the model's
stated ``[Position]``/``[Depth]`` steps, so a point near the right object earns shaping even
outside its mask). Advantages are normalized within each group; the policy loss is PPO's clipped
ratio objective over ``ppo_epochs`` passes, plus ``beta`` × the exact KL divergence of the
heatmap to the frozen SFT reference. Same checkpoint, resume, logging and NaN guarantees as SFT;
sampling uses a generator seeded by ``(seed, step)``, so a resumed run draws the same points.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from roboref.agents.base import AgentOutput
from roboref.agents.refpoint.agent import predicted_steps, stated_trace
from roboref.agents.refpoint.batches import TextCache, batch_indices, batch_tensors, evaluate
from roboref.agents.refpoint.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from roboref.agents.refpoint.data import SampleSet, build_cache, shard_specs
from roboref.agents.refpoint.metrics import MetricsLogger, plot_metrics
from roboref.agents.refpoint.model import RefPointModel
from roboref.agents.refpoint.sampling import cell_log_probs, sample_points
from roboref.agents.refpoint.sft import IndexLog, TrainResult, lr_at
from roboref.rewards import RewardConfig, compute_reward, point_in_mask


@dataclass
class RFTConfig:
    """Everything an RFT run depends on (saved as ``out/rft_config.json``)."""

    init: str = "outputs/refpoint/sft/best"  # the SFT model: starting point and KL reference
    out: str = "outputs/refpoint/rft"
    cache_dir: str = "outputs/refpoint/cache"
    num_samples: int = 40000  # prompts: own env seeds (task_split=train), none of them in the SFT data
    val_samples: int = 500
    robots: tuple[str, ...] = ("ur5e", "g1")
    shard_size: int = 250
    workers: int = 1
    batch_size: int = 16  # prompts per step
    group_size: int = 32  # sampled points per prompt (G); scoring is cheap, the forward pass is per prompt
    temperature: float = 1.0
    max_steps: int = 4000
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 10
    grad_clip: float = 1.0
    ppo_epochs: int = 2
    clip_eps: float = 0.2
    beta: float = 0.01  # KL to the reference
    scale_rewards: str = "batch"  # advantage scale as in TRL's GRPOConfig: group | batch | none
    reward_preset: str = "default"
    process_reward: bool = True  # False: the "RFT without process rewards" ablation
    #: weights over the preset's; ``outcome`` > 0 executes every sampled point with the robot's
    #: controller in the simulator (``roboref.sim_reward``, ~0.3 s per point per worker)
    reward_weights: dict = field(default_factory=lambda: {"outcome": 0.0})
    outcome_workers: int = 1  # worker processes that execute points when the outcome term is on
    save_every: int = 500
    eval_every: int = 500
    log_every: int = 5
    keep_checkpoints: int = 2
    max_minutes: float | None = None
    seed: int = 0
    threads: int | None = 1  # torch threads; 1 was ~6x faster than 2 on a loaded 2-core VM
    progress: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RFTConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown RFT option(s) {unknown}; options: {sorted(names)}")
        d = dict(d)
        if "robots" in d:
            d["robots"] = tuple(d["robots"])
        cfg = cls(**d)
        if cfg.scale_rewards not in ("group", "batch", "none"):
            raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {cfg.scale_rewards!r}")
        return cfg

    def reward_config(self) -> RewardConfig:
        cfg = RewardConfig.preset(self.reward_preset).with_weights(**self.reward_weights)
        return cfg if self.process_reward else cfg.with_weights(process=0.0, step_format=0.0)


def load_prompts(cfg: RFTConfig, model: RefPointModel) -> tuple[SampleSet, SampleSet]:
    c = model.config
    args = (list(cfg.robots), c.image_size, c.grid, c.max_depth)
    train = shard_specs(cfg.num_samples, "rft", *args, shard_size=cfg.shard_size)
    val = shard_specs(cfg.val_samples, "val", *args, shard_size=cfg.shard_size)
    paths = build_cache(val + train, cfg.cache_dir, cfg.workers, cfg.progress)
    return SampleSet(paths[len(val) :]), SampleSet(paths[: len(val)])


def outcome_rewards(samples: SampleSet, idx: np.ndarray, points: torch.Tensor, scorer) -> np.ndarray:
    """``(B, G)`` execution outcomes of the sampled points: each sample's episode is re-created
    from its seed and the point executed by the robot's controller (``SimOutcomeReward``)."""
    b, g = points.shape[:2]
    rows = [int(idx[i]) for i in range(b) for _ in range(g)]
    texts = [f"<answer>({float(x):.4f}, {float(y):.4f})</answer>" for x, y in points.reshape(-1, 2).tolist()]
    scores = scorer(
        completions=texts,
        seed=[int(samples.seeds[r]) if samples.seeds[r] >= 0 else None for r in rows],
        robot=[str(samples.robots[r]) for r in rows],
        instruction=[str(samples.arrays["instruction"][r]) for r in rows],
    )
    return np.asarray(scores, float).reshape(b, g)


def group_rewards(
    samples: SampleSet,
    idx: np.ndarray,
    points: torch.Tensor,
    out,
    reward_cfg: RewardConfig,
    model: RefPointModel,
    scorer=None,
) -> tuple[np.ndarray, dict[str, float]]:
    """``(B, G)`` rewards of the sampled points, and the batch means of every reward term. The
    composer scores format, point and process; with a ``scorer`` the weighted execution outcome
    is added (the composer's own outcome term is off: it has no execution to score)."""
    c = model.config
    b, g = points.shape[:2]
    rewards = np.zeros((b, g))
    sums: dict[str, float] = {}
    w_outcome = reward_cfg.weights.get("outcome", 0.0)
    if scorer is not None:
        reward_cfg = reward_cfg.with_weights(outcome=0.0)
    for i in range(b):
        task = samples.task(int(idx[i]))
        trace = stated_trace(out, i, c)  # the same for every sampled point of the prompt
        for j in range(g):
            x, y = (float(v) for v in points[i, j])
            pred = AgentOutput(point=(x, y), steps=predicted_steps((x, y), *trace))
            res = compute_reward(pred, task, reward_cfg)
            rewards[i, j] = res.total
            for k, v in res.terms.items():
                sums[k] = sums.get(k, 0.0) + v
            sums["hit"] = sums.get("hit", 0.0) + point_in_mask((x, y), task.mask)[0]
    if scorer is not None:
        outcome = outcome_rewards(samples, idx, points, scorer)
        rewards += w_outcome * outcome
        sums["outcome"] = float(outcome.sum())
    return rewards, {k: v / (b * g) for k, v in sums.items()}


def advantages(rewards: torch.Tensor, scale: str = "group") -> torch.Tensor:
    """Group-relative advantages of ``(B, G)`` rewards: minus the group mean, divided by the
    group's std (``group``, GRPO), the batch's std (``batch``) or nothing (``none``, Dr. GRPO:
    a group whose rewards barely differ then gets a barely-moving update instead of unit-size
    noise)."""
    adv = rewards - rewards.mean(1, keepdim=True)
    if scale == "group":
        return adv / (rewards.std(1, keepdim=True) + 1e-4)
    if scale == "batch":
        return adv / (rewards.std() + 1e-4)
    return adv


def train_rft(cfg: RFTConfig, train_set: SampleSet | None = None, val_set: SampleSet | None = None) -> TrainResult:
    """Run (or resume) RFT from ``cfg.init``."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = RefPointModel.from_pretrained(cfg.init).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    model = RefPointModel.from_pretrained(cfg.init).train()
    if train_set is None or val_set is None:
        gen_train, gen_val = load_prompts(cfg, model)
        train_set, val_set = train_set or gen_train, val_set or gen_val
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = 0, -1.0
    ckpts = list_checkpoints(out)
    if ckpts:
        model, state = load_checkpoint(ckpts[-1])
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        opt.load_state_dict(torch.load(ckpts[-1] / "optimizer.pt", weights_only=True))
        step, best = state["step"], state.get("best_success", -1.0)
    (out / "rft_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=list) + "\n")
    texts, val_texts = TextCache(model, train_set), TextCache(model, val_set)
    reward_cfg = cfg.reward_config()
    scorer = None
    if reward_cfg.weights.get("outcome", 0.0) > 0:
        from roboref.sim_reward import SimOutcomeReward

        scorer = SimOutcomeReward({"task_split": "train"}, workers=cfg.outcome_workers)
    logger = MetricsLogger(out / "metrics.csv", resume_step=step)
    index_log = IndexLog(out / "data_indices.txt", resume_step=step)
    if step == 0:
        val = evaluate(model, val_set, val_texts)
        logger.log(0, "val", val)
        best = val["success"]
        model.save_pretrained(out / "best")
    start_time, n = time.time(), len(train_set)
    bar = tqdm(total=cfg.max_steps, initial=step, desc="rft", unit="step", disable=not cfg.progress)
    status, message, last = "done", "", {}

    def checkpoint(s: int) -> None:
        save_checkpoint(out, s, model, opt, {"best_success": best, "init": cfg.init}, cfg.keep_checkpoints)

    try:
        while step < cfg.max_steps:
            idx = batch_indices(cfg.seed, step, cfg.batch_size, n)
            t = batch_tensors(model, train_set, texts, idx)
            inputs = (t["rgb"], t["depth"], t["text"], t["text_mask"])
            gen = torch.Generator().manual_seed(int(np.random.default_rng([cfg.seed, step]).integers(2**62)))
            with torch.no_grad():
                old = model(*inputs)
                ref_logp = torch.log_softmax(reference(*inputs).logits.flatten(1) / cfg.temperature, -1)
                cells, points = sample_points(old.logits, cfg.group_size, gen, cfg.temperature)
                old_logp = cell_log_probs(old.logits, cells, cfg.temperature)
            rewards, terms = group_rewards(train_set, idx, points, old, reward_cfg, model, scorer)
            r = torch.as_tensor(rewards, dtype=torch.float32)
            adv = advantages(r, cfg.scale_rewards)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            stats: dict[str, float] = {}
            for _ in range(cfg.ppo_epochs):
                new = model(*inputs)
                logp_all = torch.log_softmax(new.logits.flatten(1) / cfg.temperature, -1)
                new_logp = logp_all.gather(1, cells)
                ratio = torch.exp(new_logp - old_logp)
                surrogate = torch.min(ratio * adv, ratio.clamp(1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv)
                kl = (logp_all.exp() * (logp_all - ref_logp)).sum(-1).mean()
                loss = -surrogate.mean() + cfg.beta * kl
                if not math.isfinite(float(loss.detach())):
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                stats = {
                    "loss": float(loss.detach()),
                    "kl": float(kl.detach()),
                    "clip_frac": float(((ratio - 1).abs() > cfg.clip_eps).float().mean()),
                }
            if not stats or not math.isfinite(stats["loss"]):
                kept = list_checkpoints(out)
                status = "nan"
                message = (
                    f"non-finite loss at step {step + 1}; stopped. Last good checkpoint: {kept[-1] if kept else 'none'}"
                )
                break
            index_log.log(step, idx)
            step += 1
            last = {**stats, "reward": float(r.mean()), **terms}
            bar.update()
            if step % cfg.log_every == 0:
                logger.log(step, "train", {**last, "lr": lr_at(step - 1, cfg)})
                bar.set_postfix(reward=f"{last['reward']:.3f}", hit=f"{terms.get('hit', 0):.3f}")
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                val = evaluate(model, val_set, val_texts)
                logger.log(step, "val", val)
                bar.write(f"step {step}: val success {val['success']:.3f}")
                if val["success"] > best:
                    best = val["success"]
                    model.save_pretrained(out / "best")
            if step % cfg.save_every == 0 or step == cfg.max_steps:
                checkpoint(step)
            if cfg.max_minutes is not None and time.time() - start_time > 60 * cfg.max_minutes:
                checkpoint(step)
                status, message = "time", f"stopped after {cfg.max_minutes} min at step {step}"
                break
    finally:
        bar.close()
        logger.close()
        plot_metrics(out / "metrics.csv", out / "metrics.png")
    if status == "done":
        model.save_pretrained(out / "final")
    if message:
        print(f"roboref train rft: {message}")
    return TrainResult(status, step, out, message, last)
