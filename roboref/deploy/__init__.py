"""Sim-to-real deployment: camera calibration import, point → 3D lifting (and, from other modules,
robot adapters, the safety layer and the deploy modes).

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
)
from roboref.deploy.lifting import (
    DepthConfig,
    LiftedPoint,
    NoDepthError,
    deproject,
    lift_point,
    project,
    relative_depth_image,
)

__all__ = [
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
    "load_camera",
    "load_easy_handeye",
    "load_transform",
    "project",
    "relative_depth_image",
    "save_camera",
    "save_easy_handeye",
    "save_transform",
    "sim_T_base_cam",
]
