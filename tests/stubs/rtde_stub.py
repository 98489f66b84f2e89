"""A stub of ur_rtde's two interfaces (no robot, no sockets): same class roles, same method names,
parameter names and defaults as ur_rtde 1.6.5 (``test_deploy_robots`` compares them with the real
package's signatures where it is installed). Both interfaces of one host share a
``StubURController``, a tiny kinematic model of the controller that tests configure and inspect:
asynchronous moves finish after ``move_polls`` progress polls, and failures can be injected
(failed connects, a protective stop or a dropped link after some polls)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLAG_UPLOAD_SCRIPT = 1


@dataclass
class StubURController:
    q: list[float] = field(default_factory=lambda: [-1.5708, -1.5708, 1.5708, -1.5708, -1.5708, 0.0])
    tcp: list[float] = field(default_factory=lambda: [0.0, -0.45, 0.35, np.pi, 0.0, 0.0])
    reach: float = 0.85
    move_polls: int = 3
    fail_connects: int = 0
    protective_stop_after: int | None = None  # progress polls into the next move
    disconnect_after: int | None = None
    protective_stopped: bool = False
    emergency_stopped: bool = False
    connected: bool = True
    calls: list[tuple] = field(default_factory=list)
    time: float = 0.0
    _move: dict | None = None
    _polls: int = 0

    def start(self, kind: str, target: list[float]) -> bool:
        if self.protective_stopped or not self.connected:
            return False
        self._move, self._polls = {"kind": kind, "target": list(target)}, 0
        return True

    def progress(self) -> int:
        self.time += 0.002
        if self._move is None:
            return -1
        self._polls += 1
        if self.protective_stop_after is not None and self._polls > self.protective_stop_after:
            self.protective_stopped, self._move, self.protective_stop_after = True, None, None
            return -1
        if self.disconnect_after is not None and self._polls > self.disconnect_after:
            self.connected, self.disconnect_after = False, None
            return 0
        if self._polls >= self.move_polls:
            m, self._move = self._move, None
            if m["kind"] == "joints":
                self.q = m["target"]
            else:
                self.tcp = m["target"]
            return -1
        return self._polls


#: host -> controller, so that both interfaces of a host see the same robot.
CONTROLLERS: dict[str, StubURController] = {}


def controller(host: str) -> StubURController:
    return CONTROLLERS.setdefault(host, StubURController())


class StubRTDEControlInterface:
    def __init__(
        self,
        hostname: str,
        frequency: float = -1.0,
        flags: int = FLAG_UPLOAD_SCRIPT,
        ur_cap_port: int = 50002,
        rt_priority: int = 0,
    ) -> None:
        self.ctl = controller(hostname)
        if self.ctl.fail_connects > 0:
            self.ctl.fail_connects -= 1
            raise RuntimeError(f"Could not connect to {hostname}: stub refuses")
        self.ctl.calls.append(("RTDEControlInterface", hostname, frequency))

    def _log(self, *call) -> None:
        self.ctl.calls.append(call)

    def moveL(
        self, pose: list[float], speed: float = 0.25, acceleration: float = 1.2, asynchronous: bool = False
    ) -> bool:
        self._log("moveL", list(pose), speed, acceleration, asynchronous)
        return self.ctl.start("pose", pose)

    def moveJ(self, q: list[float], speed: float = 1.05, acceleration: float = 1.4, asynchronous: bool = False) -> bool:
        self._log("moveJ", list(q), speed, acceleration, asynchronous)
        return self.ctl.start("joints", q)

    def moveJ_IK(
        self, pose: list[float], speed: float = 1.05, acceleration: float = 1.4, asynchronous: bool = False
    ) -> bool:
        self._log("moveJ_IK", list(pose), speed, acceleration, asynchronous)
        return self.ctl.start("pose", pose)

    def servoStop(self, a: float = 10.0) -> bool:
        self._log("servoStop", a)
        return True

    def stopL(self, a: float = 10.0, asynchronous: bool = False) -> None:
        self._log("stopL", a, asynchronous)
        self.ctl._move = None

    def stopJ(self, a: float = 2.0, asynchronous: bool = False) -> None:
        self._log("stopJ", a, asynchronous)
        self.ctl._move = None

    def isPoseWithinSafetyLimits(self, arg0: list[float]) -> bool:
        self._log("isPoseWithinSafetyLimits", list(arg0))
        return bool(np.linalg.norm(arg0[:3]) <= self.ctl.reach)

    def isJointsWithinSafetyLimits(self, arg0: list[float]) -> bool:
        self._log("isJointsWithinSafetyLimits", list(arg0))
        return bool(np.all(np.abs(arg0) <= 2 * np.pi))

    def getInverseKinematicsHasSolution(
        self,
        x: list[float],
        qnear: list[float] = [],  # noqa: B006 - ur_rtde's exact default
        max_position_error: float = 1e-10,
        max_orientation_error: float = 1e-10,
    ) -> bool:
        return bool(np.linalg.norm(x[:3]) <= self.ctl.reach)

    def getAsyncOperationProgress(self) -> int:
        return self.ctl.progress()

    def isConnected(self) -> bool:
        return self.ctl.connected

    def disconnect(self) -> None:
        self._log("disconnect")

    def reconnect(self) -> bool:
        self.ctl.connected = True
        return True

    def stopScript(self) -> None:
        self._log("stopScript")


class StubRTDEReceiveInterface:
    def __init__(
        self,
        hostname: str,
        frequency: float = -1.0,
        variables: list[str] = [],  # noqa: B006 - ur_rtde's exact default
        verbose: bool = False,
        use_upper_range_registers: bool = False,
        rt_priority: int = 0,
    ) -> None:
        self.ctl = controller(hostname)
        if self.ctl.fail_connects > 0:
            self.ctl.fail_connects -= 1
            raise RuntimeError(f"Could not connect to {hostname}: stub refuses")
        self.ctl.calls.append(("RTDEReceiveInterface", hostname, frequency))

    def getActualQ(self) -> list[float]:
        return list(self.ctl.q)

    def getActualTCPPose(self) -> list[float]:
        return list(self.ctl.tcp)

    def isProtectiveStopped(self) -> bool:
        return self.ctl.protective_stopped

    def isEmergencyStopped(self) -> bool:
        return self.ctl.emergency_stopped

    def isConnected(self) -> bool:
        return self.ctl.connected

    def getTimestamp(self) -> float:
        return self.ctl.time

    def disconnect(self) -> None:
        self.ctl.calls.append(("receive.disconnect",))

    def reconnect(self) -> bool:
        self.ctl.connected = True
        return True
