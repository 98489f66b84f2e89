"""One deploy step, the same in every mode: frame → agent → point → 3D target → safety → robot.

``plan`` asks the agent for a point on a ``CameraFrame`` and lifts it into the robot's base frame
(refusing, with the reason, when there is no point or no valid depth around it); ``execute`` runs
the plan's skill (pick at a location, or place what the gripper holds) on a robot, normally a
``SafetyLayer``, and turns whatever stops it into a failure reason instead of an exception, so a
run counts and logs every refused or failed step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roboref.deploy.cameras import CameraFrame
from roboref.deploy.extrinsics import Transform
from roboref.deploy.grasp import DepthGrasp, depth_grasp
from roboref.deploy.lifting import DepthConfig, LiftedPoint, NoDepthError, lift_point
from roboref.deploy.robots.base import RobotAdapter, RobotError
from roboref.deploy.safety import SafetyViolation
from roboref.deploy.skills import SkillResult, pick_at, place_at

DEFAULT_DEPTH = DepthConfig()


@dataclass
class Plan:
    """What the agent said and where it lands: ``refusal`` is empty when the robot may move."""

    instruction: str
    kind: str  # "location" (pick it) | "placement" (put the held object there)
    point: tuple[float, float] | None = None
    text: str = ""
    lifted: LiftedPoint | None = None
    grasp: DepthGrasp | None = None  # a location's top-down grasp, estimated from the depth image
    refusal: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instruction": self.instruction,
            "kind": self.kind,
            "point": None if self.point is None else [float(v) for v in self.point],
            "text": self.text,
            "lifted": None if self.lifted is None else self.lifted.to_dict(),
            "grasp": None if self.grasp is None else self.grasp.to_dict(),
            "refusal": self.refusal,
            **self.extra,
        }


def plan(
    agent: Any,
    frame: CameraFrame,
    instruction: str,
    kind: str,
    T_base_cam: Transform,
    depth: DepthConfig = DEFAULT_DEPTH,
    observation: dict | None = None,
    table_z: float | None = None,
) -> Plan:
    """Ask ``agent`` (``act(observation) -> AgentOutput``) and lift its point; for a location with
    ``table_z`` (base frame) known, estimate the grasp from the depth image too. ``observation``
    overrides the one built from the frame (the sim passes its env observation, noisy depth in)."""
    obs = observation if observation is not None else frame.observation(instruction)
    out = agent.act(obs)
    p = Plan(instruction, kind, text=getattr(out, "text", "") or "")
    if out.point is None:
        p.refusal = "no_point: the agent gave no point"
        return p
    p.point = (float(out.point[0]), float(out.point[1]))
    return lift_plan(p, frame, T_base_cam, depth, table_z)


def lift_plan(
    p: Plan, frame: CameraFrame, T_base_cam: Transform, depth: DepthConfig = DEFAULT_DEPTH, table_z: float | None = None
) -> Plan:
    """``p.point`` lifted into the base frame (and, for a location with ``table_z``, its grasp),
    or ``p.refusal`` saying why it cannot be."""
    try:
        p.lifted = lift_point(p.point, frame.depth, frame.camera, T_base_cam, depth)
        if p.kind == "location" and table_z is not None:
            p.grasp = depth_grasp(p.point, frame.depth, frame.camera, T_base_cam, table_z)
    except NoDepthError as err:
        p.refusal = f"no_depth: {err}"
    except ValueError as err:  # a point outside [0, 1]², a depth image of the wrong size
        p.refusal = f"bad_point: {err}"
    return p


@dataclass
class Outcome:
    """What the robot did with a plan: the skill's result, or the failure that stopped it."""

    ok: bool
    failure: str = ""
    skill: SkillResult | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"executed": self.ok, "failure": self.failure}
        if self.skill is not None:
            d.update(holding=self.skill.holding, width=round(float(self.skill.width), 5))
            d["tcp_xyz"] = [round(float(v), 5) for v in self.skill.tcp[:3, 3]]
        return d


def execute(
    robot: RobotAdapter,
    p: Plan,
    table_z: float | None = None,
    hold_height: float | None = None,
    yaw: float = 0.0,
    speed: float | None = None,
) -> Outcome:
    """Run ``p`` on ``robot``: ``pick_at`` for a location, ``place_at`` (needs ``hold_height``,
    from the pick) for a placement. A refused plan moves nothing."""
    if p.refusal or p.lifted is None:
        return Outcome(False, p.refusal or "no_target")
    try:
        if p.kind == "location" and p.grasp is not None:
            g = p.grasp
            if g.width > robot.specs.gripper_range[1] - 0.005:
                return Outcome(
                    False,
                    f"too_wide: the object is {g.width:.3f} m across, the hand opens "
                    f"{robot.specs.gripper_range[1]:.3f} m",
                )
            # A hand on a wrist that cannot turn about the vertical (the G1's) keeps its yaw.
            yaw = g.yaw if robot.specs.wrist_joints else yaw
            res = pick_at(
                robot, g.center, yaw=yaw, table_z=table_z, speed=speed, offset=_offset(robot, g.center, table_z)
            )
        elif p.kind == "location":
            res = pick_at(robot, p.lifted.p_base, yaw=yaw, table_z=table_z, speed=speed)
        elif p.kind == "placement":
            if hold_height is None:
                return Outcome(False, "nothing_held: a placement needs an object in the gripper")
            res = place_at(robot, p.lifted.p_base, hold_height, speed=speed)
        else:
            raise ValueError(f"plan kind must be location or placement, got {p.kind!r}")
    except SafetyViolation as err:
        return Outcome(False, f"safety: {err}")
    except RobotError as err:
        return Outcome(False, f"robot: {type(err).__name__}: {err}")
    return Outcome(True, "", res)


def _offset(robot: RobotAdapter, top: np.ndarray, table_z: float | None, clearance: float = 0.008) -> np.ndarray:
    """The robot's grasp offset, raised where it would take the TCP within ``clearance`` of the
    table (a flat object: the fingers close just above the table instead of below it)."""
    off = np.asarray(robot.specs.grasp_offset, float).copy()
    if table_z is not None:
        off[2] = max(off[2], table_z + clearance - float(top[2]))
    return off
