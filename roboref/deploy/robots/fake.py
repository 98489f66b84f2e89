"""``FakeRobot``: a robot that only records what it is told, with injectable failures.

It has no kinematics (a pose move sets the TCP, a joint move sets the joints) and moves
instantly. Tests and ``mode=dry-run`` use it to see exactly which commands would reach hardware,
and to rehearse the failures a real robot produces: a protective stop, a dropped connection
(before or half-way through a move) and an unreachable target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from roboref.deploy.robots.base import (
    DISCONNECTED,
    NORMAL,
    PROTECTIVE_STOP,
    ConnectionLostError,
    ProtectiveStopError,
    RobotSpecs,
    RobotState,
    UnreachableError,
    check_transform,
    pose_matrix,
)

UR5E_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
#: A ready pose over the table (rad) and the TCP it is faked to have (base frame).
FAKE_HOME_Q = np.array([-1.5708, -1.5708, 1.5708, -1.5708, -1.5708, 0.0])
FAKE_HOME_TCP = pose_matrix([0.0, -0.45, 0.35], np.diag([1.0, -1.0, -1.0]))


def fake_ur5e_specs() -> RobotSpecs:
    """UR5e-like specs (joint limits ±2π, 2F-85 range) for the fake."""
    lim = np.tile([-2 * np.pi, 2 * np.pi], (6, 1))
    return RobotSpecs(
        name="fake-ur5e",
        joint_names=UR5E_JOINTS,
        joint_limits=lim,
        gripper_range=(0.0, 0.085),
        base_frame="base",
        tcp_frame="tool0",
        wrist_joints=(3, 4, 5),
    )


@dataclass
class Injection:
    """A failure armed to fire on the command ``after`` commands from now."""

    kind: str  # "protective_stop" | "disconnect"
    after: int = 0
    mid_move: bool = True


@dataclass
class FakeRobot:
    """Records every command in ``commands`` as ``(name, kwargs)``; ``reach`` (m from the base
    origin) bounds ``reachable`` besides any ``unreachable`` predicate."""

    specs: RobotSpecs = field(default_factory=fake_ur5e_specs)
    reach: float = 0.85
    commands: list[tuple[str, dict]] = field(default_factory=list)
    unreachable: Callable[[np.ndarray], bool] | None = None
    connected: bool = False
    safety: str = NORMAL
    joints: np.ndarray = field(default_factory=lambda: FAKE_HOME_Q.copy())
    tcp: np.ndarray = field(default_factory=lambda: FAKE_HOME_TCP.copy())
    width: float = 0.085
    clock: float = 0.0
    _armed: list[Injection] = field(default_factory=list)

    # --- failure injection ------------------------------------------------------------------
    def inject_protective_stop(self, after: int = 0) -> None:
        """The ``after``-th next command triggers a protective stop (it stays until
        ``operator_clear``)."""
        self._armed.append(Injection("protective_stop", after))

    def inject_disconnect(self, after: int = 0, mid_move: bool = True) -> None:
        """The ``after``-th next command loses the connection, half-way through a move when
        ``mid_move``."""
        self._armed.append(Injection("disconnect", after, mid_move))

    def inject_unreachable(self, predicate: Callable[[np.ndarray], bool]) -> None:
        """Targets for which ``predicate(T)`` is true are unreachable."""
        self.unreachable = predicate

    def operator_clear(self) -> None:
        """What an operator does on the pendant: unlock the protective stop."""
        if self.safety == PROTECTIVE_STOP:
            self.safety = NORMAL
        self.commands.append(("operator_clear", {}))

    # --- the interface ----------------------------------------------------------------------
    def connect(self) -> None:
        self.connected = True
        if self.safety == DISCONNECTED:
            self.safety = NORMAL

    def close(self) -> None:
        self.connected = False

    def state(self) -> RobotState:
        safety = self.safety if self.connected else DISCONNECTED
        return RobotState(self.joints.copy(), self.tcp.copy(), self.width, safety, self.clock, None)

    def reachable(self, T: np.ndarray) -> bool:
        T = np.asarray(T, float)
        if self.unreachable is not None and self.unreachable(T):
            return False
        return bool(np.linalg.norm(T[:3, 3]) <= self.reach)

    def move_to_pose(self, T: np.ndarray, speed: float, accel: float, timeout: float, linear: bool = True) -> None:
        T = check_transform(T, "move_to_pose target")
        self._record("move_to_pose", T=T.round(6).tolist(), speed=speed, accel=accel, timeout=timeout, linear=linear)
        if not self.reachable(T):
            raise UnreachableError(f"fake: target {T[:3, 3].round(3).tolist()} is unreachable")
        start = self.tcp.copy()
        self._fire(lambda: self._set_tcp(start, T, 0.5))
        self._set_tcp(start, T, 1.0)
        self.clock += float(np.linalg.norm(T[:3, 3] - start[:3, 3])) / max(speed, 1e-6)

    def move_joints(self, q: np.ndarray, speed: float, accel: float, timeout: float) -> None:
        q = np.asarray(q, float)
        if q.shape != (self.specs.dof,):
            raise ValueError(f"fake: move_joints needs {self.specs.dof} joints, got shape {q.shape}")
        self._record("move_joints", q=q.round(6).tolist(), speed=speed, accel=accel, timeout=timeout)
        start = self.joints.copy()
        self._fire(lambda: setattr(self, "joints", start + 0.5 * (q - start)))
        self.joints = q.copy()
        self.clock += float(np.abs(q - start).max()) / max(speed, 1e-6)

    def stop(self) -> None:
        self.commands.append(("stop", {}))

    def gripper(self, width: float, speed: float, force: float) -> float:
        self._record("gripper", width=width, speed=speed, force=force)
        self._fire(lambda: None)
        lo, hi = self.specs.gripper_range
        self.width = float(np.clip(width, lo, hi))
        return self.width

    # --- internals --------------------------------------------------------------------------
    def _record(self, name: str, **kwargs) -> None:
        self.commands.append((name, kwargs))
        if not self.connected:
            raise ConnectionLostError(f"fake: {name} while not connected")
        if self.safety == PROTECTIVE_STOP:
            raise ProtectiveStopError(f"fake: {name} refused, the robot is in a protective stop")

    def _set_tcp(self, start: np.ndarray, T: np.ndarray, s: float) -> None:
        self.tcp = T.copy() if s >= 1.0 else pose_matrix(start[:3, 3] + s * (T[:3, 3] - start[:3, 3]), start[:3, :3])

    def _fire(self, halfway: Callable[[], None]) -> None:
        """Count armed failures down; one that is due fires now (after ``halfway`` for a
        mid-move disconnect)."""
        due = None
        for inj in self._armed:
            if inj.after == 0 and due is None:
                due = inj
            elif inj.after > 0:
                inj.after -= 1
        if due is None:
            return
        self._armed.remove(due)
        if due.kind == "protective_stop":
            halfway()
            self.safety = PROTECTIVE_STOP
            raise ProtectiveStopError("fake: protective stop during the command")
        if due.mid_move:
            halfway()
        self.connected = False
        raise ConnectionLostError("fake: connection lost" + (" mid-move" if due.mid_move else ""))
