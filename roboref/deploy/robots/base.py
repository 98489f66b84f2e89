"""The one robot interface every deployment target speaks (``RobotAdapter``), and its records.

A skill or the safety layer talks to a MuJoCo stand-in, a fake, a UR5e over ur_rtde or a Unitree
G1 over its SDK through the same calls, so what was tested in sim is what runs on hardware. Poses
are 4×4 homogeneous transforms of the tool centre point (TCP) in the robot's base frame, metres;
joint values in radians; the gripper by the metric width between its fingers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.spatial.transform import Rotation

#: ``RobotState.safety`` values: only ``NORMAL`` lets the safety layer send commands.
NORMAL, PROTECTIVE_STOP, EMERGENCY_STOP, DISCONNECTED, FAULT = (
    "normal",
    "protective_stop",
    "emergency_stop",
    "disconnected",
    "fault",
)
SAFETY_STATES = (NORMAL, PROTECTIVE_STOP, EMERGENCY_STOP, DISCONNECTED, FAULT)


class RobotError(RuntimeError):
    """A command the robot did not carry out; ``safety`` is the robot's safety state after it."""

    safety = FAULT


class ProtectiveStopError(RobotError):
    """The robot is (or went) into a protective stop: an operator must clear it on the robot."""

    safety = PROTECTIVE_STOP


class ConnectionLostError(RobotError):
    """The link to the robot is down (or dropped mid-command)."""

    safety = DISCONNECTED


class UnreachableError(RobotError):
    """No joint configuration puts the TCP at the asked pose (IK or the controller said so)."""

    safety = NORMAL


class MotionTimeout(RobotError):
    """A move did not finish within its timeout."""

    safety = NORMAL


@dataclass(frozen=True)
class RobotState:
    """One reading of the robot: joints (rad), TCP pose (4×4, base frame), gripper width (m),
    safety status (one of ``SAFETY_STATES``), the reading's time (s, robot clock or sim time),
    and whether the gripper reports an object (``None`` when it cannot tell)."""

    joints: np.ndarray
    tcp: np.ndarray
    gripper_width: float
    safety: str = NORMAL
    time: float = 0.0
    holding: bool | None = None

    def to_dict(self) -> dict:
        """JSON-ready form (the safety log's before/after)."""
        return {
            "joints": [round(float(v), 6) for v in self.joints],
            "tcp_xyz": [round(float(v), 6) for v in self.tcp[:3, 3]],
            "tcp_rotvec": [round(float(v), 6) for v in Rotation.from_matrix(self.tcp[:3, :3]).as_rotvec()],
            "gripper_width": round(float(self.gripper_width), 6),
            "safety": self.safety,
            "time": float(self.time),
            "holding": self.holding,
        }


@dataclass(frozen=True)
class RobotSpecs:
    """What a robot is: name, joint names and limits (rad, ``(dof, 2)``), gripper width range
    (m), the base and TCP frames' names, and what the safety layer and skills need to know:
    which joints are wrists (the joint-wrap check), the top-down tool rotation (base frame, yaw 0),
    the tool axis that points along the approach, the gripper's force range (N) and optional
    joint waypoints that take the arm from rest to over the table (``ready_path``)."""

    name: str
    joint_names: tuple[str, ...]
    joint_limits: np.ndarray
    gripper_range: tuple[float, float]
    base_frame: str
    tcp_frame: str
    wrist_joints: tuple[int, ...] = ()
    tool_down: np.ndarray = field(default_factory=lambda: np.diag([1.0, -1.0, -1.0]))
    approach_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    gripper_force_range: tuple[float, float] = (20.0, 235.0)
    ready_path: tuple[np.ndarray, ...] = ()
    #: Where the TCP goes relative to a surface point of the object for a grasp (base frame, m).
    grasp_offset: tuple[float, float, float] = (0.0, 0.0, -0.02)

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    def tool_rotation(self, yaw: float) -> np.ndarray:
        """The top-down tool rotation turned by ``yaw`` about the base z axis."""
        return Rotation.from_euler("z", yaw).as_matrix() @ self.tool_down


@runtime_checkable
class RobotAdapter(Protocol):
    """What every robot offers. Moves block until done (or raise); failures are exceptions
    (``RobotError`` subclasses), because on hardware an unnoticed failure is dangerous."""

    specs: RobotSpecs

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def state(self) -> RobotState: ...

    def move_to_pose(self, T: np.ndarray, speed: float, accel: float, timeout: float, linear: bool = True) -> None:
        """TCP to ``T`` (base frame): straight in tool space (``linear``: ``speed`` m/s, ``accel``
        m/s²) or through joint space (``linear=False``, a ``moveJ`` to the IK solution; UR takes
        ``speed``/``accel`` as the leading joint's rad/s and rad/s², the sims time the move by the
        TCP's straight-line distance over ``speed``)."""
        ...

    def move_joints(self, q: np.ndarray, speed: float, accel: float, timeout: float) -> None: ...

    def stop(self) -> None: ...

    def gripper(self, width: float, speed: float, force: float) -> float:
        """Open/close to ``width`` (m); returns the width reached (an object stops the fingers)."""
        ...

    def reachable(self, T: np.ndarray) -> bool: ...


# --- pose helpers ---------------------------------------------------------------------------
def pose_matrix(position, rotation=None) -> np.ndarray:
    """4×4 from a position and a 3×3 rotation (identity when omitted)."""
    T = np.eye(4)
    T[:3, 3] = np.asarray(position, float)
    if rotation is not None:
        T[:3, :3] = np.asarray(rotation, float)
    return T


def check_transform(T, what: str = "pose") -> np.ndarray:
    """``T`` as a float 4×4 rigid transform, or a ``ValueError`` saying what is wrong with it."""
    T = np.asarray(T, float)
    if T.shape != (4, 4):
        raise ValueError(f"{what}: expected a 4×4 transform, got shape {T.shape}")
    if not np.isfinite(T).all():
        raise ValueError(f"{what}: has non-finite entries")
    R = T[:3, :3]
    err = float(np.abs(R.T @ R - np.eye(3)).max())
    if err > 1e-4 or abs(np.linalg.det(R) - 1.0) > 1e-4 or not np.allclose(T[3], [0, 0, 0, 1]):
        raise ValueError(f"{what}: not a rigid transform (orthonormality error {err:.2g}, det {np.linalg.det(R):.4f})")
    return T


def to_ur_pose(T: np.ndarray) -> list[float]:
    """4×4 → UR's ``[x, y, z, rx, ry, rz]`` (rotation vector, rad)."""
    return [*map(float, T[:3, 3]), *map(float, Rotation.from_matrix(T[:3, :3]).as_rotvec())]


def from_ur_pose(p) -> np.ndarray:
    """UR's ``[x, y, z, rx, ry, rz]`` → 4×4."""
    p = np.asarray(p, float)
    return pose_matrix(p[:3], Rotation.from_rotvec(p[3:6]).as_matrix())


def rotation_angle(Ra: np.ndarray, Rb: np.ndarray) -> float:
    """Angle (rad) of the rotation taking ``Ra`` to ``Rb``."""
    c = (np.trace(Ra.T @ Rb) - 1.0) / 2.0
    return math.acos(float(np.clip(c, -1.0, 1.0)))


def deadline(timeout: float) -> float:
    """A monotonic-clock deadline ``timeout`` seconds from now."""
    return time.monotonic() + float(timeout)
