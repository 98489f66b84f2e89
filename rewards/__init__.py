"""Rewards: pure functions of (prediction, task[, execution]) returning (value, reason)."""

from roboref.rewards.point import point_in_mask, validate_point

__all__ = ["point_in_mask", "validate_point"]
