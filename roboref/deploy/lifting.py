"""Point → 3D: a normalized referring point, an aligned depth image and a calibrated camera become a
target in the robot's base frame.

The steps are the ones a real RGB-D pipeline needs and a sim one can skip: normalized point →
pixel (OpenCV pixel-centre convention) → robust depth (median of the valid pixels in a disk that
lie on the centre pixel's surface, rejecting 0 and values outside ``[near, far]``; none valid is a
``NoDepthError``, and nothing should move) → undistort (iterative, no OpenCV) → unproject with
z-depth → ``T_base_cam``. The depth image must be aligned to the colour camera the point was given
in (RealSense ``rs.align(rs.stream.color)``). ``Calibration`` bundles a camera and its hand-eye
transform (``load_calibration`` reads both from files).

``relative_depth_image`` makes the 3-channel uint8 relative-depth image RoboRefer's server feeds its
VLM's depth encoder, for agents trained on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from roboref.deploy.calibration import CalibrationError, CameraModel, camera_from_sim, load_camera
from roboref.deploy.extrinsics import (
    HandEye,
    Transform,
    from_static_transform_args,
    load_easy_handeye,
    load_transform,
    sim_T_base_cam,
)


class NoDepthError(ValueError):
    """No valid depth around the point: the target cannot be placed in 3D, so the robot must not move."""


@dataclass(frozen=True)
class DepthConfig:
    """How depth is read around a point: a disk of ``radius`` pixels, values in ``[near, far]`` m."""

    #: Disk radius in pixels. 1 (5 pixels) had the lowest error under noise at 224² in sim (1 px ≈ 6 mm
    #: at 1 m) for both robots (benchmarks/lifting_error.py); larger disks add curvature bias there.
    #: At 640×480 or more a pixel is 3× smaller: 2 is then as safe, and rides over more holes.
    radius: int = 1
    near: float = 0.1
    far: float = 3.0
    min_valid: int = 1  # fewer valid pixels than this in the disk is a refusal
    #: Keep to the surface under the point: with a valid centre pixel, only disk pixels within this
    #: many metres of it enter the median (a disk across an object's edge otherwise mixes in the
    #: background). None: the plain median of the disk.
    surface_tol: float | None = 0.02

    def __post_init__(self):
        if self.radius < 0 or self.min_valid < 1:
            raise ValueError(f"radius must be >= 0 and min_valid >= 1, got {self.radius}, {self.min_valid}")
        if self.surface_tol is not None and not self.surface_tol > 0:
            raise ValueError(f"surface_tol must be positive or None, got {self.surface_tol}")
        if not 0.0 <= self.near < self.far:
            raise ValueError(f"need 0 <= near < far, got near={self.near}, far={self.far}")


@dataclass(frozen=True, eq=False)
class LiftedPoint:
    """A lifted target: the pixel it came from, the depth used, and the point in camera and base frames."""

    point: tuple[float, float]  # normalized (x, y)
    pixel: tuple[float, float]  # OpenCV pixel coordinates (u, v)
    depth: float  # metres, z along the optical axis
    valid_pixels: int  # valid depth pixels in the disk
    p_cam: np.ndarray  # (3,) in the camera's optical frame
    p_base: np.ndarray  # (3,) in ``frame``
    frame: str

    def to_dict(self) -> dict:
        return {
            "point": list(self.point),
            "pixel": list(self.pixel),
            "depth": self.depth,
            "valid_pixels": self.valid_pixels,
            "p_cam": self.p_cam.tolist(),
            "p_base": self.p_base.tolist(),
            "frame": self.frame,
        }


def point_to_pixel(point, cam: CameraModel) -> np.ndarray:
    """Normalized ``(x, y)`` (x = column / width, origin at the image's top-left corner) -> OpenCV
    pixel coordinates ``(x·W − 0.5, y·H − 0.5)``, where integer values are pixel centres."""
    p = np.asarray(point, dtype=float)
    if p.shape[-1] != 2 or not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"a point must be (x, y) in [0, 1]², got {np.asarray(point).tolist()}")
    return p * [cam.width, cam.height] - 0.5


def depth_in_metres(depth: np.ndarray, cam: CameraModel) -> np.ndarray:
    """A raw integer depth image times ``cam.depth_scale``; a float image is already metres."""
    d = np.asarray(depth)
    if d.ndim != 2:
        raise ValueError(f"depth must be an (H, W) image, got shape {d.shape}")
    if d.shape != (cam.height, cam.width):
        raise ValueError(
            f"depth image is {d.shape[1]}x{d.shape[0]} but the camera model is {cam.width}x{cam.height}: "
            "align depth to the colour stream the point was given in"
        )
    if np.issubdtype(d.dtype, np.integer):
        return d.astype(np.float64) * cam.depth_scale
    return d.astype(np.float64, copy=False)


def robust_depth(depth_m: np.ndarray, pixel, cfg: DepthConfig = DepthConfig()) -> tuple[float, int]:
    """Median of the valid depths (finite, > 0, in ``[near, far]``) within ``cfg.radius`` pixels of
    ``pixel`` (those on the centre pixel's surface, ``cfg.surface_tol``), and how many were used.
    Too few is a ``NoDepthError`` that says what was seen."""
    h, w = depth_m.shape
    u, v = float(pixel[0]), float(pixel[1])
    col, row = math.floor(u + 0.5), math.floor(v + 0.5)  # the pixel whose square holds (u, v)
    if not (0 <= col < w and 0 <= row < h):
        raise NoDepthError(f"pixel ({u:.1f}, {v:.1f}) is outside the {w}x{h} depth image")
    r = cfg.radius
    r0, r1, c0, c1 = max(row - r, 0), min(row + r + 1, h), max(col - r, 0), min(col + r + 1, w)
    patch = depth_m[r0:r1, c0:c1]
    rr, cc = np.mgrid[r0:r1, c0:c1]
    disk = (rr - row) ** 2 + (cc - col) ** 2 <= r * r
    vals = patch[disk]
    ok = np.isfinite(vals) & (vals > 0) & (vals >= cfg.near) & (vals <= cfg.far)
    n = int(ok.sum())
    if n < cfg.min_valid:
        seen = vals[np.isfinite(vals) & (vals > 0)]
        hint = ""
        if seen.size:
            hint = f"; non-zero values span {seen.min():.3f}–{seen.max():.3f} m"
            if seen.min() > 10 * cfg.far:
                hint += " (millimetres passed as metres? integer images are scaled by depth_scale)"
        raise NoDepthError(
            f"no valid depth within {r} px of pixel ({u:.1f}, {v:.1f}): {n} of {vals.size} pixels in "
            f"[{cfg.near}, {cfg.far}] m, {int((vals == 0).sum())} zero{hint}; refusing to lift the point"
        )
    good = vals[ok]
    centre = depth_m[row, col]
    if cfg.surface_tol is not None and np.isfinite(centre) and cfg.near <= centre <= cfg.far and centre > 0:
        same = good[np.abs(good - centre) <= cfg.surface_tol]
        if same.size >= max(cfg.min_valid, math.ceil(n / 3)):  # else the centre is a lone (flying) pixel
            good = same
    return float(np.median(good)), int(good.size)


# --- distortion ---------------------------------------------------------------------------------------
def distort(xy: np.ndarray, cam: CameraModel) -> np.ndarray:
    """Ideal normalized coordinates (N, 2) -> distorted normalized coordinates (the lens's forward model)."""
    xy = np.atleast_2d(np.asarray(xy, dtype=float))
    x, y = xy[:, 0], xy[:, 1]
    c = cam.distortion
    model = cam.distortion_model
    if model == "none":
        return xy.copy()
    if model == "equidistant":
        r = np.hypot(x, y)
        th = np.arctan(r)
        t2 = th * th
        thd = th * (1 + t2 * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * c[3]))))
        scale = np.where(r > 1e-12, thd / np.maximum(r, 1e-12), 1.0)
        return xy * scale[:, None]
    if model == "inverse_brown_conrady":
        raise ValueError(
            "inverse_brown_conrady images are undistorted by their coefficients; there is no forward model"
        )
    k1, k2, p1, p2, k3 = c[:5]
    k4, k5, k6 = c[5:8] if len(c) == 8 else (0.0, 0.0, 0.0)
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.column_stack([xd, yd])


