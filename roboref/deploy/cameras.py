"""Camera sources for ``roboref deploy``: one RGB-D frame at a time, with the model that took it.

Three sources give the same ``CameraFrame`` (RGB uint8, depth in metres aligned to the colour
image, 0 where the sensor saw nothing, and the colour stream's ``CameraModel``):

- ``SimCamera``: the agent camera of a roboref env, through the RealSense-like depth-noise model
  (``roboref.envs.sensors``), so ``mode=sim`` sees what a real sensor would give;
- ``FolderCamera``: recorded frames on disk (``rgb/*.png`` and 16-bit ``depth/*.png`` in units of
  the calibration's ``depth_scale``, paired by sorted name), with their calibration file;
- ``RealSenseCamera``: a live Intel RealSense through ``pyrealsense2`` (``pip install
  'roboref[realsense]'``): depth aligned to colour with ``rs.align``, the device's depth scale,
  and the colour stream's intrinsics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from roboref.deploy.calibration import CameraModel, camera_from_realsense, camera_from_sim, load_camera


@dataclass(frozen=True, eq=False)
class CameraFrame:
    """One aligned RGB-D frame: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres (0: no
    data), the colour stream's ``camera`` model and the capture time (s)."""

    rgb: np.ndarray
    depth: np.ndarray
    camera: CameraModel
    stamp: float
    source: str = ""

    def observation(self, instruction: str) -> dict[str, Any]:
        """The env-shaped observation an agent reads (``intrinsics`` in the sim's continuous-pixel
        convention, the inverse of ``camera_from_sim``; no extrinsics on a real camera)."""
        K = self.camera.K
        K[0, 2] += 0.5
        K[1, 2] += 0.5
        return {
            "rgb": self.rgb,
            "depth": self.depth,
            "instruction": instruction,
            "intrinsics": K.astype(np.float32),
            "extrinsics": np.eye(4, dtype=np.float32),
        }


class CameraSource(Protocol):
    def read(self) -> CameraFrame: ...

    def close(self) -> None: ...


class SimCamera:
    """The agent camera of a roboref env (``env.unwrapped``'s last frame), depth made noisy by
    ``noise`` (a ``DepthNoiseConfig``, a preset name or ``None`` for exact depth)."""

    def __init__(self, env: Any, noise: Any = "realsense", rng: np.random.Generator | None = None):
        from roboref.envs.sensors import DepthNoiseConfig

        self.env = env
        self.noise = DepthNoiseConfig.from_any(noise) if noise is not None else DepthNoiseConfig()
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def read(self) -> CameraFrame:
        from roboref.envs.sensors import apply_depth_noise

        u = self.env.unwrapped
        frame = u.sim.render(u.config.camera, seg=False)
        depth = apply_depth_noise(frame.depth.astype(np.float32), self.rng, self.noise)
        K, _ = u.sim.camera_pose(u.config.camera)
        cam = camera_from_sim(K, frame.rgb.shape[1], frame.rgb.shape[0], name=u.config.camera)
        return CameraFrame(frame.rgb, depth, cam, float(u.sim.data.time), "sim")

    def close(self) -> None:
        pass


class FolderCamera:
    """Recorded frames: ``folder/rgb/*.png`` and ``folder/depth/*.png`` (16-bit, raw units) paired
    by sorted file name, and the calibration ``folder/camera.{yaml,json}`` (or ``calibration``)."""

    def __init__(self, folder: str | Path, calibration: str | Path | None = None):
        import imageio.v3 as iio

        self._iio = iio
        self.folder = Path(folder)
        rgbs = sorted((self.folder / "rgb").glob("*.png"))
        depths = sorted((self.folder / "depth").glob("*.png"))
        if not rgbs:
            raise FileNotFoundError(f"{self.folder}: no recorded frames (expected rgb/*.png and depth/*.png)")
        if [p.name for p in rgbs] != [p.name for p in depths]:
            raise ValueError(
                f"{self.folder}: rgb/ and depth/ must hold the same file names (one depth per colour frame)"
            )
        if calibration is None:
            found = [p for p in (self.folder / "camera.yaml", self.folder / "camera.json") if p.exists()]
            if not found:
                raise FileNotFoundError(
                    f"{self.folder}: no calibration (camera.yaml or camera.json); pass calibration="
                )
            calibration = found[0]
        self.camera = load_camera(calibration)
        self.pairs = list(zip(rgbs, depths, strict=True))
        self.index = 0

    def read(self) -> CameraFrame:
        if self.index >= len(self.pairs):
            raise StopIteration(f"{self.folder}: all {len(self.pairs)} recorded frames read")
        rgb_path, depth_path = self.pairs[self.index]
        self.index += 1
        rgb = np.asarray(self._iio.imread(rgb_path))[..., :3]
        raw = np.asarray(self._iio.imread(depth_path))
        if raw.dtype != np.uint16:
            raise ValueError(f"{depth_path}: depth must be a 16-bit PNG in units of depth_scale, got {raw.dtype}")
        cam = self.camera.for_stream(rgb.shape[1], rgb.shape[0])
        if raw.shape != rgb.shape[:2]:
            raise ValueError(f"{depth_path}: depth {raw.shape} is not aligned to colour {rgb.shape[:2]}")
        depth = (raw.astype(np.float64) * cam.depth_scale).astype(np.float32)
        return CameraFrame(np.ascontiguousarray(rgb, np.uint8), depth, cam, time.time(), str(rgb_path))

    def close(self) -> None:
        pass


class RealSenseCamera:
    """A live RealSense: colour (rgb8) and depth (z16) at ``width``×``height`` and ``fps``, depth
    aligned to colour, scaled by the device's depth scale."""

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30, timeout_ms: int = 5000):
        try:
            import pyrealsense2 as rs
        except ImportError as err:
            raise ImportError(
                "camera=realsense needs pyrealsense2: pip install 'roboref[realsense]' "
                "(and the Debian package libusb-1.0-0)"
            ) from err
        self.rs, self.timeout_ms = rs, timeout_ms
        self.pipeline = rs.pipeline()
        config = rs.config()
        config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
        config.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
        try:
            profile = self.pipeline.start(config)
        except RuntimeError as err:
            raise RuntimeError(f"RealSense: could not start {width}x{height}@{fps} colour+depth: {err}") from err
        self.depth_scale = float(profile.get_device().first_depth_sensor().get_depth_scale())
        self.align = rs.align(rs.stream.color)
        intr = profile.get_stream(rs.stream.color).as_video_stream_profile().get_intrinsics()
        self.camera = camera_from_realsense(intr, self.depth_scale)

    def read(self) -> CameraFrame:
        frames = self.align.process(self.pipeline.wait_for_frames(self.timeout_ms))
        color, depth = frames.get_color_frame(), frames.get_depth_frame()
        if not color or not depth:
            raise RuntimeError("RealSense: a frame set without colour or depth")
        rgb = np.asanyarray(color.get_data()).copy()
        d = (np.asanyarray(depth.get_data()).astype(np.float64) * self.depth_scale).astype(np.float32)
        return CameraFrame(rgb, d, self.camera, color.get_timestamp() / 1e3, "realsense")

    def close(self) -> None:
        self.pipeline.stop()
