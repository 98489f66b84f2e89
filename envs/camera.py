"""Cameras: intrinsics/extrinsics, ``project``/``unproject``, and a fast RGB-D-segmentation renderer.

Conventions (DESIGN.md): ``K`` is 3×3 in pixels for continuous pixel coordinates (pixel ``(i, j)``
covers ``[i, i+1) × [j, j+1)``, so its centre is ``(i + 0.5, j + 0.5)``); ``T_world_cam`` is 4×4 in
the OpenCV convention (x right, y down, z forward). Depth is z-depth in metres (float32).
A normalized point ``(x, y) ∈ [0, 1]²`` is the pixel coordinate ``(x·W, y·H)``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import mujoco
import numpy as np

#: MuJoCo's camera looks along -z with y up; OpenCV's along +z with y down.
_MJ_TO_CV = np.diag([1.0, -1.0, -1.0])

#: Segmentation labels that are not scene objects (objects are 1..N in scene order).
SEG_BACKGROUND = 0
SEG_TABLE = 254
SEG_ROBOT = 255


@dataclass(frozen=True)
class CameraSpec:
    """A fixed camera looking from ``pos`` at ``lookat`` (world, metres), ``fovy`` in degrees."""

    name: str
    pos: tuple[float, float, float]
    lookat: tuple[float, float, float]
    fovy: float = 55.0
    width: int = 224
    height: int = 224

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera {self.name!r}: image size must be positive, got {self.width}x{self.height}")
        if not 1.0 <= self.fovy <= 170.0:
            raise ValueError(f"camera {self.name!r}: fovy must be in [1, 170] degrees, got {self.fovy}")
        if np.linalg.norm(np.subtract(self.lookat, self.pos)) < 1e-6:
            raise ValueError(f"camera {self.name!r}: pos and lookat coincide")

    def mj_quat(self) -> np.ndarray:
        """Orientation of the MuJoCo camera frame (w, x, y, z)."""
        fwd = np.subtract(self.lookat, self.pos, dtype=float)
        fwd /= np.linalg.norm(fwd)
        up = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.999 else np.array([1.0, 0.0, 0.0])
        right = np.cross(fwd, up)
        right /= np.linalg.norm(right)
        cam_up = np.cross(right, fwd)
        mat = np.column_stack([right, cam_up, -fwd])
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, mat.ravel())
        return quat

    @property
    def K(self) -> np.ndarray:
        return intrinsics(self.fovy, self.width, self.height)

    @property
    def T_world_cam(self) -> np.ndarray:
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, self.mj_quat())
        return extrinsics(np.asarray(self.pos, float), mat.reshape(3, 3))

    def to_dict(self) -> dict:
        # its fields are immutable (str, numbers, tuples of numbers): no deep copy needed
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> CameraSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def intrinsics(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """Pinhole ``K`` of a MuJoCo camera (square pixels, principal point at the image centre)."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def extrinsics(cam_pos: np.ndarray, cam_mat: np.ndarray) -> np.ndarray:
    """``T_world_cam`` (OpenCV axes) from a MuJoCo camera's world position and 3×3 rotation."""
    T = np.eye(4)
    T[:3, :3] = np.asarray(cam_mat).reshape(3, 3) @ _MJ_TO_CV
    T[:3, 3] = cam_pos
    return T


def model_intrinsics(model: mujoco.MjModel, cam_id: int, width: int, height: int) -> np.ndarray:
    """``K`` that MuJoCo renders camera ``cam_id`` with at ``width`` × ``height``: from ``fovy``,
    or, once ``cam_sensorsize`` is set (randomized intrinsics), from ``cam_intrinsic`` = [fx, fy,
    px, py] in sensor length units, where MuJoCo (4.0, measured) draws the principal point at
    ``(W/2 - px, H/2 - py)`` in pixels (``set_intrinsics`` writes that form)."""
    sw, sh = (float(v) for v in model.cam_sensorsize[cam_id])
    if sw <= 0 or sh <= 0:
        return intrinsics(float(model.cam_fovy[cam_id]), width, height)
    fx, fy, px, py = (float(v) for v in model.cam_intrinsic[cam_id])
    sx, sy = width / sw, height / sh
    return np.array([[fx * sx, 0.0, width / 2 - px * sx], [0.0, fy * sy, height / 2 - py * sy], [0.0, 0.0, 1.0]])