def undistort(xy_d: np.ndarray, cam: CameraModel, iterations: int = 20, tol: float = 1e-10) -> np.ndarray:
    """Distorted normalized coordinates (N, 2) -> ideal ones, inverting ``distort``.

    Brown-Conrady / rational: OpenCV's fixed-point iteration, then Newton steps on the residual so
    that strong distortion at the image edge still converges; equidistant: Newton on θ. A point that
    does not converge (outside the lens model's valid range) raises rather than returning garbage."""
    xy_d = np.atleast_2d(np.asarray(xy_d, dtype=float))
    model = cam.distortion_model
    if model == "none":
        return xy_d.copy()
    if model == "inverse_brown_conrady":
        return _undistort_inverse_bc(xy_d, cam.distortion)
    if model == "equidistant":
        return _undistort_equidistant(xy_d, cam.distortion, iterations, tol)
    c = cam.distortion
    k1, k2, p1, p2, k3 = c[:5]
    k4, k5, k6 = c[5:8] if len(c) == 8 else (0.0, 0.0, 0.0)
    x0, y0 = xy_d[:, 0], xy_d[:, 1]
    x, y = x0.copy(), y0.copy()
    for _ in range(iterations):  # cv::undistortPoints' iteration
        r2 = x * x + y * y
        icdist = (1 + r2 * (k4 + r2 * (k5 + r2 * k6))) / (1 + r2 * (k1 + r2 * (k2 + r2 * k3)))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x, y = (x0 - dx) * icdist, (y0 - dy) * icdist
    with np.errstate(all="ignore"):
        xy = np.column_stack([x, y])
        # Where the fixed point wandered off (strong distortion) or reached a spurious root (past a
        # pole or fold of the lens polynomial), Newton starts from the radial-only inverse instead.
        restart = ~(_residual(xy, xy_d, cam) < 1e-3) | ~_same_side(xy, xy_d)
        if restart.any():
            xy[restart] = _radial_guess(xy_d[restart], cam)
        for _ in range(iterations):  # damped Newton: a step that raises the residual is halved
            res = distort(xy, cam) - xy_d
            if not np.abs(res).max() >= tol:  # converged (or NaN: reported below)
                break
            try:
                step = np.linalg.solve(_jacobian(xy, cam), res[..., None])[..., 0]
            except np.linalg.LinAlgError:
                break
            before = _residual(xy, xy_d, cam)
            for _ in range(8):
                worse = ~(_residual(xy - step, xy_d, cam) <= before)
                if not worse.any():
                    break
                step[worse] *= 0.5
            xy = xy - step
        res = np.abs(distort(xy, cam) - xy_d).max(axis=1)
        # A root where the lens model folds back (d r_d / d r <= 0) is not the image point's ray.
        res[~(np.linalg.det(_jacobian(xy, cam)) > 0) | ~_same_side(xy, xy_d)] = np.inf
    if not np.all(np.isfinite(xy)) or not np.all(res <= 1e-6):
        bad = int(np.argmax(np.where(np.isfinite(res), res, np.inf)))
        raise ValueError(
            f"undistortion did not converge at normalized point {xy_d[bad].tolist()} (residual {res[bad]:.2g}): "
            "the point is outside the range where this lens model is invertible"
        )
    return xy


