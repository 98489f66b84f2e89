"""The Dex3 hand as a "gripper": a metric width mapped onto the sim controller's open and closed
finger presets, shared by ``SimRobot`` and ``UnitreeG1Robot`` so that a width means the same
finger pose in sim and on hardware, and the SDK's per-side motor order.

Width 0.105 m (what fits between the open thumb and fingers) is the open preset, 0 the closed
one; in between the fingers are interpolated joint by joint.
"""

from __future__ import annotations

import numpy as np

from roboref.deploy.robots.base import RobotSpecs
from roboref.envs.control.g1 import _CLOSED, _OPEN, _mirrored
from roboref.envs.robots import G1_FINGERS

DEX3_OPEN_WIDTH = 0.105
#: Grip force range (N) the safety layer clamps to, and where the TCP goes relative to a surface
#: point of the object: the object sits deeper in the Dex3 than at its grasp site.
DEX3_FORCE_RANGE = (1.0, 15.0)
DEX3_GRASP_OFFSET = (-0.01, 0.0, -0.015)
#: Motor order of ``HandCmd_``/``HandState_`` on each side (unitree's Dex3_1 joint indices):
#: the left hand lists the middle finger before the index, the right hand the index first.
DEX3_MOTOR_ORDER = {
    "left": ("thumb_0", "thumb_1", "thumb_2", "middle_0", "middle_1", "index_0", "index_1"),
    "right": ("thumb_0", "thumb_1", "thumb_2", "index_0", "index_1", "middle_0", "middle_1"),
}


def g1_arm_specs(
    name: str, side: str, joint_names: tuple[str, ...], joint_limits: np.ndarray, tool_down: np.ndarray, ready_path
) -> RobotSpecs:
    """``RobotSpecs`` of one G1 arm with its Dex3 hand (pelvis base frame), the same for the sim
    stand-in and the hardware: the palm normal (grasp site ±y) points along the approach."""
    return RobotSpecs(
        name=name,
        joint_names=joint_names,
        joint_limits=joint_limits,
        gripper_range=(0.0, DEX3_OPEN_WIDTH),
        base_frame="pelvis",
        tcp_frame=f"{side}_grasp",
        tool_down=tool_down,
        approach_axis=(0.0, 1.0 if side == "right" else -1.0, 0.0),
        gripper_force_range=DEX3_FORCE_RANGE,
        ready_path=ready_path,
        grasp_offset=DEX3_GRASP_OFFSET,
    )


def presets(side: str) -> tuple[np.ndarray, np.ndarray]:
    """(open, closed) finger targets (rad) in ``G1_FINGERS`` order for ``side``."""
    if side not in DEX3_MOTOR_ORDER:
        raise ValueError(f"Dex3 side must be 'left' or 'right', got {side!r}")
    sign = 1.0 if side == "right" else -1.0
    o, c = _mirrored(_OPEN, sign), _mirrored(_CLOSED, sign)
    return np.array([o[f] for f in G1_FINGERS]), np.array([c[f] for f in G1_FINGERS])


def width_to_q(side: str, width: float) -> np.ndarray:
    """Finger targets (``G1_FINGERS`` order) for ``width`` (m, clipped to [0, 0.105])."""
    o, c = presets(side)
    frac = 1.0 - float(np.clip(width / DEX3_OPEN_WIDTH, 0.0, 1.0))
    return o + frac * (c - o)


def q_to_width(side: str, q: np.ndarray) -> float:
    """The width that best matches finger positions ``q`` (``G1_FINGERS`` order)."""
    o, c = presets(side)
    span = c - o
    moving = span != 0
    frac = float(np.clip((np.asarray(q, float) - o)[moving] / span[moving], 0.0, 1.0).mean())
    return DEX3_OPEN_WIDTH * (1.0 - frac)


def to_motor_order(side: str, q: np.ndarray) -> np.ndarray:
    """``G1_FINGERS`` order → the SDK's motor order for ``side``."""
    idx = [G1_FINGERS.index(f) for f in DEX3_MOTOR_ORDER[side]]
    return np.asarray(q, float)[idx]


def from_motor_order(side: str, q: np.ndarray) -> np.ndarray:
    """The SDK's motor order for ``side`` → ``G1_FINGERS`` order."""
    out = np.zeros(len(G1_FINGERS))
    for i, f in enumerate(DEX3_MOTOR_ORDER[side]):
        out[G1_FINGERS.index(f)] = q[i]
    return out
