"""Pick and place at a 3D point (robot base frame), from ``move_to_pose`` and ``gripper`` alone.

These run on any ``RobotAdapter``, normally a ``SafetyLayer`` around one, so the same sequence
goes to the MuJoCo stand-in, the fake, or hardware: the arm leaves rest through the robot's
``ready_path``, comes above the target in joint space, goes straight down and up in tool space,
and reports what the gripper felt. Targets come from the lifted referring point: ``pick_at`` takes
a point on the object's visible top surface, ``place_at`` a point on the free table surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roboref.deploy.robots.base import RobotAdapter, pose_matrix

#: Defaults when the caller gives none (a ``SafetyLayer`` clamps them to its limits anyway):
#: TCP speed (m/s), joint speed (rad/s), accelerations, and a per-move timeout (s).
SPEED, JOINT_SPEED, ACCEL, JOINT_ACCEL, TIMEOUT = 0.1, 0.5, 0.5, 1.0, 60.0
GRIP_FORCE = 40.0  # N


@dataclass(frozen=True)
class SkillResult:
    """What a skill saw: whether the gripper holds something afterwards, the gripper width it
    reached, the TCP pose (base frame) where it grasped or released, and the TCP's height above
    the table there (``hold_height``; for ``place_at`` of this object)."""

    holding: bool | None
    width: float
    tcp: np.ndarray
    hold_height: float | None = None


def go_ready(robot: RobotAdapter, speed: float | None = None, tol: float = 0.3) -> None:
    """Follow ``specs.ready_path`` unless the arm is already within ``tol`` rad of its end."""
    path = robot.specs.ready_path
    if not path or float(np.abs(robot.state().joints - path[-1]).max()) < tol:
        return
    for q in path:
        robot.move_joints(q, speed or JOINT_SPEED, JOINT_ACCEL, TIMEOUT)


def pick_at(
    robot: RobotAdapter,
    p_base,
    yaw: float = 0.0,
    approach: float = 0.10,
    lift: float = 0.10,
    speed: float | None = None,
    force: float | None = None,
    table_z: float | None = None,
    offset=None,
) -> SkillResult:
    """Grasp at ``p_base`` (a point on the object's top, base frame): open, above by
    ``approach``, straight down to the point + the robot's ``grasp_offset`` (or ``offset``), close
    with ``force``, straight up by ``lift``."""
    specs = robot.specs
    p = _point(p_base)
    grasp = p + np.asarray(specs.grasp_offset if offset is None else offset, float)
    R = specs.tool_rotation(yaw)
    go_ready(robot)
    robot.gripper(specs.gripper_range[1], 0.1, force or GRIP_FORCE)
    robot.move_to_pose(pose_matrix(grasp + [0, 0, approach], R), speed or SPEED, ACCEL, TIMEOUT, linear=False)
    robot.move_to_pose(pose_matrix(grasp, R), speed or SPEED, ACCEL, TIMEOUT)
    width = robot.gripper(specs.gripper_range[0], 0.05, force or GRIP_FORCE)
    at = robot.state().tcp
    robot.move_to_pose(pose_matrix(grasp + [0, 0, lift], R), speed or SPEED, ACCEL, TIMEOUT)
    s = robot.state()
    hold = None if table_z is None else float(at[2, 3] - table_z)
    return SkillResult(s.holding, width, at, hold)


def place_at(
    robot: RobotAdapter,
    p_base,
    hold_height: float,
    clearance: float = 0.01,
    carry: float = 0.10,
    retreat: float = 0.10,
    speed: float | None = None,
) -> SkillResult:
    """Set the held object down at ``p_base`` (a point on the table, base frame): up to the
    carry height (``carry`` above the release pose, or where the TCP is if higher), across,
    straight down until the object's bottom is ``clearance`` above the point (the TCP held it
    ``hold_height`` above its bottom), open, straight up by ``retreat``. The tool keeps its
    rotation."""
    p = _point(p_base)
    now = robot.state().tcp
    R = now[:3, :3]
    release = p + [0.0, 0.0, hold_height + clearance]
    z = max(float(now[2, 3]), float(release[2]) + carry)
    robot.move_to_pose(pose_matrix([now[0, 3], now[1, 3], z], R), speed or SPEED, ACCEL, TIMEOUT)
    robot.move_to_pose(pose_matrix([release[0], release[1], z], R), speed or SPEED, ACCEL, TIMEOUT)
    robot.move_to_pose(pose_matrix(release, R), speed or SPEED, ACCEL, TIMEOUT)
    width = robot.gripper(robot.specs.gripper_range[1], 0.1, GRIP_FORCE)
    at = robot.state().tcp
    robot.move_to_pose(pose_matrix(release + [0, 0, retreat], R), speed or SPEED, ACCEL, TIMEOUT)
    return SkillResult(robot.state().holding, width, at, hold_height)


def grasp_yaw(
    points,
    center,
    table_z: float,
    radius: float = 0.06,
    min_height: float = 0.01,
    nominal: float = 0.0,
    step_deg: float = 5.0,
) -> float:
    """A parallel gripper's closing-axis yaw (base frame, for ``pick_at(yaw=…)``) across the
    narrowest horizontal extent of the object seen in ``points`` (N×3, base frame, e.g. lifted
    from the depth image): the points within ``radius`` of ``center`` (xy) and at least
    ``min_height`` above the table. Of the two equal axes (θ, θ + π) the one nearer ``nominal``
    (the wrist's yaw now) is returned. Without such points: ``nominal``."""
    pts = np.asarray(points, float).reshape(-1, 3)
    c = _point(center)
    near = pts[(np.linalg.norm(pts[:, :2] - c[:2], axis=1) <= radius) & (pts[:, 2] >= table_z + min_height)]
    if len(near) < 5:
        return float(nominal)
    thetas = np.radians(np.arange(0.0, 180.0, step_deg))
    dirs = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
    proj = near[:, :2] @ dirs.T
    theta = float(thetas[int(np.argmin(proj.max(0) - proj.min(0)))])
    return theta + np.pi * round((nominal - theta) / np.pi)


def _point(p) -> np.ndarray:
    p = np.asarray(p, float)
    if p.shape != (3,) or not np.isfinite(p).all():
        raise ValueError(f"a 3D point (x, y, z) in the base frame is needed, got {p.tolist()}")
    return p