def _radial_guess(xy_d: np.ndarray, cam: CameraModel, steps: int = 256) -> np.ndarray:
    """Invert the radial part alone along each point's own ray: the first r (from the axis out, on
    the branch where r·radial(r) still grows) with r·radial(r) = |xy_d|. A start inside the right
    basin for Newton when the lens has a pole or fold just outside the image."""
    r_d = np.hypot(xy_d[:, 0], xy_d[:, 1])
    grid = np.linspace(0.0, 1.0, steps)[None, :] * (3.0 * r_d[:, None] + 1e-12)  # (N, steps)
    pts = np.stack([grid, np.zeros_like(grid)], -1).reshape(-1, 2)
    f = distort(pts, replace(cam, distortion=_radial_only(cam)))[:, 0].reshape(grid.shape)
    rising = np.cumprod(np.diff(f, axis=1) > 0, axis=1).astype(bool)  # still on the first branch
    hit = rising & (f[:, 1:] >= r_d[:, None])
    idx = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 1)
    r = grid[np.arange(len(r_d)), idx]
    return xy_d * np.where(r_d > 1e-12, r / np.maximum(r_d, 1e-12), 1.0)[:, None]


def _radial_only(cam: CameraModel) -> tuple[float, ...]:
    c = list(cam.distortion)
    c[2:4] = [0.0, 0.0]  # no tangential terms (Brown-Conrady / rational order: k1 k2 p1 p2 …)
    return tuple(c)


