"""Sim-to-real deployment: camera calibration import, point → 3D lifting , robot adapters
(``robots/``), the safety layer every command passes (``safety.py``), pick and place skills,
the depth-only grasp estimate, camera sources and the ``roboref deploy`` modes (``modes.py``).

A fixed (eye-to-hand) RealSense::

    cam = load_camera("color_camera_info.yaml").for_stream(640, 480)       # or camera_from_realsense(...)
    T_base_cam = load_easy_handeye("ur5e_eye_on_base.yaml").T_base_cam()   # T_base_link_<optical frame>
    target = lift_point(agent_point, depth_z16, cam, T_base_cam)           # NoDepthError: move nothing
    target.p_base                                                          # metres, robot base frame

A wrist camera: ``he.T_base_cam(Transform.from_pose_vector(rtde_r.getActualTCPPose(), "base_link",
"tool0"))``. In sim: ``camera_from_sim(obs)`` and ``sim_T_base_cam(env, base_body="robot/base")``.
Nothing here imports vendor SDKs at import time; ``pyrealsense2`` objects are duck-typed."""

from roboref.deploy.calibration import (
    CalibrationError,
    CameraModel,
    camera_from_opencv,
    camera_from_realsense,
    camera_from_ros,
    camera_from_sim,
    load_camera,
    save_camera,
)
from roboref.deploy.extrinsics import (
    HandEye,
    Transform,
    eye_in_hand,
    from_static_transform_args,
    load_easy_handeye,
    load_transform,
    save_easy_handeye,
    save_transform,
    sim_T_base_cam,
    to_pose_vector,
)
from roboref.deploy.lifting import (
    Calibration,
    DepthConfig,
    LiftedPoint,
    NoDepthError,
    deproject,
    lift_point,
    load_calibration,
    project,
    relative_depth_image,
)
from roboref.deploy.robots.base import RobotAdapter, RobotSpecs, RobotState
from roboref.deploy.safety import SafetyConfig, SafetyLayer, SafetyViolation

__all__ = [
    "RobotAdapter",
    "RobotSpecs",
    "RobotState",
    "SafetyConfig",
    "SafetyLayer",
    "SafetyViolation",
    "Calibration",
    "CalibrationError",
    "CameraModel",
    "DepthConfig",
    "HandEye",
    "LiftedPoint",
    "NoDepthError",
    "Transform",
    "camera_from_opencv",
    "camera_from_realsense",
    "camera_from_ros",
    "camera_from_sim",
    "deproject",
    "eye_in_hand",
    "from_static_transform_args",
    "lift_point",
    "load_calibration",
    "load_camera",
    "load_easy_handeye",
    "load_transform",
    "project",
    "relative_depth_image",
    "save_camera",
    "save_easy_handeye",
    "save_transform",
    "sim_T_base_cam",
    "to_pose_vector",
]
