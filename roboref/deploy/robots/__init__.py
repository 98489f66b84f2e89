"""Robot adapters behind one interface (``RobotAdapter``): the MuJoCo stand-in (``SimRobot``), a
recording fake (``FakeRobot``), a UR5e over ur_rtde (``URRtdeRobot``, extra ``roboref[ur]``) and a
Unitree G1 over unitree_sdk2py (``UnitreeG1Robot``, extra ``roboref[unitree]``). Vendor packages
are imported only when a hardware adapter connects, so importing this package never needs them.
"""

from roboref.deploy.robots.base import (
    DISCONNECTED,
    EMERGENCY_STOP,
    FAULT,
    NORMAL,
    PROTECTIVE_STOP,
    ConnectionLostError,
    MotionTimeout,
    ProtectiveStopError,
    RobotAdapter,
    RobotError,
    RobotSpecs,
    RobotState,
    UnreachableError,
    from_ur_pose,
    pose_matrix,
    to_ur_pose,
)
from roboref.deploy.robots.fake import FakeRobot


def __getattr__(name: str):
    """Heavier adapters load on first use (SimRobot pulls in MuJoCo and the controllers)."""
    if name == "SimRobot":
        from roboref.deploy.robots.sim import SimRobot

        return SimRobot
    if name == "URRtdeRobot":
        from roboref.deploy.robots.ur_rtde import URRtdeRobot

        return URRtdeRobot
    if name == "UnitreeG1Robot":
        from roboref.deploy.robots.unitree_g1 import UnitreeG1Robot

        return UnitreeG1Robot
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DISCONNECTED",
    "EMERGENCY_STOP",
    "FAULT",
    "NORMAL",
    "PROTECTIVE_STOP",
    "ConnectionLostError",
    "FakeRobot",
    "MotionTimeout",
    "ProtectiveStopError",
    "RobotAdapter",
    "RobotError",
    "RobotSpecs",
    "RobotState",
    "SimRobot",
    "URRtdeRobot",
    "UnitreeG1Robot",
    "UnreachableError",
    "from_ur_pose",
    "pose_matrix",
    "to_ur_pose",
]
