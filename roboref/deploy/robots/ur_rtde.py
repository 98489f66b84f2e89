"""``URRtdeRobot``: a UR5e (e-Series) over ur_rtde, with a Robotiq 2F-85 on the URCap socket.

Install with ``pip install 'roboref[ur]'`` (the ``ur-rtde`` package; imported only on
``connect``). What it does, and why:

- ``RTDEReceiveInterface`` reads state; ``RTDEControlInterface`` (made only when not
  ``read_only``: ``mode=shadow`` never makes one) sends ``moveL`` / ``moveJ`` / ``moveJ_IK`` with
  the caller's explicit speed and acceleration, always asynchronously, so this process watches
  the move: every poll it checks ``isProtectiveStopped()``, ``isEmergencyStopped()`` and both
  interfaces' ``isConnected()``, and stops (``stopL`` / ``stopJ``) on a timeout.
- Before every move: ``isPoseWithinSafetyLimits`` (or ``isJointsWithinSafetyLimits``) on the
  target, then ``servoStop()`` so no servo mode left over from another client drives the arm.
- A protective stop raises ``ProtectiveStopError`` and is never unlocked from here (ur_rtde can
  only do that through the dashboard's ``unlock protective stop``, which this module never sends).
- ``connect`` retries ``retries`` times with ``retry_delay`` and then says what to check.

The interfaces' classes can be injected (``control_cls`` / ``receive_cls``), which is how the
tests run against a stub with ur_rtde's exact signatures (``tests/stubs/rtde_stub.py``).
"""

from __future__ import annotations

import time

import numpy as np

from roboref.deploy.robots.base import (
    DISCONNECTED,
    EMERGENCY_STOP,
    NORMAL,
    PROTECTIVE_STOP,
    ConnectionLostError,
    MotionTimeout,
    ProtectiveStopError,
    RobotError,
    RobotSpecs,
    RobotState,
    UnreachableError,
    check_transform,
    from_ur_pose,
    to_ur_pose,
)
from roboref.deploy.robots.robotiq import STROKE, RobotiqGripper

UR5E_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
#: Deceleration of a stop: tool space (m/s²) and joint space (rad/s²).
STOP_L, STOP_J = 2.0, 2.0


def ur5e_specs() -> RobotSpecs:
    """UR5e: every joint ±2π (the elbow ±π), the 2F-85's 0–85 mm, wrist joints 3–5, the tool's
    z axis along the approach (tool flange convention)."""
    lim = np.tile([-2 * np.pi, 2 * np.pi], (6, 1))
    lim[2] = [-np.pi, np.pi]
    return RobotSpecs(
        name="ur5e",
        joint_names=UR5E_JOINTS,
        joint_limits=lim,
        gripper_range=(0.0, STROKE),
        base_frame="base",
        tcp_frame="tcp",
        wrist_joints=(3, 4, 5),
    )


