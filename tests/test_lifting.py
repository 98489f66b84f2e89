"""Point → 3D (roboref.deploy.lifting): golden undistortion values, RealSense's own deprojection,
robust depth and its refusals, sim ground truth from a real roboref env, a frame-flip check, and
RoboRefer's relative-depth image."""

import math

import mujoco
import numpy as np
import pytest

from roboref.deploy import (
    Calibration,
    CalibrationError,
    CameraModel,
    DepthConfig,
    NoDepthError,
    Transform,
    camera_from_realsense,
    camera_from_sim,
    deproject,
    from_static_transform_args,
    lift_point,
    load_calibration,
    project,
    relative_depth_image,
    sim_T_base_cam,
)
from roboref.deploy.lifting import distort, robust_depth, undistort
from roboref.envs.camera import unproject

K_GOLD = (612.3, 611.9, 318.7, 243.1)
PIXELS = np.array([[10.0, 12.0], [318.7, 243.1], [600.0, 30.0], [100.0, 450.0], [639.0, 479.0], [400.5, 260.25]])
# Golden values: computed once with OpenCV 5.0.0 (opencv-python-headless 5.0.0.93, not a dependency):
# cv2.undistortPoints(PIXELS, K, D, R=I, P=I, criteria=(COUNT|EPS, 100, 1e-14)) and
# cv2.fisheye.undistortPoints(PIXELS, K, D, criteria=…), for the distortion coefficients below.
GOLDEN = {
    ("plumb_bob", (-0.28, 0.09, 0.0012, -0.0007, -0.012)): [
        [-0.573960948368, -0.430973451721], [0.0, 0.0], [0.512461241036, -0.388779695221],
        [-0.383865586184, 0.363230066678], [0.601756816318, 0.442381602395], [0.134328223385, 0.028155849464],
    ],
    ("rational_polynomial", (0.9, -0.3, 0.0012, -0.0007, 0.02, 1.2, -0.1, 0.05)): [
        [-0.583680998734, -0.438307245203], [0.0, 0.0], [0.517646943299, -0.392720181458],
        [-0.385747986373, 0.365009679848], [0.614394057086, 0.451624318584], [0.134376530453, 0.028165956508],
    ],
    ("equidistant", (0.08, -0.02, 0.004, -0.001)): [
        [-0.563091263871, -0.421818780446], [0.0, 0.0], [0.503256592893, -0.381493371863],
        [-0.381134184435, 0.360805722382], [0.588837255191, 0.433960387247], [0.134229572516, 0.028160660318],
    ],
}  # fmt: skip


def gold_cam(model="none", coeffs=()):
    fx, fy, cx, cy = K_GOLD
    return CameraModel(640, 480, fx, fy, cx, cy, distortion_model=model, distortion=coeffs)


@pytest.mark.parametrize("model,coeffs", list(GOLDEN))
def test_undistortion_matches_opencv_golden_values(model, coeffs):
    cam = gold_cam(model, coeffs)
    pts = deproject(PIXELS, np.ones(len(PIXELS)), cam)
    assert np.allclose(pts[:, :2], GOLDEN[(model, coeffs)], atol=1e-9)
    uv, z = project(pts * 0.8, cam)  # and the forward model takes them back to the pixels
    assert np.allclose(uv, PIXELS, atol=1e-7) and np.allclose(z, 0.8)


def test_undistortion_converges_where_plain_iteration_does_not():
    cam = gold_cam("plumb_bob", (-0.45, 0.25, 0.0, 0.0, -0.08))  # strong barrel: the corners need Newton
    xy = np.stack(np.meshgrid(np.linspace(-0.55, 0.55, 23), np.linspace(-0.4, 0.4, 17)), -1).reshape(-1, 2)
    assert np.allclose(undistort(distort(xy, cam), cam), xy, atol=1e-9)
    with pytest.raises(ValueError, match="did not converge"):
        undistort(np.array([[40.0, 40.0]]), cam)


@pytest.mark.parametrize("model", ["plumb_bob", "rational_polynomial", "equidistant"])
def test_distort_undistort_round_trip_on_random_lenses(model):
    rng = np.random.default_rng(11)
    xy = rng.uniform(-0.6, 0.6, (400, 2))  # ±31° off axis, beyond a 640×480 image's corners at f = 600
    for _ in range(25):
        if model == "equidistant":
            coeffs = rng.uniform(-0.05, 0.05, 4)
        else:
            coeffs = np.r_[rng.uniform(-0.3, 0.3, 2), rng.uniform(-0.003, 0.003, 2), rng.uniform(-0.05, 0.05, 1)]
            coeffs = np.r_[coeffs, rng.uniform(-0.3, 0.3, 3)] if model == "rational_polynomial" else coeffs
        cam = gold_cam(model, tuple(coeffs))
        assert np.allclose(undistort(distort(xy, cam), cam), xy, atol=1e-9)


