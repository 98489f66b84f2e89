"""Rewards: pure functions of (prediction, task[, execution]) returning (value, reason)."""

from roboref.rewards.compose import RewardConfig, RewardResult, compute_reward
from roboref.rewards.format import format_reward, parse_answer, step_format_reward
from roboref.rewards.outcome import OutcomeConfig, outcome_reward
from roboref.rewards.point import point_in_mask, point_reward, point_within_l1, points_reward, validate_point
from roboref.rewards.process import ProcessConfig, process_reward

__all__ = [
    "OutcomeConfig",
    "ProcessConfig",
    "RewardConfig",
    "RewardResult",
    "compute_reward",
    "format_reward",
    "outcome_reward",
    "parse_answer",
    "point_in_mask",
    "point_reward",
    "point_within_l1",
    "points_reward",
    "process_reward",
    "step_format_reward",
    "validate_point",
]
