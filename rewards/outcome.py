"""Outcome reward: what happened when the point was executed (an ``ExecutionResult``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutcomeConfig:
    """Partial credit per stage; the stages a result reached add up (capped at 1)."""

    grasped: float = 0.3
    lifted: float = 0.2
    placed: float = 0.3
    stable: float = 0.2


def _get(result: Any, name: str, default=False):
    if isinstance(result, dict):
        return result.get(name, default)
    return getattr(result, name, default)


def outcome_reward(result: Any, kind: str = "location", cfg: OutcomeConfig | None = None) -> tuple[float, str]:
    """Location (pick): grasped + lifted credit, full marks when both. Placement: placed inside
    the target region + stable after release. ``result`` is an ``ExecutionResult`` or its dict."""
    cfg = cfg or OutcomeConfig()
    if result is None:
        return 0.0, "nothing was executed"
    reason = _get(result, "failure", "") or _get(result, "reason", "") or ""
    if kind == "location":
        value = cfg.grasped * bool(_get(result, "grasped")) + cfg.lifted * bool(_get(result, "lifted"))
        full = cfg.grasped + cfg.lifted
    else:
        value = cfg.placed * bool(_get(result, "placed")) + cfg.stable * bool(_get(result, "stable"))
        full = cfg.placed + cfg.stable
    value = value / full if full > 0 else 0.0
    return float(min(1.0, value)), reason or ("ok" if value >= 1 else "partial")
