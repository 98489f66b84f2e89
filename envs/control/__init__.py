"""Controllers that make a referring point physically happen (pick at a point, place at a point).

``make_controller(robot)`` returns the robot's ``Controller``; ``execute(sim, Action(pick=…,
place=…))`` returns an ``ExecutionResult`` (failures are values, never exceptions).

Modules: ``config`` (``Action``, ``ControlConfig``), ``state`` (a controller's ``Binding`` to one
sim, names resolved from the ``RobotSpec``), ``motion`` (IK plans and the servo loop),
``contacts``, ``pick``, ``place``, ``errors`` (the internal ``ControlError``), ``base`` (the
``Controller`` composing them), ``ur5e`` / ``g1`` (the robots; ``assist``: the G1's explicit
assisted grasp), ``targets`` (point → object, grasp and place poses), ``ik``, ``oracle``,
``result``.
"""

from roboref.envs.control.base import Controller
from roboref.envs.control.config import Action, ControlConfig
from roboref.envs.control.errors import ControlError
from roboref.envs.control.g1 import G1Controller
from roboref.envs.control.oracle import free_table_point
from roboref.envs.control.result import FAILURE_REASONS, ExecutionResult
from roboref.envs.control.state import Binding
from roboref.envs.control.targets import (
    GraspPose,
    PlacePose,
    PointHit,
    grasp_pose,
    place_pose,
    point_hit,
)
from roboref.envs.control.ur5e import UR5eController

CONTROLLERS: dict[str, type[Controller]] = {"ur5e": UR5eController, "g1": G1Controller}


def make_controller(robot: str, config: ControlConfig | None = None, **overrides) -> Controller:
    """The controller for ``robot`` (a ``roboref.envs.robots`` name) with ``config``/overrides; it
    reads its names from ``get_robot(robot)`` and keeps its state per sim (``Controller.bind``)."""
    try:
        cls = CONTROLLERS[robot]
    except KeyError:
        raise ValueError(f"no controller for robot {robot!r}; controllers: {', '.join(CONTROLLERS)}") from None
    return cls(config, **overrides)


__all__ = [
    "Action",
    "Binding",
    "CONTROLLERS",
    "ControlConfig",
    "ControlError",
    "Controller",
    "ExecutionResult",
    "FAILURE_REASONS",
    "G1Controller",
    "GraspPose",
    "PlacePose",
    "PointHit",
    "UR5eController",
    "free_table_point",
    "grasp_pose",
    "make_controller",
    "place_pose",
    "point_hit",
]
