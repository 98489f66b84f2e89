"""Calibration import (roboref.deploy.calibration / extrinsics): every loader on a file written the
way its tool writes it, round trips, and the clear errors a malformed calibration must give."""

import json
import logging
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from roboref.deploy import (
    CalibrationError,
    CameraModel,
    Transform,
    camera_from_realsense,
    eye_in_hand,
    from_static_transform_args,
    load_camera,
    load_easy_handeye,
    load_transform,
    save_camera,
    save_easy_handeye,
    save_transform,
    to_pose_vector,
)

ROS_YAML = """\
image_width: 640
image_height: 480
camera_name: wrist_rgb
camera_matrix:
  rows: 3
  cols: 3
  data: [612.3, 0, 318.7, 0, 611.9, 243.1, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.28, 0.09, 0.0012, -0.0007, -0.012]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [520.1, 0, 320.2, 0, 0, 519.8, 240.4, 0, 0, 0, 1, 0]
"""

# `ros2 topic echo --once /camera/color/camera_info` (a RealSense through realsense-ros).
ROS2_ECHO = """\
header:
  stamp:
    sec: 1764760000
    nanosec: 120000000
  frame_id: camera_color_optical_frame
height: 720
width: 1280
distortion_model: rational_polynomial
d:
- 0.9
- -0.3
- 0.0012
- -0.0007
- 0.02
- 1.2
- -0.1
- 0.05
k:
- 910.5
- 0.0
- 641.2
- 0.0
- 909.8
- 362.7
- 0.0
- 0.0
- 1.0
r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
p: [910.5, 0.0, 641.2, 0.0, 0.0, 909.8, 362.7, 0.0, 0.0, 0.0, 1.0, 0.0]
binning_x: 0
binning_y: 0
roi:
  x_offset: 0
  y_offset: 0
  height: 0
  width: 0
  do_rectify: false
---
"""

# cv::FileStorage output of OpenCV's calibration sample (header, !!opencv-matrix tags, 5x1 D).
OPENCV_YAML = """\
%YAML:1.0
---
calibration_time: "Wed Dec  3 10:00:00 2026"
nframes: 25
image_width: 640
image_height: 480
board_width: 9
board_height: 6
square_size: 2.5e-02
flags: 0
fisheye_model: 0
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 6.1230000000000000e+02, 0., 3.1870000000000000e+02, 0.,
       6.1190000000000000e+02, 2.4310000000000000e+02, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 5
   cols: 1
   dt: d
   data: [ -2.8000000000000003e-01, 9.0000000000000000e-02,
       1.1999999999999999e-03, -6.9999999999999999e-04,
       -1.2000000000000000e-02 ]
avg_reprojection_error: 2.1e-01
"""

PLUMB = (-0.28, 0.09, 0.0012, -0.0007, -0.012)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_ros_camera_info_yaml(tmp_path):
    cam = load_camera(write(tmp_path, "cam.yaml", ROS_YAML))
    assert (cam.width, cam.height, cam.name) == (640, 480, "")  # camera_name names the device, not a frame
    assert np.allclose(cam.K, [[612.3, 0, 318.7], [0, 611.9, 243.1], [0, 0, 1]])
    assert cam.distortion_model == "plumb_bob" and cam.distortion == PLUMB
    rect = load_camera(tmp_path / "cam.yaml", rectified=True)  # image_rect: K from P, no distortion
    assert (rect.fx, rect.cx, rect.distortion_model) == (520.1, 320.2, "none")


def test_ros2_camera_info_echo(tmp_path):
    cam = load_camera(write(tmp_path, "info.yaml", ROS2_ECHO.replace("---\n", "")))
    assert (cam.width, cam.height, cam.name) == (1280, 720, "camera_color_optical_frame")
    assert cam.distortion_model == "rational_polynomial" and len(cam.distortion) == 8
    assert (cam.fx, cam.cy) == (910.5, 362.7)