def _same_side(xy: np.ndarray, xy_d: np.ndarray) -> np.ndarray:
    """Distortion scales a point along (about) its own direction: an ideal point on the other side
    of the axis, or 10× farther out, is a spurious root of the lens polynomial."""
    r, r_d = np.hypot(xy[:, 0], xy[:, 1]), np.hypot(xy_d[:, 0], xy_d[:, 1])
    return np.isfinite(r) & (((xy * xy_d).sum(axis=1) > 0) | (r_d < 1e-12)) & (r <= 10 * r_d + 1e-9)


def _residual(xy: np.ndarray, xy_d: np.ndarray, cam: CameraModel) -> np.ndarray:
    return np.abs(distort(xy, cam) - xy_d).max(axis=1)


def _jacobian(xy: np.ndarray, cam: CameraModel, eps: float = 1e-7) -> np.ndarray:
    """(N, 2, 2) central-difference Jacobian of ``distort``; columns are d/dx and d/dy."""
    jx = (distort(xy + [eps, 0.0], cam) - distort(xy - [eps, 0.0], cam)) / (2 * eps)
    jy = (distort(xy + [0.0, eps], cam) - distort(xy - [0.0, eps], cam)) / (2 * eps)
    return np.stack([jx, jy], axis=-1)


def _undistort_equidistant(xy_d: np.ndarray, c, iterations: int, tol: float) -> np.ndarray:
    rd = np.hypot(xy_d[:, 0], xy_d[:, 1])
    th = np.clip(rd, 0.0, np.pi / 2)
    for _ in range(iterations):
        t2 = th * th
        f = th * (1 + t2 * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * c[3])))) - rd
        df = 1 + t2 * (3 * c[0] + t2 * (5 * c[1] + t2 * (7 * c[2] + 9 * t2 * c[3])))
        step = f / df
        th = th - step
        if np.abs(step).max() < tol:
            break
    if np.any(~np.isfinite(th)) or np.any(th < 0) or np.any(th >= np.pi / 2):
        raise ValueError("fisheye undistortion did not converge: a point lies at or beyond 90° from the optical axis")
    scale = np.where(rd > 1e-12, np.tan(th) / np.maximum(rd, 1e-12), 1.0)
    return xy_d * scale[:, None]


