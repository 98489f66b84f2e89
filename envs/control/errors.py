"""``ControlError``: how a pick or place stops early inside a controller.

It is internal: ``Controller.execute`` catches it and returns its ``reason`` as the
``ExecutionResult``'s ``failure`` (failure reasons are values, not exceptions, for callers).
"""

from __future__ import annotations

from roboref.envs.control.result import FAILURE_REASONS


class ControlError(Exception):
    """Ends an action with ``reason`` (one of ``FAILURE_REASONS``) and a human ``message``."""

    def __init__(self, reason: str, message: str = ""):
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}; allowed: {FAILURE_REASONS}")
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