def test_opencv_filestorage_yaml_with_header_and_tags(tmp_path):
    cam = load_camera(write(tmp_path, "ocv.yml", OPENCV_YAML))
    assert (cam.width, cam.height) == (640, 480)
    assert np.allclose(cam.K, [[612.3, 0, 318.7], [0, 611.9, 243.1], [0, 0, 1]])
    assert cam.distortion_model == "plumb_bob" and np.allclose(cam.distortion, PLUMB)
    fish = OPENCV_YAML.replace("fisheye_model: 0", "fisheye_model: 1").replace("rows: 5", "rows: 4")
    fish = fish.replace("-1.2000000000000000e-02 ]", "]").replace("-6.9999999999999999e-04,", "-6.9999999999999999e-04")
    cam = load_camera(write(tmp_path, "fish.yml", fish))
    assert cam.distortion_model == "equidistant" and len(cam.distortion) == 4


def test_opencv_filestorage_json_and_plain_json(tmp_path):
    fs = {
        "image_width": 1280,
        "image_height": 720,
        "camera_matrix": {
            "type_id": "opencv-matrix",
            "rows": 3,
            "cols": 3,
            "dt": "d",
            "data": [900, 0, 640, 0, 901, 360, 0, 0, 1],
        },
        "distortion_coefficients": {"type_id": "opencv-matrix", "rows": 1, "cols": 8, "dt": "d", "data": [0.1] * 8},
    }
    cam = load_camera(write(tmp_path, "fs.json", json.dumps(fs)))
    assert cam.distortion_model == "rational_polynomial" and cam.fy == 901
    plain = {
        "cameraMatrix": [[900, 0, 640], [0, 901, 360], [0, 0, 1]],
        "distCoeffs": [0, 0, 0, 0, 0],
        "image_size": [1280, 720],
    }
    cam = load_camera(write(tmp_path, "plain.json", json.dumps(plain)), kind="opencv")
    assert cam.distortion_model == "none" and (cam.width, cam.height) == (1280, 720)


def test_realsense_json_dump_and_live_intrinsics(tmp_path):
    dump = {
        "intrinsics": {"width": 640, "height": 480, "fx": 615.1, "fy": 615.4, "ppx": 322.3, "ppy": 238.9,
                       "model": "distortion.inverse_brown_conrady", "coeffs": [0.0] * 5},
        "depth_scale": 0.00025,
    }  # fmt: skip
    cam = load_camera(write(tmp_path, "rs.json", json.dumps(dump)))
    assert (cam.cx, cam.cy, cam.depth_scale, cam.distortion_model) == (322.3, 238.9, 0.00025, "none")
    rs = pytest.importorskip(
        "pyrealsense2", reason="pyrealsense2 (extra realsense) needs libusb-1.0-0", exc_type=ImportError
    )
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = 848, 480, 421.0, 420.5, 424.1, 239.8
    intr.model, intr.coeffs = rs.distortion.brown_conrady, [0.01, -0.02, 0.001, 0.0005, 0.003]
    cam = camera_from_realsense(intr, depth_scale=0.001)
    assert cam.distortion_model == "plumb_bob" and np.allclose(cam.distortion, intr.coeffs)
    assert (cam.width, cam.height, cam.cx) == (848, 480, pytest.approx(424.1))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_camera_round_trip(tmp_path, suffix):
    cams = [
        CameraModel(640, 480, 612.3, 611.9, 318.7, 243.1, distortion_model="plumb_bob", distortion=PLUMB, name="c"),
        CameraModel(1280, 720, 900.0, 901.0, 640.5, 360.25, distortion_model="equidistant",
                    distortion=(0.1, -0.02, 0.003, -0.0004), depth_scale=0.00025, name="fish"),
        CameraModel(224, 224, 194.0, 194.0, 111.5, 111.5, depth_scale=1.0, name="sim"),
    ]  # fmt: skip
    for i, cam in enumerate(cams):
        back = load_camera(save_camera(cam, tmp_path / f"c{i}{suffix}"))
        assert back == cam