def set_intrinsics(model: mujoco.MjModel, cam_id: int, K: np.ndarray, width: int, height: int) -> None:
    """Make MuJoCo render camera ``cam_id`` with pinhole ``K`` (pixels at ``width`` × ``height``),
    principal point anywhere: through ``cam_sensorsize``/``cam_intrinsic`` (``fovy`` is then unused).
    ``model_intrinsics`` reads it back."""
    pixel = 1e-5  # sensor length units per pixel: any positive scale renders the same
    model.cam_sensorsize[cam_id] = [width * pixel, height * pixel]
    model.cam_intrinsic[cam_id] = [
        K[0, 0] * pixel,
        K[1, 1] * pixel,
        (width / 2 - K[0, 2]) * pixel,
        (height / 2 - K[1, 2]) * pixel,
    ]


def camera_pose(model: mujoco.MjModel, data: mujoco.MjData, camera: str) -> tuple[np.ndarray, np.ndarray]:
    """``(K, T_world_cam)`` of a model camera as the simulation currently has it."""
    cam = model.camera(camera)
    w, h = int(model.cam_resolution[cam.id][0]), int(model.cam_resolution[cam.id][1])
    K = model_intrinsics(model, cam.id, w, h)
    return K, extrinsics(data.cam_xpos[cam.id], data.cam_xmat[cam.id])


def project(points: np.ndarray, K: np.ndarray, T_world_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) -> continuous pixel coordinates (N, 2) and z-depth (N,)."""
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    R, t = T_world_cam[:3, :3], T_world_cam[:3, 3]
    cam = (pts - t) @ R  # R^T (p - t), row-wise
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam[:, :2] / z[:, None]) * np.diag(K)[:2] + K[:2, 2]
    return uv, z


def unproject(uv: np.ndarray, depth: np.ndarray, K: np.ndarray, T_world_cam: np.ndarray) -> np.ndarray:
    """Continuous pixel coordinates (N, 2) with z-depth (N,) -> world points (N, 3)."""
    uv = np.atleast_2d(np.asarray(uv, dtype=float))
    z = np.asarray(depth, dtype=float).reshape(-1)
    xy = (uv - K[:2, 2]) / np.diag(K)[:2] * z[:, None]
    cam = np.column_stack([xy, z])
    return cam @ T_world_cam[:3, :3].T + T_world_cam[:3, 3]


def point_to_pixel(point, width: int, height: int) -> tuple[int, int]:
    """Normalized ``(x, y)`` -> integer pixel ``(col, row)``, clamped inside the image."""
    col = min(max(int(point[0] * width), 0), width - 1)
    row = min(max(int(point[1] * height), 0), height - 1)
    return col, row


def gl_context_class():
    """The GL context class for ``$MUJOCO_GL`` (default ``egl``), chosen here rather than at
    ``import mujoco`` so that importing mujoco before roboref still renders headless."""
    backend = os.environ.get("MUJOCO_GL", "egl").lower()
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    elif backend == "glfw":
        from mujoco.glfw import GLContext
    else:
        raise ValueError(f"MUJOCO_GL={backend!r} is not supported; use egl, osmesa or glfw")
    return GLContext


@dataclass
class Frame:
    """One camera's images: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 m, ``seg`` (H, W) uint8."""

    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    seg: np.ndarray | None = None