@pytest.mark.parametrize(
    "model,coeffs",
    [
        ("brown_conrady", [0.1, -0.2, 0.001, 0.002, 0.05]),
        ("inverse_brown_conrady", [0.05, -0.1, 0.001, -0.002, 0.02]),
        ("kannala_brandt4", [0.1, -0.05, 0.01, -0.002, 0.0]),
        ("none", [0.0] * 5),
    ],
)
def test_deprojection_matches_pyrealsense2(model, coeffs):
    rs = pytest.importorskip(
        "pyrealsense2", reason="pyrealsense2 (extra realsense) needs libusb-1.0-0", exc_type=ImportError
    )
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = 640, 480, 600.0, 601.0, 320.5, 240.2
    intr.model, intr.coeffs = getattr(rs.distortion, model), coeffs
    cam = camera_from_realsense(intr)
    rng = np.random.default_rng(7)
    px, z = rng.uniform([0, 0], [639, 479], (300, 2)), rng.uniform(0.2, 3.0, 300)
    ours = deproject(px, z, cam)
    ref = np.array(
        [rs.rs2_deproject_pixel_to_point(intr, [float(u), float(v)], float(d)) for (u, v), d in zip(px, z, strict=True)]
    )
    assert np.abs(ours - ref).max() < 2e-6  # metres; librealsense computes in float32


def test_robust_depth_median_and_refusals():
    cam = CameraModel(64, 48, 50.0, 50.0, 31.5, 23.5, depth_scale=0.001)
    depth = np.full((48, 64), 800, np.uint16)  # raw RealSense units: 0.8 m
    depth[20:27, 28:35] = 0  # a hole right under the point
    depth[26, 31] = 60000  # a flying pixel beyond `far`
    depth[21, 32] = 810
    z, n = robust_depth(depth * cam.depth_scale, (31.0, 23.0), DepthConfig(radius=4))
    assert z == pytest.approx(0.8) and n == 5  # 4 pixels beyond the hole + one inside it; 60 m rejected
    lp = lift_point((0.5, 0.5), depth, cam, cfg=DepthConfig(radius=4))
    assert lp.depth == pytest.approx(0.8) and np.allclose(lp.p_cam, [0.0, 0.0, 0.8], atol=1e-9)
    with pytest.raises(NoDepthError, match=r"no valid depth within 2 px.*0 of 13 pixels.*13 zero.*refusing"):
        lift_point((0.5, 0.5), depth, cam, cfg=DepthConfig(radius=2))
    metres_as_mm = depth.astype(np.float32)  # a float image is taken as metres: 800 m is out of range
    with pytest.raises(NoDepthError, match="millimetres passed as metres"):
        lift_point((0.1, 0.1), metres_as_mm, cam)
    with pytest.raises(ValueError, match="align depth to the colour stream"):
        lift_point((0.5, 0.5), depth[:, :32], cam)
    for bad in [(1.2, 0.5), (math.nan, 0.5)]:
        with pytest.raises(ValueError, match=r"in \[0, 1\]"):
            lift_point(bad, depth, cam)


def test_robust_depth_keeps_to_the_surface_under_the_point():
    depth = np.full((40, 40), 1.2)
    depth[:, 18:20] = 0.6  # a thin object (2 px wide) in front of the table
    pixel = (19.0, 20.0)  # on the object: 12 of the disk's 29 pixels
    assert robust_depth(depth, pixel, DepthConfig(radius=3))[0] == 0.6
    assert robust_depth(depth, pixel, DepthConfig(radius=3, surface_tol=None))[0] == 1.2  # plain median
    depth[20, 19] = 0.9  # a flying pixel between the two surfaces: the plain median decides
    assert robust_depth(depth, pixel, DepthConfig(radius=3))[0] == 1.2


def test_sim_camera_matches_roboref_unproject(ur5e_env):
    obs, _ = ur5e_env.reset(seed=3)
    K, T = ur5e_env.unwrapped.sim.camera_pose("agent")  # float64; the observation has float32 copies
    cam = camera_from_sim(K, 224, 224)
    assert camera_from_sim(obs) == CameraModel(
        224, 224, *np.float32([K[0, 0], K[1, 1]]), 111.5, 111.5, depth_scale=1.0, name="agent"
    )
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.02, 0.98, (50, 2))
    z = rng.uniform(0.5, 2.0, 50)
    ours = Transform("world", "agent", T).apply(deproject(pts * [cam.width, cam.height] - 0.5, z, cam))
    assert np.allclose(ours, unproject(pts * [cam.width, cam.height], z, K, T), atol=1e-9)