def test_missing_and_malformed_fields_name_the_file_and_field(tmp_path):
    p = write(tmp_path, "nodist.yaml", ROS_YAML.replace("distortion_model: plumb_bob\n", ""))
    with pytest.raises(CalibrationError, match=r"nodist\.yaml.*'distortion_model'"):
        load_camera(p, kind="ros")
    p = write(tmp_path, "nodata.yaml", ROS_YAML.replace("  data: [612.3, 0, 318.7, 0, 611.9, 243.1, 0, 0, 1]\n", ""))
    with pytest.raises(CalibrationError, match=r"nodata\.yaml.*'data'"):
        load_camera(p, kind="ros")
    p = write(tmp_path, "nowidth.yml", OPENCV_YAML.replace("image_width: 640\n", ""))
    with pytest.raises(CalibrationError, match=r"nowidth\.yml.*'image_width'"):
        load_camera(p)
    p = write(tmp_path, "six.yaml", ROS_YAML.replace("cols: 5", "cols: 6").replace("-0.012]", "-0.012, 0.1]"))
    with pytest.raises(CalibrationError, match=r"six\.yaml.*'distortion'.*got 6"):
        load_camera(p)
    with pytest.raises(CalibrationError, match=r"bad\.yaml: not valid YAML"):
        load_camera(write(tmp_path, "bad.yaml", "camera_matrix: [1, 2\n"))
    with pytest.raises(CalibrationError, match=r"other\.yaml: not a known calibration format"):
        load_camera(write(tmp_path, "other.yaml", "foo: 1\n"))
    with pytest.raises(CalibrationError, match=r"principal point \(640.5, 360.2\) lies outside the 640x480 image"):
        CameraModel(640, 480, 910.0, 910.0, 640.5, 360.2)  # a 1280x720 stream's K
    with pytest.raises(CalibrationError, match="'fx' must be finite"):
        CameraModel(640, 480, -1.0, 600.0, 320.0, 240.0)
    with pytest.raises(CalibrationError, match="unknown model 'mystery'"):
        CameraModel(640, 480, 600.0, 600.0, 320.0, 240.0, distortion_model="mystery")
    with pytest.raises(CalibrationError, match="cannot be deprojected"):
        camera_from_realsense({"width": 1, "height": 1, "fx": 1, "fy": 1, "ppx": 0, "ppy": 0,
                               "model": "modified_brown_conrady", "coeffs": [0.1] * 5})  # fmt: skip


def test_stream_size_mismatch_refuses_or_rescales_explicitly(caplog):
    cam = CameraModel(1280, 720, 910.0, 910.0, 639.5, 359.5, distortion_model="plumb_bob", distortion=PLUMB)
    assert cam.for_stream(1280, 720) is cam
    with pytest.raises(CalibrationError, match=r"1280x720 but the stream is 640x360; refusing.*on_mismatch='rescale'"):
        cam.for_stream(640, 360)
    with caplog.at_level(logging.WARNING, logger="roboref.deploy.calibration"):
        half = cam.for_stream(640, 360, on_mismatch="rescale")
    assert "stream is 640x360: rescaling K" in caplog.text  # says what it did
    # Pixel-centre convention: the image centre (639.5, 359.5) at full size is (319.5, 179.5) at half.
    assert (half.fx, half.cx, half.cy, half.distortion) == (455.0, 319.5, 179.5, cam.distortion)
    with pytest.raises(CalibrationError, match="aspect ratio changes"):
        cam.for_stream(640, 480, on_mismatch="rescale")
    with pytest.raises(ValueError, match="on_mismatch"):
        cam.for_stream(640, 360, on_mismatch="guess")


# --- extrinsics -----------------------------------------------------------------------------------
HANDEYE = """\
eye_on_hand: {flag}
robot_base_frame: base_link
robot_effector_frame: tool0
tracking_base_frame: camera_color_optical_frame
tracking_marker_frame: aruco_marker
transformation: {{x: 0.0312, y: -0.0755, z: 0.0421, qx: 0.0021, qy: -0.0043, qz: 0.7071, qw: 0.7071}}
"""

HANDEYE2 = """\
parameters:
  name: ur5e_wrist
  calibration_type: eye_on_base
  robot_base_frame: base_link
  robot_effector_frame: tool0
  tracking_base_frame: camera_link
  tracking_marker_frame: marker
transform:
  translation: {x: 1.1, y: 0.02, z: 0.63}
  rotation: {x: 0.0, y: 0.3826834, z: 0.0, w: 0.9238795}
"""


