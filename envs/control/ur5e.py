"""UR5e + Robotiq 2F-85: top-down parallel-jaw picks and places with real finger contacts."""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.control.base import Controller
from roboref.envs.control.targets import GraspPose, yaw_rotation
from roboref.envs.sim import Sim

_ARM = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")


class UR5eController(Controller):
    """The 2F-85's pinch site goes to the grasp point with its closing axis (site y) across the
    object's narrowest extent; the fingers close under the gripper's own force limit."""

    robot = "ur5e"
    site = "robot/gripper/pinch"
    arm_joints = tuple(f"robot/{j}_joint" for j in _ARM)
    #: The 2F-85 opens to 85 mm between the pads; leave room for approach error.
    max_grasp_width = 0.078
    base_body = "robot/base"
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
        "robot/shoulder_pan_joint": (-1.5 * math.pi - 0.6, -0.5 * math.pi + 0.6),
        "robot/shoulder_lift_joint": (-math.pi, 0.0),
        "robot/elbow_joint": (0.0, math.pi - 0.05),
        "robot/wrist_1_joint": (-2 * math.pi, 0.5),
        "robot/wrist_2_joint": (-math.pi, 0.0),
    }

    def setup(self, sim: Sim) -> None:
        super().setup(sim)
        m = sim.model
        self.grip_act = m.actuator("robot/gripper/fingers_actuator").id
        self.grip_open = float(m.actuator_ctrlrange[self.grip_act][0])
        self.grip_closed = float(m.actuator_ctrlrange[self.grip_act][1])
        sides = {"left": set(), "right": set()}
        for g in sim.world.robot_geoms:
            body = m.body(m.geom_bodyid[g]).name
            for side in sides:
                if body.startswith(f"robot/gripper/{side}_") and m.geom_contype[g]:
                    sides[side].add(int(g))
        self.left_geoms, self.right_geoms = sides["left"], sides["right"]

    def tool_rotation(self, yaw: float, tilt: float = 0.0) -> np.ndarray:
        return yaw_rotation(yaw, tilt)

    def nominal_yaw(self, sim: Sim) -> float:
        """The yaw of the pinch site's closing axis now, so the wrist turns by at most 90°."""
        y = sim.data.site(self.site).xmat.reshape(3, 3)[:, 1]
        return math.atan2(y[1], y[0])

    def seed(self, q_full: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Turn the shoulder pan by the bearing change from the tool's position to the target, so
        far moves start IK in the right basin."""
        site, _ = self.ik.site_pose(q_full)
        base = self.ik.configuration.data.body("robot/base").xpos
        turn = math.atan2(target[1] - base[1], target[0] - base[0]) - math.atan2(site[1] - base[1], site[0] - base[0])
        turn = (turn + math.pi) % (2 * math.pi) - math.pi
        q = q_full.copy()
        q[self.ik.qadr[0]] += turn
        q[self.ik.qadr[5]] += turn  # keep the tool's yaw
        return q

    def grasp_site_target(self, grasp: GraspPose, rot: np.ndarray | None = None) -> np.ndarray:
        # pad faces span 3.7 cm above the pinch and slide ~1.3 cm towards the tips as they close:
        # centre them on the main part, and keep closed fingertips off the table
        z = grasp.center[2] - self.pad_center_above_pinch
        z = grasp.bottom + float(np.clip(z - grasp.bottom, self.min_pinch_height, self.max_pinch_height))
        # the gripper's housing starts ~5 cm above the pinch: tall objects are held near the top
        z = max(z, grasp.top - self.max_depth_below_top)
        return np.array([grasp.center[0], grasp.center[1], z])

    def hand(self, sim: Sim, closed: bool) -> None:
        sim.data.ctrl[self.grip_act] = self.grip_closed if closed else self.grip_open

    def finger_contacts(self, sim: Sim, slot: int) -> tuple[bool, bool]:
        touch = self.touching(sim, slot)
        return bool(touch & set(self.left_geoms)), bool(touch & set(self.right_geoms))
