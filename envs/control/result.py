"""``ExecutionResult``: what happened when a controller tried to act on a referring point.

Failures are values (``failure`` holds one of ``FAILURE_REASONS``), so rewards, evaluation and
logs can count them without catching exceptions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: Every value ``ExecutionResult.failure`` can take besides ``""`` (success).
FAILURE_REASONS = (
    "ik_failed",  # no converged IK solution for a waypoint (unreachable pose)
    "out_of_workspace",  # point is NaN, off the image, off the table, on background or the robot
    "no_object_at_point",  # a pick point that is not on an object
    "not_graspable",  # the object is wider than the hand opens (e.g. a plate for the 2F-85)
    "not_holding",  # a place with nothing in the hand
    "grasp_failed",  # fingers closed but the object is not between them
    "dropped",  # the object left the hand while lifting or carrying
    "collision",  # the robot hit the table or another object on its way in
    "unstable",  # physics blew up, or the placed object does not come to rest
    "timeout",  # the sim-time budget ran out
)


@dataclass(frozen=True)
class ExecutionResult:
    """One executed action. Positions are world metres; ``distance_to_target`` is the
    horizontal distance from the object to the place target (``None`` without a place)."""

    robot: str
    action: str  # "pick" | "place" | "pick_place"
    success: bool
    failure: str = ""
    grasped: bool = False
    lifted: bool = False
    placed: bool = False
    stable: bool = False
    holding: bool = False  # the object is still in the hand at the end
    target_object: int = -1  # scene object index (slot), -1 if none
    object_pos: tuple[float, float, float] | None = None
    object_quat: tuple[float, float, float, float] | None = None
    lift_height: float = 0.0
    place_target: tuple[float, float, float] | None = None
    distance_to_target: float | None = None
    sim_time: float = 0.0
    wall_time: float = 0.0
    assisted_grasp: bool = False
    message: str = ""

    def __post_init__(self):
        if self.failure and self.failure not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {self.failure!r}; allowed: {FAILURE_REASONS}")
        if self.success and self.failure:
            raise ValueError("a successful result has no failure reason")

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("object_pos", "object_quat", "place_target"):
            if d[key] is not None:
                d[key] = [float(v) for v in d[key]]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> ExecutionResult:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