def _undistort_inverse_bc(xy_d: np.ndarray, c) -> np.ndarray:
    """RealSense's ``inverse_brown_conrady`` deprojection, as librealsense's rsutil.h computes it."""
    x0, y0 = xy_d[:, 0], xy_d[:, 1]
    x, y = x0.copy(), y0.copy()
    for _ in range(10):
        r2 = x * x + y * y
        icdist = 1 / (1 + ((c[4] * r2 + c[1]) * r2 + c[0]) * r2)
        xq, yq = x / icdist, y / icdist
        dx = 2 * c[2] * xq * yq + c[3] * (r2 + 2 * xq * xq)
        dy = 2 * c[3] * xq * yq + c[2] * (r2 + 2 * yq * yq)
        x, y = (x0 - dx) * icdist, (y0 - dy) * icdist
    return np.column_stack([x, y])


# --- pixels and points ----------------------------------------------------------------------------------
def deproject(pixels: np.ndarray, depth: np.ndarray, cam: CameraModel) -> np.ndarray:
    """OpenCV pixel coordinates (N, 2) and z-depths (N,) -> points (N, 3) in the camera's optical frame."""
    uv = np.atleast_2d(np.asarray(pixels, dtype=float))
    z = np.asarray(depth, dtype=float).reshape(-1)
    y_n = (uv[:, 1] - cam.cy) / cam.fy
    x_n = (uv[:, 0] - cam.cx - cam.skew * y_n) / cam.fx
    xy = undistort(np.column_stack([x_n, y_n]), cam)
    return np.column_stack([xy * z[:, None], z])


def project(points: np.ndarray, cam: CameraModel) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 3) in the optical frame -> distorted OpenCV pixel coordinates (N, 2) and z (N,)."""
    p = np.atleast_2d(np.asarray(points, dtype=float))
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = distort(p[:, :2] / z[:, None], cam)
    u = cam.fx * xy[:, 0] + cam.skew * xy[:, 1] + cam.cx
    v = cam.fy * xy[:, 1] + cam.cy
    return np.column_stack([u, v]), z


def lift_point(
    point,
    depth: np.ndarray,
    cam: CameraModel,
    T_base_cam: Transform | None = None,
    cfg: DepthConfig = DepthConfig(),
    check_frames: bool = True,
) -> LiftedPoint:
    """A normalized point on the colour image -> a 3D target in ``T_base_cam.parent`` (or the camera
    frame when no transform is given). Raises ``NoDepthError`` when the depth around it is unusable.

    ``check_frames``: when the camera model and the transform both name their frame, they must be
    the same frame — a hand-eye result to ``camera_link`` applied to optical-frame points is off by a
    90° rotation, the classic sim-to-real mistake."""
    if check_frames and T_base_cam is not None and cam.name and T_base_cam.child != cam.name:
        raise CalibrationError(
            f"{T_base_cam.name} ends in frame {T_base_cam.child!r} but the camera model's points are in "
            f"{cam.name!r}; compose it with T_{T_base_cam.child}_{cam.name} (e.g. a camera_link -> optical "
            "static transform), or if both name the same optical frame set the camera's name "
            "(dataclasses.replace(cam, name=...)) or pass check_frames=False"
        )
    pixel = point_to_pixel(point, cam)
    z, n = robust_depth(depth_in_metres(depth, cam), pixel, cfg)
    p_cam = deproject(pixel, [z], cam)[0]
    if T_base_cam is None:
        p_base, frame = p_cam, cam.name or "camera"
    else:
        p_base, frame = T_base_cam.apply(p_cam), T_base_cam.parent
    return LiftedPoint(
        point=(float(point[0]), float(point[1])),
        pixel=(float(pixel[0]), float(pixel[1])),
        depth=z,
        valid_pixels=n,
        p_cam=p_cam,
        p_base=np.asarray(p_base, dtype=float),
        frame=frame,
    )


def relative_depth_image(depth: np.ndarray, cam: CameraModel | None = None, disparity: bool = True) -> np.ndarray:
    """Metric depth -> the (H, W, 3) uint8 relative-depth image RoboRefer's server feeds its VLM.

    RoboRefer's API/api.py (github.com/Zhoues/RoboRefer, ``/query``) runs Depth-Anything-V2, whose
    relative output is disparity-like (near = large), then ``(d − min) / (max − min) · 255``,
    ``astype(uint8)`` (truncation) and repeats it to 3 channels. To match that from a sensor's
    metric depth this takes ``1/z`` (``disparity=True``; ``False`` normalizes z itself, near = dark)
    over the valid pixels and gives invalid ones (0, NaN) the far end (0 for disparity, 255 for
    depth). A constant image maps to 0."""
    d = depth_in_metres(depth, cam) if cam is not None else np.asarray(depth, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"depth must be an (H, W) image, got shape {d.shape}")
    valid = np.isfinite(d) & (d > 0)
    out = np.full(d.shape, 0.0 if disparity else 255.0)
    if valid.any():
        out[valid] = 0.0
        vals = 1.0 / d[valid] if disparity else d[valid]
        lo, hi = vals.min(), vals.max()
        if hi > lo:
            out[valid] = (vals - lo) / (hi - lo) * 255.0
    img = out.astype(np.uint8)
    return np.repeat(img[..., None], 3, axis=-1)


@dataclass(frozen=True, eq=False)
class Calibration:
    """A camera and where it is: what a deployment loads once and lifts every point with."""

    camera: CameraModel
    hand_eye: HandEye

    def lift(self, point, depth: np.ndarray, T_base_tcp: Transform | None = None, cfg: DepthConfig = DepthConfig()):
        """``lift_point`` into the robot base frame; an eye-in-hand camera needs the current TCP pose."""
        return lift_point(point, depth, self.camera, self.hand_eye.T_base_cam(T_base_tcp), cfg)

    @classmethod
    def from_sim(cls, env, camera: str = "agent", base_body: str = "robot/base") -> Calibration:
        """The sim camera of a reset roboref env, fixed in ``base_body``'s frame (eye to hand)."""
        u = env.unwrapped
        K, _ = u.sim.camera_pose(camera)
        w, h = u.config.image_size
        cam = camera_from_sim(K, w, h, name=camera)
        return cls(cam, HandEye(sim_T_base_cam(u, camera, base_body), eye_in_hand=False))