def ray_truth(env, point):
    """The true surface point seen through ``point``: MuJoCo's ray cast along the pixel's ray
    (independent of the rendered depth), and the geom it hits."""
    u = env.unwrapped
    K, T = u.sim.camera_pose(u.config.camera)
    w, h = u.config.image_size
    d_cam = np.array([(point[0] * w - K[0, 2]) / K[0, 0], (point[1] * h - K[1, 2]) / K[1, 1], 1.0])
    d = T[:3, :3] @ d_cam
    d /= np.linalg.norm(d)
    geom = np.zeros(1, np.int32)
    dist = mujoco.mj_ray(u.sim.model, u.sim.data, T[:3, 3], d, np.array([1, 1, 1, 0, 0, 0], np.uint8), 1, -1, geom)
    return T[:3, 3] + dist * d, u.sim.model.geom(int(geom[0])).name


@pytest.mark.parametrize("robot,base,seeds", [("ur5e", "robot/base", 12), ("g1", "robot/pelvis", 4)])
def test_lifting_matches_sim_ground_truth(robot, base, seeds, request):
    env = request.getfixturevalue(f"{robot}_env")
    errors, on_target = [], 0
    for seed in range(seeds):
        obs, _ = env.reset(seed=seed)
        task = env.unwrapped.task
        truth, geom = ray_truth(env, task.point)
        T_world_cam = Transform("world", "agent", obs["extrinsics"])
        lp = lift_point(task.point, obs["depth"], camera_from_sim(obs), T_world_cam, DepthConfig(radius=0))
        errors.append(np.linalg.norm(lp.p_base - truth))  # one clean pixel: exact up to depth precision
        if task.kind == "location":
            on_target += geom.startswith(f"obj{task.target}/")
        # In the robot's base frame too: the base body's pose, read straight from the simulation.
        lp_base = lift_point(task.point, obs["depth"], camera_from_sim(obs), sim_T_base_cam(env, base_body=base))
        data = env.unwrapped.sim.data
        bid = env.unwrapped.sim.model.body(base).id
        truth_base = data.xmat[bid].reshape(3, 3).T @ (truth - data.xpos[bid])
        # The default disk's median trades a few mm of bias on curved objects for noise robustness.
        assert lp_base.frame == base and np.linalg.norm(lp_base.p_base - truth_base) < 0.015
    errors = np.array(errors)
    assert np.median(errors) < 5e-4 and errors.max() < 0.01, errors
    assert on_target >= 1


def test_frame_names_must_agree():
    cam = CameraModel(64, 48, 50.0, 50.0, 31.5, 23.5, name="camera_color_optical_frame")
    depth = np.full((48, 64), 0.8, np.float32)
    link = Transform.from_xyz_ypr([0.5, 0.0, 0.4], 0.0, 0.5, 0.0, "base_link", "camera_link")
    with pytest.raises(CalibrationError, match="ends in frame 'camera_link'.*'camera_color_optical_frame'"):
        lift_point((0.5, 0.5), depth, cam, link)
    optical = from_static_transform_args(
        "0 0 0 -1.5707963267948966 0 -1.5707963267948966 camera_link camera_color_optical_frame"
    )
    lp = lift_point((0.5, 0.5), depth, cam, link @ optical)
    # The optical z axis is camera_link's x axis: 0.8 m straight ahead of the link, pitched down 0.5 rad.
    assert np.allclose(lp.p_base, [0.5 + 0.8 * math.cos(0.5), 0.0, 0.4 - 0.8 * math.sin(0.5)])
    assert lift_point((0.5, 0.5), depth, cam, link, check_frames=False).frame == "base_link"


def test_frame_flip_is_caught(ur5e_env):
    """A mirrored x or y, swapped (x, y), or MuJoCo's camera axes instead of OpenCV's each put the
    target centimetres to metres away from the truth, so the ground-truth test above would fail."""
    obs, _ = ur5e_env.reset(seed=2)
    point = ur5e_env.unwrapped.task.point
    assert abs(point[0] - 0.5) > 0.1  # off-centre, so a mirror moves it
    truth, _ = ray_truth(ur5e_env, point)
    cam, T = camera_from_sim(obs), obs["extrinsics"].astype(float)
    good = lift_point(point, obs["depth"], cam, Transform("world", "agent", T))
    assert np.linalg.norm(good.p_base - truth) < 0.01
    T_mj = T.copy()
    T_mj[:3, :3] = T[:3, :3] @ np.diag([1.0, -1.0, -1.0])  # MuJoCo's camera: y up, looking along -z
    flips = {
        "mirrored x": ((1 - point[0], point[1]), T),
        "mirrored y": ((point[0], 1 - point[1]), T),
        "swapped x/y": ((point[1], point[0]), T),
        "MuJoCo axes": (point, T_mj),
    }
    for name, (p, T_flip) in flips.items():
        try:
            bad = lift_point(p, obs["depth"], cam, Transform("world", "agent", T_flip)).p_base
        except NoDepthError:  # the mirrored point fell off the table: beyond `far`, refused
            continue
        assert np.linalg.norm(bad - truth) > 0.05, name
    # And in the camera frame: right of the principal point is +x, below it is +y.
    right_low = lift_point((0.9, 0.9), np.ones((224, 224), np.float32), cam)
    assert right_low.p_cam[0] > 0 and right_low.p_cam[1] > 0


