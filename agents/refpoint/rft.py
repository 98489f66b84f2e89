"""GRPO-style reinforcement fine-tuning of RefPoint (``roboref train rft init=DIR``).

Per prompt, ``group_size`` points are sampled from the heatmap and scored with
``roboref.rewards.compute_reward`` (point + process terms; the process term scores the model's
stated ``[Position]``/``[Depth]`` steps, so a point near the right object earns shaping even
outside its mask). Advantages are normalized within each group; the policy loss is PPO's clipped
ratio objective over ``ppo_epochs`` passes, plus ``beta`` × the exact KL divergence of the
heatmap to the frozen SFT reference. Same checkpoint, resume, logging and NaN guarantees as SFT (``loop.train_loop``);
sampling uses a generator seeded by ``(seed, step)``, so a resumed run draws the same points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from roboref.agents.base import AgentOutput
from roboref.agents.refpoint.agent import predicted_steps, stated_trace
from roboref.agents.refpoint.data import SampleSet, build_cache, shard_specs
from roboref.agents.refpoint.loop import LoopConfig, TrainResult, optimizer_step, train_loop
from roboref.agents.refpoint.model import RefPointModel, depth_missing
from roboref.agents.refpoint.sampling import cell_log_probs, sample_points
from roboref.agents.threads import torch_threads
from roboref.rewards import RewardConfig, compute_reward, point_in_mask


@dataclass(kw_only=True)
class RefPointRFTConfig(LoopConfig):
    """Everything an RFT run of RefPoint depends on (saved as ``out/rft_config.json``): the
    loop's fields (``LoopConfig``) with the shipped recipe's defaults, and RFT's own. Named apart
    from TRL's ``GRPOConfig``, which configures the VLM path (``agents/vlm/train.py``)."""

    out: str = "outputs/refpoint/rft"
    num_samples: int = 40000  # prompts: own env seeds (the rft block), none of them in the SFT data
    batch_size: int = 16  # prompts per step
    max_steps: int = 4000
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 10
    save_every: int = 500
    eval_every: int = 500
    log_every: int = 5
    init: str = "outputs/refpoint/sft/best"  # the SFT model: starting point and KL reference
    group_size: int = 32  # sampled points per prompt (G); scoring is cheap, the forward pass is per prompt
    temperature: float = 1.0
    ppo_epochs: int = 2
    clip_eps: float = 0.2
    beta: float = 0.01  # KL to the reference
    scale_rewards: str = "batch"  # advantage scale as in TRL's GRPOConfig: group | batch | none
    reward_preset: str = "default"
    process_reward: bool = True  # False: the "RFT without process rewards" ablation
    #: weights over the preset's; ``outcome`` > 0 executes the sampled points with the robot's
    #: controller in the simulator (``roboref.sim_reward``: each prompt's group together, about
    #: one reset and one pick per location prompt; benchmarks/outcome_speed.py)
    reward_weights: dict = field(default_factory=lambda: {"outcome": 0.0})
    outcome_workers: int = 1  # worker processes that execute points when the outcome term is on
    #: the outcome table's file (``roboref.outcome_table``; "" = ``out/outcome_table.jsonl``):
    #: runs over the same prompts (a resume, the ablation, another seed) can share one
    outcome_table: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ppo_epochs < 1:  # a step must update the model
            raise ValueError(f"ppo_epochs must be at least 1, got {self.ppo_epochs}")
        if self.scale_rewards not in ("group", "batch", "none"):
            raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {self.scale_rewards!r}")

    def reward_config(self) -> RewardConfig:
        """The reward preset with this run's weights (process terms off for the ablation)."""
        cfg = RewardConfig.preset(self.reward_preset).with_weights(**self.reward_weights)
        return cfg if self.process_reward else cfg.with_weights(process=0.0, step_format=0.0)


def load_prompts(cfg: RefPointRFTConfig, model: RefPointModel) -> tuple[SampleSet, SampleSet]:
    """Train prompts (the ``rft`` seed block) and validation samples at the model's resolution."""
    c = model.config
    args = (list(cfg.robots), c.image_size, c.grid, c.max_depth, cfg.shard_size)
    train = shard_specs(cfg.num_samples, "rft", *args, env_kwargs=cfg.env_kwargs)
    val = shard_specs(cfg.val_samples, "val", *args, env_kwargs=cfg.val_env)
    paths = build_cache(val + train, cfg.cache_dir, cfg.workers, cfg.progress)
    return SampleSet(paths[len(val) :]), SampleSet(paths[: len(val)])