class URRtdeRobot:
    """A ``RobotAdapter`` for a UR over ur_rtde (module docstring)."""

    def __init__(
        self,
        host: str,
        gripper: RobotiqGripper | None = None,
        read_only: bool = False,
        frequency: float = 500.0,
        retries: int = 3,
        retry_delay: float = 1.0,
        poll: float = 0.01,
        specs: RobotSpecs | None = None,
        control_cls=None,
        receive_cls=None,
    ):
        self.host = host
        self.gripper_dev = gripper
        self.read_only = read_only
        self.frequency = frequency
        self.retries, self.retry_delay, self.poll = retries, retry_delay, poll
        self.specs = specs or ur5e_specs()
        self._control_cls, self._receive_cls = control_cls, receive_cls
        self.rtde_c = None
        self.rtde_r = None
        self._last_linear = True

    # --- connection ---------------------------------------------------------------------------
    def _classes(self):
        if self._receive_cls is None or (self._control_cls is None and not self.read_only):
            try:
                from rtde_control import RTDEControlInterface
                from rtde_receive import RTDEReceiveInterface
            except ImportError as e:
                raise ImportError(f"URRtdeRobot needs ur_rtde: pip install 'roboref[ur]' ({e})") from None
            self._control_cls = self._control_cls or RTDEControlInterface
            self._receive_cls = self._receive_cls or RTDEReceiveInterface
        return self._control_cls, self._receive_cls

    def connect(self) -> None:
        control_cls, receive_cls = self._classes()
        last: Exception | None = None
        for attempt in range(1, self.retries + 1):
            try:
                self.rtde_r = receive_cls(self.host, self.frequency)
                if not self.read_only:
                    self.rtde_c = control_cls(self.host, self.frequency)
                break
            except RuntimeError as e:  # ur_rtde raises RuntimeError when the socket fails
                last = e
                self.rtde_r = self.rtde_c = None
                if attempt < self.retries:
                    time.sleep(self.retry_delay)
        else:
            raise ConnectionLostError(
                f"could not connect to the UR at {self.host} (RTDE port 30004) after {self.retries} attempts: {last}. "
                "Check that the robot is powered on, in Remote Control (e-Series), reachable on the network, and "
                "that no other program holds its RTDE control interface."
            )
        if self.gripper_dev is not None:
            self.gripper_dev.connect(activate=not self.read_only)

    def close(self) -> None:
        for iface in (self.rtde_c, self.rtde_r):
            if iface is not None:
                try:
                    if iface is self.rtde_c:
                        iface.stopScript()
                    iface.disconnect()
                except RuntimeError:
                    pass
        self.rtde_c = self.rtde_r = None
        if self.gripper_dev is not None:
            self.gripper_dev.close()

    # --- state --------------------------------------------------------------------------------
    def _connected(self) -> bool:
        r_ok = self.rtde_r is not None and self.rtde_r.isConnected()
        c_ok = self.read_only or (self.rtde_c is not None and self.rtde_c.isConnected())
        return bool(r_ok and c_ok)

    def _safety(self) -> str:
        if not self._connected():
            return DISCONNECTED
        if self.rtde_r.isEmergencyStopped():
            return EMERGENCY_STOP
        if self.rtde_r.isProtectiveStopped():
            return PROTECTIVE_STOP
        return NORMAL

    def state(self) -> RobotState:
        if self.rtde_r is None:
            return RobotState(np.zeros(6), np.eye(4), float("nan"), DISCONNECTED, 0.0, None)
        safety = self._safety()
        q = np.asarray(self.rtde_r.getActualQ(), float)
        tcp = from_ur_pose(self.rtde_r.getActualTCPPose())
        width, holding = float("nan"), None
        if self.gripper_dev is not None:
            try:
                width, holding = self.gripper_dev.width(), self.gripper_dev.object_detected()
            except ConnectionLostError:
                safety = DISCONNECTED
        return RobotState(q, tcp, width, safety, float(self.rtde_r.getTimestamp()), holding)

    def reachable(self, T: np.ndarray) -> bool:
        if self.rtde_c is None:
            return False
        pose = to_ur_pose(check_transform(T))
        if not self.rtde_c.isPoseWithinSafetyLimits(pose):
            return False
        return bool(self.rtde_c.getInverseKinematicsHasSolution(pose, list(self.rtde_r.getActualQ())))

    # --- motion -------------------------------------------------------------------------------
    def _ready(self) -> None:
        if self.read_only:
            raise RobotError("URRtdeRobot is read-only (shadow mode): no control interface")
        if self.rtde_c is None or not self._connected():
            raise ConnectionLostError(f"UR {self.host}: not connected")
        safety = self._safety()
        if safety == PROTECTIVE_STOP:
            raise ProtectiveStopError(f"UR {self.host}: protective stop; clear it on the pendant (never done here)")
        if safety != NORMAL:
            raise RobotError(f"UR {self.host}: safety state {safety}")

    def move_to_pose(self, T: np.ndarray, speed: float, accel: float, timeout: float, linear: bool = True) -> None:
        pose = to_ur_pose(check_transform(T, "move_to_pose target"))
        self._ready()
        if not self.rtde_c.isPoseWithinSafetyLimits(pose):
            raise UnreachableError(f"UR {self.host}: pose {np.round(pose, 4).tolist()} is outside its safety limits")
        self.rtde_c.servoStop()
        self._last_linear = linear
        if linear:
            ok = self.rtde_c.moveL(pose, float(speed), float(accel), True)
        else:
            ok = self.rtde_c.moveJ_IK(pose, float(speed), float(accel), True)
        self._watch(ok, timeout, "moveL" if linear else "moveJ_IK")

    def move_joints(self, q: np.ndarray, speed: float, accel: float, timeout: float) -> None:
        q = [float(v) for v in np.asarray(q, float)]
        if len(q) != 6:
            raise ValueError(f"UR: move_joints needs 6 joint values, got {len(q)}")
        self._ready()
        if not self.rtde_c.isJointsWithinSafetyLimits(q):
            raise UnreachableError(f"UR {self.host}: joints {np.round(q, 4).tolist()} outside its safety limits")
        self.rtde_c.servoStop()
        self._last_linear = False
        self._watch(self.rtde_c.moveJ(q, float(speed), float(accel), True), timeout, "moveJ")

    def _watch(self, accepted: bool, timeout: float, what: str) -> None:
        """Poll an asynchronous move until ``getAsyncOperationProgress() < 0`` (finished),
        watching stops and the link."""
        if not accepted:
            raise RobotError(f"UR {self.host}: {what} was not accepted by the controller")
        end = time.monotonic() + float(timeout)
        finished = False
        while True:
            if not self._connected():
                self.stop()
                raise ConnectionLostError(f"UR {self.host}: connection lost during {what}")
            if self.rtde_r.isProtectiveStopped():
                raise ProtectiveStopError(f"UR {self.host}: protective stop during {what}; clear it on the pendant")
            if self.rtde_r.isEmergencyStopped():
                raise RobotError(f"UR {self.host}: emergency stop during {what}")
            if finished:  # checked once more after the end: a stop also ends the operation
                return
            finished = self.rtde_c.getAsyncOperationProgress() < 0
            if finished:
                continue
            if time.monotonic() > end:
                self.stop()
                raise MotionTimeout(f"UR {self.host}: {what} did not finish within {timeout:.1f} s; stopped")
            time.sleep(self.poll)

    def stop(self) -> None:
        if self.rtde_c is None:
            return
        try:
            if self._last_linear:
                self.rtde_c.stopL(STOP_L, False)
            else:
                self.rtde_c.stopJ(STOP_J, False)
        except RuntimeError:
            pass  # the link is gone: the controller's own watchdog stops the arm

    def gripper(self, width: float, speed: float, force: float) -> float:
        if self.gripper_dev is None:
            raise RobotError("URRtdeRobot: no gripper configured")
        self._ready()
        reached, _ = self.gripper_dev.move(width, speed, force)
        return reached