class Renderer:
    """Offscreen MuJoCo renderer with one GL context for the life of an env.

    RGB and depth come from one render pass (``mjr_readPixels`` reads both buffers). Segmentation
    costs a fraction of a pass (``seg_mode="split"``, the default, when the model has a
    ``split_group``): the heavy geoms (the robot's meshes, most of a frame's triangles) all carry
    one label, so a second, ID-coloured pass draws only the *other* geoms, and a pixel whose depth
    there differs from the full pass's depth shows a heavy geom. Both passes draw each geom with
    the same transforms, so their depths agree bit for bit wherever the same geom wins; exact depth
    ties can only arise where a heavy geom's box meets that of a geom drawn before it, and then
    (and for transparent geoms or ``quality``) the full two-pass reference is used
    (``seg_mode="two_pass"``; tests/test_segmentation.py holds the two bit-identical). With a
    spare core (``seg_thread=None``: ``segmentation.spare_core()``), the split pass is drawn on its
    own thread and GL context while this one draws the full pass (``segmentation.SegThread``).
    Fast defaults: no shadows, reflections, skybox or multisampling. ``quality=True`` turns
    shadows, reflections and 4× multisampling on for video.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        geom_labels: np.ndarray,
        quality: bool = False,
        max_geom: int = 2000,
        split_group: int | None = None,
        seg_mode: str = "split",
        seg_thread: bool | None = None,
    ):
        if seg_mode not in ("split", "two_pass"):
            raise ValueError(f"seg_mode must be 'split' or 'two_pass', got {seg_mode!r}")
        self.model = model
        self.geom_labels = np.asarray(geom_labels, dtype=np.uint8)
        self.quality = quality
        self.seg_mode = seg_mode
        #: How the last segmentation was made: "split" or "two_pass" (the fallback), for tests.
        self.last_seg_mode = ""
        # Primitive tessellation is baked into the GL context: coarse slices halve the triangle
        # count of the cluttered table (measured 114 -> 165 fps RGB-D+seg at 224², UR5e).
        model.vis.quality.offsamples = 4 if quality else 0
        model.vis.quality.numslices = 28 if quality else 14
        model.vis.quality.numstacks = 16 if quality else 7
        w, h = int(model.vis.global_.offwidth), int(model.vis.global_.offheight)
        self._gl = gl_context_class()(w, h)
        self._gl.make_current()
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._scene = mujoco.MjvScene(model, maxgeom=max_geom)
        self._opt = mujoco.MjvOption()
        self._opt.geomgroup[:] = [1, 1, 1, 0, 0, 0]  # hide collision-only (3) and inactive (5)
        flags = self._scene.flags
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
            flags[flag] = quality
        flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        from roboref.envs.segmentation import SegThread, SplitSeg, spare_core

        self._split = None if quality else SplitSeg.make(model, self.geom_labels, split_group, self._opt, max_geom)
        self._seg_thread = None
        if self._split is not None:
            self._split.scene.flags[:] = flags[:]
            self._split.scene.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
            self._split.scene.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
            if spare_core() if seg_thread is None else seg_thread:
                self._seg_thread = SegThread(model, w, h)

    def render(
        self,
        data: mujoco.MjData,
        camera: str,
        width: int,
        height: int,
        rgb: bool = True,
        depth: bool = True,
        seg: bool = False,
    ) -> Frame:
        """Render one camera; returns fresh arrays (safe to keep)."""
        model = self.model
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            raise ValueError(
                f"image {width}x{height} exceeds the offscreen buffer "
                f"{model.vis.global_.offwidth}x{model.vis.global_.offheight}"
            )
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cam_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"unknown camera {camera!r}; cameras: {', '.join(names)}")
        self._gl.make_current()
        self._cam.fixedcamid = cam_id
        mujoco.mjv_updateScene(model, data, self._opt, None, self._cam, mujoco.mjtCatBit.mjCAT_ALL, self._scene)
        rect = mujoco.MjrRect(0, 0, width, height)
        out = Frame()
        thread = self._seg_thread
        split = seg and self.seg_mode == "split" and self._split is not None
        # the split pass (its applicability checks included) runs on its own thread and context
        # while this one draws the full pass; without a thread, after it
        split = split and (thread is not None or self._split.applies(data, cam_id))
        if split:
            sp, cam = self._split, self._cam
            sp.update(data, cam)
            ids, split_depth = sp.buffers(width, height)

            def split_pass(con):
                if thread is not None and not sp.applies(data, cam_id):
                    return None
                sp.draw(rect, con, ids, split_depth)
                return sp.labels_from_ids(data, cam_id, rect, ids)

            if thread is not None:
                thread.submit(split_pass)
        if rgb or depth or split:
            rgb_buf = np.empty((height, width, 3), np.uint8) if rgb else None
            depth_buf = np.empty((height, width), np.float32) if (depth or split) else None
            mujoco.mjr_render(rect, self._scene, self._con)
            mujoco.mjr_readPixels(rgb_buf, depth_buf, rect, self._con)
            if rgb:
                out.rgb = np.ascontiguousarray(rgb_buf[::-1])
            if depth:
                out.depth = self._metric_depth(depth_buf[::-1])
        if split:
            part = thread.wait() if thread is not None else split_pass(self._con)
            if part is not None:
                out.seg = sp.resolve(part, depth_buf, split_depth)
            if out.seg is not None:
                self.last_seg_mode = "split"
        if seg and out.seg is None:
            out.seg = self.render_seg_two_pass(rect, width, height)
            self.last_seg_mode = "two_pass"
        return out

    def _metric_depth(self, buf: np.ndarray) -> np.ndarray:
        """Reverse-Z depth buffer in [0, 1] -> z-depth in metres (as mujoco.Renderer does it)."""
        extent = self.model.stat.extent
        znear = np.float32(self.model.vis.map.znear * extent)
        zfar = np.float32(self.model.vis.map.zfar * extent)
        c = -(zfar + znear) / (zfar - znear)
        d = -(np.float32(2) * zfar * znear) / (zfar - znear)
        c = np.float32(-0.5) * c - np.float32(0.5)
        d = np.float32(-0.5) * d
        z = buf.astype(np.float64)  # float64 as before, in place: the same values, fewer copies
        z += c
        np.divide(d, z, out=z)
        return z.astype(np.float32)

    def render_seg_two_pass(self, rect: mujoco.MjrRect, width: int, height: int) -> np.ndarray:
        """The reference segmentation: the scene as last updated, every geom drawn in ID colours."""
        flags = self._scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
        flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
        try:
            mujoco.mjr_render(rect, self._scene, self._con)
        finally:
            flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = False
            flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = False
        buf = np.empty((height, width, 3), np.uint8)
        mujoco.mjr_readPixels(buf, None, rect, self._con)
        ids = buf[::-1].astype(np.int32)
        segid = ids[..., 0] | (ids[..., 1] << 8) | (ids[..., 2] << 16)
        lut = np.zeros(self._scene.ngeom + 1, np.uint8)
        geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
        for g in self._scene.geoms[: self._scene.ngeom]:
            if g.segid >= 0 and int(g.objtype) == geom_type:
                lut[g.segid + 1] = self.geom_labels[g.objid]
        return lut[np.minimum(segid, self._scene.ngeom)]

    def upload_texture(self, texid: int) -> None:
        """Send texture ``texid``'s pixels, rewritten in ``model.tex_data``, to the GL context."""
        self._gl.make_current()
        mujoco.mjr_uploadTexture(self.model, self._con, texid)
        if self._seg_thread is not None:
            self._seg_thread.upload_texture(texid)

    def close(self) -> None:
        self._split = None
        if getattr(self, "_seg_thread", None) is not None:
            self._seg_thread.close()
            self._seg_thread = None
        if self._con is not None:
            self._gl.make_current()
            self._con.free()
            self._con = None
            self._gl.free()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