def test_relative_depth_image_matches_roborefer_normalization():
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.4, 2.5, (30, 40)).astype(np.float32)
    depth[0, 0] = 0.0  # a sensor hole
    img = relative_depth_image(depth)
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    disp = 1.0 / depth[depth > 0]
    expected = ((disp - disp.min()) / (disp.max() - disp.min()) * 255.0).astype(np.uint8)  # RoboRefer API/api.py
    assert (img[..., 0][depth > 0] == expected).all() and img[0, 0, 0] == 0
    near = np.unravel_index(np.argmin(np.where(depth > 0, depth, np.inf)), depth.shape)
    assert img[near][0] == 255  # the nearest pixel is the brightest, as Depth-Anything-V2's output
    plain = relative_depth_image(depth, disparity=False)
    assert plain[near][0] == 0 and plain[0, 0, 0] == 255
    raw = (depth * 1000).astype(np.uint16)  # a raw RealSense image and its depth scale give the same
    cam = CameraModel(40, 30, 30.0, 30.0, 19.5, 14.5, depth_scale=0.001)
    assert np.abs(relative_depth_image(raw, cam).astype(int) - img.astype(int)).max() <= 1
    assert not relative_depth_image(np.full((4, 4), 1.0)).any()


ROS_CAM = """\
image_width: 64
image_height: 48
camera_name: d435
camera_matrix: {rows: 3, cols: 3, data: [50.0, 0, 31.5, 0, 50.0, 23.5, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}
projection_matrix: {rows: 3, cols: 4, data: [50.0, 0, 31.5, 0, 0, 50.0, 23.5, 0, 0, 0, 1, 0]}
"""


def test_load_calibration_from_files_and_lift(tmp_path):
    (tmp_path / "cam.yaml").write_text(ROS_CAM)
    (tmp_path / "he.yaml").write_text(
        "eye_on_hand: true\nrobot_effector_frame: tool0\ntracking_base_frame: optical\n"
        "transformation: {x: 0.0, y: 0.0, z: 0.05, qx: 0.0, qy: 0.0, qz: 0.0, qw: 1.0}\n"
    )
    depth = np.full((48, 64), 300, np.uint16)  # 0.3 m in front of the lens
    calib = load_calibration(tmp_path / "cam.yaml", tmp_path / "he.yaml", stream_size=(64, 48))
    tcp_down = Transform.from_pose_vector([0.4, -0.1, 0.5, math.pi, 0.0, 0.0], "base_link", "tool0")
    lp = calib.lift((0.5, 0.5), depth, T_base_tcp=tcp_down)
    assert lp.frame == "base_link" and np.allclose(lp.p_base, [0.4, -0.1, 0.15])
    with pytest.raises(ValueError, match="needs T_base_tcp"):
        calib.lift((0.5, 0.5), depth)
    with pytest.raises(CalibrationError, match="refusing"):
        load_calibration(tmp_path / "cam.yaml", tmp_path / "he.yaml", stream_size=(128, 96))
    fixed = load_calibration(tmp_path / "cam.yaml", "1.0 0.0 0.8 0 0 0 1 base_link optical")
    assert np.allclose(fixed.lift((0.5, 0.5), depth).p_base, [1.0, 0.0, 1.1])
    np.save(tmp_path / "T.npy", np.eye(4))
    npy = load_calibration(tmp_path / "cam.yaml", tmp_path / "T.npy", frames=("base_link", "optical"))
    assert npy.hand_eye.transform.name == "T_base_link_optical" and not npy.hand_eye.eye_in_hand


def test_calibration_from_sim(ur5e_env):
    obs, _ = ur5e_env.reset(seed=5)
    calib = Calibration.from_sim(ur5e_env)
    point = ur5e_env.unwrapped.task.point
    lp = calib.lift(point, obs["depth"])
    ref = lift_point(point, obs["depth"], camera_from_sim(obs), sim_T_base_cam(ur5e_env))
    assert lp.frame == "robot/base" and np.allclose(lp.p_base, ref.p_base, atol=1e-5)