def test_easy_handeye_eye_in_hand_and_eye_to_hand(tmp_path):
    he = load_easy_handeye(write(tmp_path, "hand.yaml", HANDEYE.format(flag="true")))
    assert he.eye_in_hand and he.transform.name == "T_tool0_camera_color_optical_frame"
    q = np.array([0.0021, -0.0043, 0.7071, 0.7071])
    assert np.allclose(he.transform.R, Rotation.from_quat(q / np.linalg.norm(q)).as_matrix())
    assert np.allclose(he.transform.t, [0.0312, -0.0755, 0.0421])
    with pytest.raises(ValueError, match="needs T_base_tcp"):
        he.T_base_cam()
    T_base_tcp = Transform.from_pose_vector([0.4, -0.1, 0.5, 0.0, math.pi, 0.0], "base_link", "tool0")
    T = he.T_base_cam(T_base_tcp)
    assert T.name == "T_base_link_camera_color_optical_frame"
    assert np.allclose(T.matrix, T_base_tcp.matrix @ he.transform.matrix)
    he = load_easy_handeye(write(tmp_path, "base.yaml", HANDEYE.format(flag="false")))
    assert not he.eye_in_hand and he.T_base_cam().name == "T_base_link_camera_color_optical_frame"
    he2 = load_easy_handeye(write(tmp_path, "he2.yaml", HANDEYE2))
    assert not he2.eye_in_hand and he2.transform.name == "T_base_link_camera_link"
    assert np.allclose(Rotation.from_matrix(he2.transform.R).as_rotvec(), [0, math.pi / 4, 0], atol=1e-6)


@pytest.mark.parametrize("flag", [True, False])
def test_easy_handeye_round_trip(tmp_path, flag):
    he = load_easy_handeye(write(tmp_path, "he.yaml", HANDEYE.format(flag=str(flag).lower())))
    back = load_easy_handeye(save_easy_handeye(he, tmp_path / "back.yaml"))
    assert back.eye_in_hand == flag and back.transform.allclose(he.transform, atol=1e-12)


def test_easy_handeye_errors_name_the_field(tmp_path):
    text = HANDEYE.format(flag="true").replace(", qw: 0.7071", "")
    with pytest.raises(CalibrationError, match=r"noqw\.yaml.*'qw' is missing"):
        load_easy_handeye(write(tmp_path, "noqw.yaml", text))
    text = HANDEYE.format(flag="true").replace("qw: 0.7071", "qw: 1.7071")
    with pytest.raises(CalibrationError, match=r"badq\.yaml.*not unit length"):
        load_easy_handeye(write(tmp_path, "badq.yaml", text))
    text = HANDEYE.format(flag="true").replace("eye_on_hand: true\n", "")
    with pytest.raises(CalibrationError, match=r"noflag\.yaml.*'eye_on_hand'"):
        load_easy_handeye(write(tmp_path, "noflag.yaml", text))


def test_matrix_files_round_trip_and_rigidity_checks(tmp_path):
    T = Transform.from_xyz_quat([0.5, -0.2, 0.9], Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_quat(), "base", "cam")
    assert load_transform(save_transform(T, tmp_path / "T.json")).allclose(T, atol=0)
    assert load_transform(save_transform(T, tmp_path / "T.npy"), "base", "cam").allclose(T, atol=0)
    with pytest.raises(CalibrationError, match="no frame names"):
        load_transform(tmp_path / "T.npy")
    with pytest.raises(CalibrationError, match=r"'parent' is 'base', but 'world' was expected"):
        load_transform(tmp_path / "T.json", parent="world")
    scaled = T.matrix.copy()
    scaled[:3, :3] *= 1.01
    (tmp_path / "s.json").write_text(json.dumps({"parent": "base", "child": "cam", "matrix": scaled.tolist()}))
    with pytest.raises(CalibrationError, match=r"s\.json.*not orthonormal"):
        load_transform(tmp_path / "s.json")
    mirrored = T.matrix @ np.diag([1.0, -1.0, 1.0, 1.0])
    with pytest.raises(CalibrationError, match="reflection"):
        Transform("base", "cam", mirrored)
    printed = np.round(T.matrix, 5)  # a file printed with 5 decimals is still accepted, made exact
    R = Transform("base", "cam", printed).R
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-12) and np.allclose(R, T.R, atol=1e-4)
    with pytest.raises(CalibrationError, match="last row"):
        Transform("base", "cam", np.vstack([T.matrix[:3], [0, 0, 1, 1]]))


