"""The reward composer: which terms are on, their weights, and every term with its reason.

``RewardConfig.preset("roborefer")`` reproduces the RoboRefer paper's RFT reward: strict
``<think>…</think><answer>…</answer>`` format + point within 50 px L1 of the ground-truth point +
0.25 × (step format + step accuracy, binary: position L1 < 50 px, orientation cosine > 0.8, size
within ±15 %). ``preset("default")`` (roboref's) uses the shaped point reward on the mask, the
metric-sensitive process reward (depth and distance steps too) and the execution outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from roboref.envs.tasks.records import AgentOutput, ReferringTask
from roboref.rewards.format import parse_answer
from roboref.rewards.outcome import OutcomeConfig, outcome_reward
from roboref.rewards.point import point_within_l1, points_reward
from roboref.rewards.process import ProcessConfig, process_reward

TERMS = ("format", "point", "step_format", "process", "outcome")


@dataclass(frozen=True)
class RewardConfig:
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "format": 0.1,
            "point": 1.0,
            "step_format": 0.0,
            "process": 0.25,
            "outcome": 0.5,
        }
    )
    strict_format: bool = False
    point_mode: str = "mask"  # mask: shaped mask reward | l1: within point_tol_px of the answer point
    point_tol_px: float = 50.0
    point_aggregate: str = "mean"
    outside_max: float = 0.5
    sigma: float = 0.1
    process: ProcessConfig = field(default_factory=ProcessConfig)
    outcome: OutcomeConfig = field(default_factory=OutcomeConfig)

    def __post_init__(self):
        unknown = set(self.weights) - set(TERMS)
        if unknown:
            raise ValueError(f"unknown reward term(s) {sorted(unknown)}; terms: {list(TERMS)}")
        if self.point_mode not in ("mask", "l1"):
            raise ValueError(f"point_mode must be 'mask' or 'l1', got {self.point_mode!r}")

    @classmethod
    def preset(cls, name: str) -> RewardConfig:
        if name == "default":
            return cls()
        if name == "roborefer":
            return cls(
                weights={"format": 1.0, "point": 1.0, "step_format": 0.25, "process": 0.25, "outcome": 0.0},
                strict_format=True,
                point_mode="l1",
                process=ProcessConfig(binary=True),
            )
        raise ValueError(f"unknown reward preset {name!r}; presets: default, roborefer")

    def with_weights(self, **weights: float) -> RewardConfig:
        return replace(self, weights={**self.weights, **weights})


@dataclass(frozen=True)
class RewardResult:
    total: float
    terms: dict[str, float]
    reasons: dict[str, str]


def compute_reward(
    prediction: str | AgentOutput | None,
    task: ReferringTask,
    cfg: RewardConfig | None = None,
    execution: Any = None,
) -> RewardResult:
    """Score a prediction (model text, or an ``AgentOutput``) against a task. Never raises on bad
    predictions: they score 0 with a reason.

    The format terms score what the agent said: its text, or, for an agent that answers with
    structure only, that structure rendered once to text (``AgentOutput.to_text``). So a bare
    point is not in the strict ``<think>…</think><answer>…</answer>`` layout, and no stated steps
    give no step format."""
    cfg = cfg or RewardConfig()
    answer = prediction if isinstance(prediction, AgentOutput) else None
    text = prediction if isinstance(prediction, str) else (answer.to_text() if answer is not None else "")
    parsed = parse_answer(text)
    stated = [answer.point] if answer is not None and answer.point is not None else []
    if answer is not None and not answer.text:  # structure only: its own exact values score
        points, steps = stated, list(answer.steps)
    else:
        points = list(parsed.points) if parsed.ok else stated
        steps = list(parsed.steps) or (list(answer.steps) if answer is not None else [])
    terms: dict[str, float] = {}
    reasons: dict[str, str] = {}
    h, w = task.mask.shape

    def on(name):
        return cfg.weights.get(name, 0.0) != 0.0

    if on("format"):
        if not parsed.ok:
            terms["format"], reasons["format"] = 0.0, parsed.reason
        elif cfg.strict_format and not parsed.strict_layout:
            terms["format"], reasons["format"] = 0.0, "not in the <think>...</think><answer>...</answer> layout"
        else:
            terms["format"], reasons["format"] = 1.0, "ok"
    if on("point"):
        if not points:
            terms["point"], reasons["point"] = 0.0, parsed.reason
        elif cfg.point_mode == "l1":
            terms["point"], reasons["point"] = point_within_l1(points[0], task.point, (w, h), cfg.point_tol_px)
        else:
            terms["point"], reasons["point"] = points_reward(
                points, task.mask, cfg.point_aggregate, cfg.outside_max, cfg.sigma
            )
    if on("step_format"):
        n_ok, n_bad = len(parsed.steps), len(parsed.step_errors)
        terms["step_format"] = n_ok / (n_ok + n_bad) if n_ok + n_bad else 0.0
        reasons["step_format"] = parsed.step_errors[0] if n_bad else ("ok" if n_ok else "no reasoning steps")
    if on("process"):
        value, reason, _ = process_reward(steps, list(task.steps), (w, h), cfg.process)
        terms["process"], reasons["process"] = value, reason
    if on("outcome"):
        if execution is None:
            terms["outcome"], reasons["outcome"] = 0.0, "not executed"
        else:
            terms["outcome"], reasons["outcome"] = outcome_reward(execution, task.kind, cfg.outcome)
    total = sum(cfg.weights.get(k, 0.0) * v for k, v in terms.items())
    return RewardResult(float(total), terms, reasons)
