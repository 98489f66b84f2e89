"""UR5e + Robotiq 2F-85: top-down parallel-jaw picks and places with real finger contacts."""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.control.base import Controller
from roboref.envs.control.contacts import touching
from roboref.envs.control.state import Binding
from roboref.envs.control.targets import GraspPose, yaw_rotation


class UR5eController(Controller):
    """The 2F-85's pinch site goes to the grasp point with its closing axis (site y) across the
    object's narrowest extent; the fingers close under the gripper's own force limit.

    Names come from ``RobotSpec.arms[0]``: the site, the arm joints, the base body, the
    gripper's one actuator (its control range runs open → closed) and the ``left`` / ``right``
    finger bodies."""

    robot = "ur5e"
    #: The 2F-85 opens to 85 mm between the pads; leave room for approach error.
    max_grasp_width = 0.078
    #: Far table corners are out of top-down reach: lean the gripper outwards up to 40°.
    grasp_tilts = (0.0, math.radians(20), math.radians(40))
    #: Pinch-site height above the object's bottom: pads (3.7 cm tall above the pinch) straddle
    #: the middle of low objects and the lower body of tall ones.
    min_pinch_height = 0.02
    max_pinch_height = 0.07
    max_depth_below_top = 0.045
    pad_center_above_pinch = 0.008
    #: Elbow-up, tool-down branch over the table (home: pan -π/2, lift -π/2, elbow π/2).
    ik_ranges = {
        "shoulder_pan_joint": (-1.5 * math.pi - 0.6, -0.5 * math.pi + 0.6),
        "shoulder_lift_joint": (-math.pi, 0.0),
        "elbow_joint": (0.0, math.pi - 0.05),
        "wrist_1_joint": (-2 * math.pi, 0.5),
        "wrist_2_joint": (-math.pi, 0.0),
    }

    def tool_rotation(self, b: Binding, yaw: float, tilt: float = 0.0) -> np.ndarray:
        return yaw_rotation(yaw, tilt)

    def nominal_yaw(self, b: Binding) -> float:
        """The yaw of the pinch site's closing axis now, so the wrist turns by at most 90°."""
        y = b.sim.data.site(b.arm.site).xmat.reshape(3, 3)[:, 1]
        return math.atan2(y[1], y[0])

    def seed(self, b: Binding, q_full: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Turn the shoulder pan by the bearing change Δ = atan2(target − base) − atan2(site −
        base) (wrapped to (−π, π]), and the last wrist joint by the same to keep the tool's yaw,
        so far moves start IK in the right basin."""
        ik = b.arm.ik
        site, _ = ik.site_pose(q_full)
        base = ik.configuration.data.body(b.arm.base_body).xpos
        turn = math.atan2(target[1] - base[1], target[0] - base[0]) - math.atan2(site[1] - base[1], site[0] - base[0])
        turn = (turn + math.pi) % (2 * math.pi) - math.pi
        q = q_full.copy()
        q[ik.qadr[0]] += turn
        q[ik.qadr[-1]] += turn  # keep the tool's yaw
        return q

    def grasp_site_target(self, b: Binding, grasp: GraspPose, rot: np.ndarray | None = None) -> np.ndarray:
        # pad faces span 3.7 cm above the pinch and slide ~1.3 cm towards the tips as they close:
        # centre them on the main part, and keep closed fingertips off the table
        z = grasp.center[2] - self.pad_center_above_pinch
        z = grasp.bottom + float(np.clip(z - grasp.bottom, self.min_pinch_height, self.max_pinch_height))
        # the gripper's housing starts ~5 cm above the pinch: tall objects are held near the top
        z = max(z, grasp.top - self.max_depth_below_top)
        return np.array([grasp.center[0], grasp.center[1], z])

    def hand(self, b: Binding, closed: bool) -> None:
        act = b.arm.hand_act[0]
        lo, hi = b.sim.model.actuator_ctrlrange[act]
        b.sim.data.ctrl[act] = float(hi if closed else lo)

    def finger_contacts(self, b: Binding, slot: int) -> tuple[bool, bool]:
        touch, geoms = touching(b.sim, slot), b.arm.hand_geoms
        return bool(touch & geoms["left"]), bool(touch & geoms["right"])