def outcome_rewards(samples: SampleSet, idx: np.ndarray, points: torch.Tensor, table) -> np.ndarray:
    """``(B, G)`` execution outcomes of the sampled points from an ``OutcomeTable``: each
    sample's episode is re-created from its seed and a point executed by the robot's controller
    the first time its prompt and cell come up; after that it is looked up."""
    from roboref.agents.refpoint.config import KINDS
    from roboref.outcome_table import Prompt

    prompts = []
    for r in (int(i) for i in idx):
        if samples.seeds[r] < 0:
            raise ValueError(f"prompt {r} has no env seed: the outcome term needs shards that store it")
        a = samples.arrays
        kind = KINDS[int(a["kind"][r])]
        prompts.append(
            Prompt(str(samples.robots[r]), int(samples.seeds[r]), str(a["instruction"][r]), kind, samples.mask(r))
        )
    scores, _ = table.scores(prompts, points.numpy())
    return scores


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
        executed = scorer.executed
        outcome = outcome_rewards(samples, idx, points, scorer)
        rewards += w_outcome * outcome
        sums["outcome"] = float(outcome.sum())
        sums["outcome_executions"] = float((scorer.executed - executed) * b * g)  # a count, once /(b*g)
        # points scored 0 for bad input or a broken execution (off the table, unstable physics,
        # a dead worker, ...), by category: logged as fractions of the batch's points
        for cat, count in scorer.last_failures.items():
            sums[f"outcome_zero_{cat.replace(' ', '_')}"] = float(count)
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


def train_rft(
    cfg: RefPointRFTConfig, train_set: SampleSet | None = None, val_set: SampleSet | None = None
) -> TrainResult:
    """Run (or resume) RFT from ``cfg.init``."""
    with torch_threads(cfg.threads):
        reference = RefPointModel.from_pretrained(cfg.init).eval()
        for p in reference.parameters():
            p.requires_grad_(False)
        model = RefPointModel.from_pretrained(cfg.init).train()
        # a reference that predates the no_depth map knows nothing about RGB-only input: the KL
        # then holds only the rows with depth, and rows without are free to follow the reward
        kl_all_rows = "no_depth" not in reference.filled_in
        if train_set is None or val_set is None:
            gen_train, gen_val = load_prompts(cfg, model)
            train_set, val_set = train_set or gen_train, val_set or gen_val
        reward_cfg = cfg.reward_config()
        scorer = None
        if reward_cfg.weights.get("outcome", 0.0) > 0:
            from pathlib import Path

            from roboref.outcome_table import OutcomeTable
            from roboref.sim_reward import SimOutcomeReward

            # place points in one heatmap cell are one action of the policy: one execution
            # the prompts' own env options (randomization, depth noise, object variants) re-create them
            sim = SimOutcomeReward(
                {**(cfg.env_kwargs or {}), "task_split": "train"},
                workers=cfg.outcome_workers,
                place_grid=model.config.grid,
            )
            scorer = OutcomeTable(sim, model.config.grid, cfg.outcome_table or Path(cfg.out) / "outcome_table.jsonl")

        def train_step(
            model: RefPointModel, opt: torch.optim.Optimizer, step: int, idx: np.ndarray, t: dict[str, torch.Tensor]
        ) -> dict[str, float]:
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
            for _ in range(cfg.ppo_epochs):
                new = model(*inputs)
                logp_all = torch.log_softmax(new.logits.flatten(1) / cfg.temperature, -1)
                ratio = torch.exp(logp_all.gather(1, cells) - old_logp)
                surrogate = torch.min(ratio * adv, ratio.clamp(1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv)
                kl_rows = (logp_all.exp() * (logp_all - ref_logp)).sum(-1)
                if kl_all_rows:
                    kl = kl_rows.mean()
                else:
                    keep = ~depth_missing(t["depth"])
                    kl = kl_rows[keep].sum() / keep.sum().clamp(min=1)
                loss = -surrogate.mean() + cfg.beta * kl
                if not math.isfinite(float(loss.detach())):
                    return {"loss": float(loss.detach())}
                optimizer_step(model, opt, loss, cfg.grad_clip)
                stats = {
                    "loss": float(loss.detach()),
                    "kl": float(kl.detach()),
                    "clip_frac": float(((ratio - 1).abs() > cfg.clip_eps).float().mean()),
                }
            return {**stats, "reward": float(r.mean()), **terms}

        state, show = {"init": cfg.init}, ("reward", "hit")
        try:
            return train_loop(
                "rft", cfg, model, train_set, val_set, train_step, state=state, show=show, eval_first=True
            )
        finally:
            if scorer is not None:
                scorer.close()  # its worker pool lives for the run