def test_eye_in_hand_known_pose():
    # TCP pointing straight down (UR pose: rotation vector (pi, 0, 0)), camera 5 cm along the TCP's z.
    T_base_tcp = Transform.from_pose_vector([0.4, -0.1, 0.5, math.pi, 0.0, 0.0], "base", "tool0")
    T_tcp_cam = Transform.from_xyz_quat([0.0, 0.0, 0.05], [0, 0, 0, 1], "tool0", "cam")
    T = eye_in_hand(T_base_tcp, T_tcp_cam)
    assert np.allclose(T.t, [0.4, -0.1, 0.45]) and np.allclose(T.R, np.diag([1.0, -1.0, -1.0]))
    assert np.allclose(T.apply([0.0, 0.0, 0.3]), [0.4, -0.1, 0.15])  # 30 cm in front of the lens is below it
    pose = [0.31, -0.2, 0.42, 0.3, -2.1, 0.7]
    assert np.allclose(to_pose_vector(Transform.from_pose_vector(pose, "base", "tcp")), pose)


def test_composition_checks_frame_names():
    a = Transform.from_xyz_ypr([1, 0, 0], 0.3, 0.0, 0.0, "base", "tcp")
    b = Transform.from_xyz_ypr([0, 0.1, 0], 0.0, 0.2, 0.0, "tcp", "cam")
    assert eye_in_hand(a, b).name == "T_base_cam"
    with pytest.raises(CalibrationError, match=r"cannot compose T_tcp_cam · T_base_tcp"):
        b @ a
    assert (a @ a.inverse()).allclose(Transform("base", "base", np.eye(4)))
    p = np.array([0.2, -0.3, 0.4])
    assert np.allclose(a.inverse().apply(a.apply(p)), p)


def test_static_transform_publisher_arguments():
    # REP 103: camera_link -> optical frame is "0 0 0 -pi/2 0 -pi/2": optical z = link x, x = -y, y = -z.
    T = from_static_transform_args("0.1 0.2 0.3 -1.5707963267948966 0 -1.5707963267948966 camera_link camera_optical")
    assert T.name == "T_camera_link_camera_optical"
    assert np.allclose(T.R, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12) and np.allclose(T.t, [0.1, 0.2, 0.3])
    Tq = from_static_transform_args(
        ["0.1", "0.2", "0.3", "-0.5", "0.5", "-0.5", "0.5", "camera_link", "camera_optical", "100"]
    )
    assert Tq.allclose(T, atol=1e-9)
    T2 = from_static_transform_args(
        "--x 0.1 --y 0.2 --z 0.3 --yaw -1.5707963267948966 --roll -1.5707963267948966 "
        "--frame-id camera_link --child-frame-id camera_optical"
    )
    assert T2.allclose(T, atol=1e-12)
    assert from_static_transform_args(T.to_static_transform_args()).allclose(T, atol=1e-12)  # round trip
    with pytest.raises(CalibrationError, match="got 5 arguments"):
        from_static_transform_args("0 0 0 base cam")
    with pytest.raises(CalibrationError, match="'child-frame-id'.* is missing"):
        from_static_transform_args("--x 1 --frame-id base")
    with pytest.raises(CalibrationError, match="not unit length"):
        from_static_transform_args("0 0 0 0 0 0 2 base cam")


def test_import_needs_no_vendor_sdk():
    code = "import sys, roboref.deploy; print(sorted(m for m in ('pyrealsense2', 'mujoco', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