def load_calibration(
    camera: str | Path,
    extrinsics: str | Path | Sequence[str],
    stream_size: tuple[int, int] | None = None,
    on_mismatch: str = "refuse",
    eye_in_hand: bool = False,
    frames: tuple[str, str] | None = None,
) -> Calibration:
    """A ``Calibration`` from files: ``camera`` is any file ``load_camera`` reads; ``extrinsics`` an
    easy_handeye YAML (it says eye in hand or not), a 4×4 ``.json``/``.npy`` (``frames`` =
    (parent, child) for a ``.npy``), or tf2 ``static_transform_publisher`` arguments (a string with
    spaces, or a list). ``eye_in_hand`` applies to the last two kinds. ``stream_size`` (w, h) checks
    the camera against the stream (``on_mismatch``: ``refuse`` or ``rescale``)."""
    cam = load_camera(camera)
    if stream_size is not None:
        cam = cam.for_stream(int(stream_size[0]), int(stream_size[1]), on_mismatch)
    if not isinstance(extrinsics, (str, Path)) or (isinstance(extrinsics, str) and " " in extrinsics.strip()):
        he = HandEye(from_static_transform_args(extrinsics), eye_in_hand)
    elif Path(extrinsics).suffix.lower() in (".yaml", ".yml"):
        he = load_easy_handeye(extrinsics)
    else:
        parent, child = frames or (None, None)
        he = HandEye(load_transform(extrinsics, parent, child), eye_in_hand)
    return Calibration(cam, he)
