"""Controllers that make a referring point physically happen (pick at a point, place at a point).

``make_controller(robot)`` returns the robot's ``Controller``; ``execute(sim, Action(pick=…,
place=…))`` returns an ``ExecutionResult`` (failures are values, never exceptions).
"""

from roboref.envs.control.base import Action, ControlConfig, Controller
from roboref.envs.control.g1 import G1Controller
from roboref.envs.control.oracle import free_table_point
from roboref.envs.control.result import FAILURE_REASONS, ExecutionResult
from roboref.envs.control.targets import (
    GraspPose,
    PlacePose,
    PointHit,
    TargetError,
    grasp_pose,
    place_pose,
    point_hit,
)
from roboref.envs.control.ur5e import UR5eController

CONTROLLERS: dict[str, type[Controller]] = {"ur5e": UR5eController, "g1": G1Controller}


def make_controller(robot: str, config: ControlConfig | None = None, **overrides) -> Controller:
    """The controller for ``robot`` (a ``roboref.envs.robots`` name) with ``config``/overrides."""
    try:
        cls = CONTROLLERS[robot]
    except KeyError:
        raise ValueError(f"no controller for robot {robot!r}; controllers: {', '.join(CONTROLLERS)}") from None
    return cls(config, **overrides)


__all__ = [
    "Action",
    "CONTROLLERS",
    "ControlConfig",
    "Controller",
    "ExecutionResult",
    "FAILURE_REASONS",
    "G1Controller",
    "GraspPose",
    "PlacePose",
    "PointHit",
    "TargetError",
    "UR5eController",
    "free_table_point",
    "grasp_pose",
    "make_controller",
    "place_pose",
    "point_hit",
]
