"""Camera intrinsics of a real (or simulated) RGB-D camera: one record, ``CameraModel``, and loaders.

A deployment looks through a camera that someone calibrated with ROS, OpenCV or the RealSense
SDK; each tool writes its own file. The loaders turn them all into one ``CameraModel`` so that
lifting (``roboref.deploy.lifting``) has a single code path, and they fail loudly, naming the file
and the field, because a silently wrong ``K`` moves a robot to the wrong place.

Pixel convention: the OpenCV / ROS / RealSense one, where the integer pixel ``(i, j)`` is the
*centre* of the pixel in column ``i``, row ``j``. roboref's sim uses continuous coordinates (pixel
centres at ``i + 0.5``); ``camera_from_sim`` converts. Frame: OpenCV optical (x right, y down,
z forward). Depth: a raw integer image times ``depth_scale`` is metres; a float image is metres.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from roboref.deploy.fileformats import CalibrationError, as_matrix, need_field, positive_int, read_mapping

_log = logging.getLogger(__name__)

#: Distortion models (ROS names) and coefficient counts; ``_ALIASES`` maps RealSense / OpenCV names.
#: ``inverse_brown_conrady`` is RealSense's own model (its coefficients undistort).
DISTORTION_MODELS: dict[str, tuple[int, ...]] = {
    "none": (0,),
    "plumb_bob": (4, 5),  # k1 k2 p1 p2 [k3]
    "rational_polynomial": (8,),  # k1 k2 p1 p2 k3 k4 k5 k6
    "equidistant": (4,),  # k1 k2 k3 k4 (OpenCV fisheye, Kannala-Brandt)
    "inverse_brown_conrady": (5,),
}
_ALIASES = {
    "brown_conrady": "plumb_bob",
    "radtan": "plumb_bob",
    "pinhole": "none",
    "kannala_brandt4": "equidistant",
    "fisheye": "equidistant",
    "kannala_brandt": "equidistant",
}

#: How to handle a calibration whose image size differs from the stream's.
ON_MISMATCH = ("refuse", "rescale")


def distortion_name(name: str, source: str = "camera") -> str:
    """The canonical distortion model name for a ROS / OpenCV / RealSense name (case-insensitive)."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    key = key.removeprefix("distortion.").removeprefix("rs2_distortion_")
    key = _ALIASES.get(key, key)
    if key not in DISTORTION_MODELS:
        if key in ("modified_brown_conrady", "ftheta"):
            raise CalibrationError(
                f"{source}: field 'distortion_model': {name!r} is not supported (a forward-distorted or "
                "f-theta image cannot be deprojected by roboref); stream an undistorted image instead"
            )
        known = ", ".join(sorted(set(DISTORTION_MODELS) | set(_ALIASES)))
        raise CalibrationError(f"{source}: field 'distortion_model': unknown model {name!r}; known: {known}")
    return key


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics plus lens distortion of one image stream (OpenCV pixel convention)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float = 0.0
    distortion_model: str = "none"
    distortion: tuple[float, ...] = ()
    depth_scale: float = 0.001  # metres per unit of a raw integer depth image (RealSense: 0.001)
    frame: str = "opencv_optical"  # x right, y down, z forward
    name: str = ""  # optical frame id ("" = unknown: lift_point cannot check it against T_base_cam)
    source: str = field(default="", compare=False)  # the file it came from, for error messages

    def __post_init__(self):
        src = self.source or self.name or "camera"
        model = distortion_name(self.distortion_model, src)
        coeffs = tuple(float(c) for c in self.distortion)
        if model == "none":
            if any(coeffs):
                raise CalibrationError(f"{src}: field 'distortion': non-zero coefficients with distortion model 'none'")
            coeffs = ()
        elif model == "plumb_bob" and len(coeffs) == 4:
            coeffs = (*coeffs, 0.0)
        elif model == "rational_polynomial" and len(coeffs) > 8 and not any(coeffs[8:]):
            coeffs = coeffs[:8]  # OpenCV's 12/14-term vectors with zero thin-prism/tilt terms
        elif model == "rational_polynomial" and len(coeffs) == 5:
            coeffs = (*coeffs, 0.0, 0.0, 0.0)
        counts = DISTORTION_MODELS[model]
        if len(coeffs) not in counts or (model == "plumb_bob" and len(coeffs) != 5):
            raise CalibrationError(
                f"{src}: field 'distortion': model {model!r} takes {' or '.join(map(str, counts))} "
                f"coefficients, got {len(coeffs)}"
            )
        object.__setattr__(self, "distortion_model", model)
        object.__setattr__(self, "distortion", coeffs)
        object.__setattr__(self, "width", positive_int(self.width, "width", src))
        object.__setattr__(self, "height", positive_int(self.height, "height", src))
        for name, value in [(n, float(getattr(self, n))) for n in ("fx", "fy", "cx", "cy", "skew", "depth_scale")]:
            if not math.isfinite(value) or (value <= 0 and name in ("fx", "fy", "depth_scale")):
                raise CalibrationError(f"{src}: field {name!r} must be finite (and fx, fy, depth_scale > 0): {value}")
            object.__setattr__(self, name, value)
        if not all(math.isfinite(c) for c in coeffs):
            raise CalibrationError(f"{src}: field 'distortion' has a non-finite coefficient: {coeffs}")
        if self.frame != "opencv_optical":
            raise CalibrationError(f"{src}: field 'frame': only 'opencv_optical' is supported, got {self.frame!r}")
        if not (0 <= self.cx <= self.width and 0 <= self.cy <= self.height):
            raise CalibrationError(
                f"{src}: field 'cx'/'cy': principal point ({self.cx}, {self.cy}) lies outside the "
                f"{self.width}x{self.height} image (width and height swapped, or K of another stream?)"
            )

    @property
    def K(self) -> np.ndarray:
        """The 3×3 intrinsic matrix (a fresh array)."""
        return np.array([[self.fx, self.skew, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def rescaled(self, width: int, height: int) -> CameraModel:
        """The same lens at another resolution (a resized stream of the same field of view).

        Uses the pixel-centre convention: ``c' = (c + 0.5)·s − 0.5``. Distortion is in normalized
        coordinates and does not change."""
        sx, sy = width / self.width, height / self.height
        if abs(sx - sy) > 1e-3 * max(sx, sy):
            raise CalibrationError(
                f"{self.source or 'camera'}: cannot rescale {self.width}x{self.height} to {width}x{height}: "
                f"the aspect ratio changes (x by {sx:.4f}, y by {sy:.4f}), so the stream is cropped, not resized"
            )
        return replace(
            self,
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            skew=self.skew * sx,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
        )

    def for_stream(self, width: int, height: int, on_mismatch: str = "refuse") -> CameraModel:
        """This model checked against a stream's image size: itself when they match; otherwise
        ``on_mismatch="rescale"`` rescales K (same aspect ratio only) and ``"refuse"`` raises.
        Either way the decision is explicit (the error says which option would apply)."""
        if on_mismatch not in ON_MISMATCH:
            raise ValueError(f"on_mismatch must be one of {ON_MISMATCH}, got {on_mismatch!r}")
        if (width, height) == (self.width, self.height):
            return self
        if on_mismatch == "rescale":
            _log.warning(
                "%s: calibrated for %dx%d, stream is %dx%d: rescaling K (on_mismatch='rescale')",
                self.source or "camera", self.width, self.height, width, height,
            )  # fmt: skip
            return self.rescaled(width, height)
        raise CalibrationError(
            f"{self.source or 'camera'}: field 'width'/'height': calibrated for {self.width}x{self.height} but the "
            f"stream is {width}x{height}; refusing (on_mismatch='refuse'). Calibrate at the stream's resolution, "
            "or pass on_mismatch='rescale' if the stream is the same lens resized"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["distortion"] = list(self.distortion)
        d.pop("source")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "") -> CameraModel:
        required = ("width", "height", "fx", "fy", "cx", "cy")
        for key in required:
            need_field(d, key, source or "camera dict")
        known = {f for f in cls.__dataclass_fields__ if f != "source"}
        extra = set(d) - known
        if extra:
            raise CalibrationError(f"{source or 'camera dict'}: unknown field(s) {sorted(extra)}")
        return cls(**{**d, "distortion": tuple(d.get("distortion", ()))}, source=source)


def _k_fields(K: np.ndarray, src: str, name: str = "camera_matrix") -> dict[str, float]:
    if abs(K[1, 0]) > 1e-9 or abs(K[2, 0]) > 1e-9 or abs(K[2, 1]) > 1e-9 or abs(K[2, 2] - 1.0) > 1e-9:
        raise CalibrationError(
            f"{src}: field {name!r} is not an intrinsic matrix (rows 2-3 must be [0 fy cy], [0 0 1])"
        )
    return {"fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "skew": K[0, 1]}


# --- loaders ----------------------------------------------------------------------------------------
def camera_from_ros(d: Mapping[str, Any], source: str = "CameraInfo", rectified: bool = False) -> CameraModel:
    """A ROS ``CameraInfo``: the calibration YAML (``camera_matrix``, ``distortion_model``,
    ``distortion_coefficients``, ``projection_matrix``) or a ROS 2 message dump (``k``, ``d``, ``p``).
    ``rectified=True`` is for ``image_rect`` streams: K comes from the projection matrix, no distortion."""
    src = source
    msg = "k" in d and "camera_matrix" not in d
    width = need_field(d, "width" if msg else "image_width", src)
    height = need_field(d, "height" if msg else "image_height", src)
    # The optical frame id where the file has one (a message's header; roboref's extra field), not
    # camera_name, which names the device: lift_point checks it against the hand-eye transform.
    name = str((d.get("header") or {}).get("frame_id") or d.get("frame_id") or "")
    if rectified:
        P = as_matrix(need_field(d, "p" if msg else "projection_matrix", src), (3, 4), src, "projection_matrix")
        kf, model, coeffs = _k_fields(P[:, :3], src, "projection_matrix"), "none", ()
    else:
        K = as_matrix(need_field(d, "k" if msg else "camera_matrix", src), (3, 3), src, "camera_matrix")
        kf = _k_fields(K, src)
        model = str(need_field(d, "distortion_model", src))
        coeffs = tuple(
            as_matrix(need_field(d, "d" if msg else "distortion_coefficients", src), None, src, "distortion").ravel()
        )
        if model in ("plumb_bob", "rational_polynomial") and not any(coeffs):
            model, coeffs = "none", ()
    return CameraModel(
        width=width, height=height, **kf, distortion_model=model, distortion=coeffs, name=name, source=src
    )


def camera_from_opencv(d: Mapping[str, Any], source: str = "OpenCV calibration") -> CameraModel:
    """An OpenCV calibration (cv::FileStorage YAML/JSON, or a plain dict of lists): ``camera_matrix``
    / ``cameraMatrix`` / ``K``, ``distortion_coefficients`` / ``dist_coeffs`` / ``D``, and the image size
    as ``image_width``/``image_height`` or ``image_size`` [w, h]. ``fisheye_model: 1`` or
    ``distortion_model: fisheye`` means OpenCV's fisheye (equidistant) model."""
    src = source
    K = as_matrix(need_field(d, "camera_matrix", src, "cameraMatrix", "K"), (3, 3), src, "camera_matrix")
    D = as_matrix(
        need_field(d, "distortion_coefficients", src, "dist_coeffs", "distCoeffs", "D"), None, src, "distortion"
    )
    if "image_width" in d or "image_height" in d:
        width, height = need_field(d, "image_width", src), need_field(d, "image_height", src)
    else:
        size = need_field(d, "image_size", src, "imageSize", "image_width")
        size = as_matrix(size, None, src, "image_size").ravel()
        if size.size != 2:
            raise CalibrationError(f"{src}: field 'image_size' must be [width, height], got {size.tolist()}")
        width, height = size
    coeffs = tuple(D.ravel())
    if "distortion_model" in d:
        model = str(d["distortion_model"])
    elif int(d.get("fisheye_model", 0) or 0):
        model = "equidistant"
    else:
        model = {0: "none", 4: "plumb_bob", 5: "plumb_bob", 8: "rational_polynomial"}.get(len(coeffs), "")
        if len(coeffs) in (12, 14) and not any(coeffs[8:]):
            model = "rational_polynomial"
        if not model:
            raise CalibrationError(
                f"{src}: field 'distortion_coefficients': {len(coeffs)} coefficients with non-zero thin-prism or "
                "tilt terms are not supported (use 4, 5 or 8 coefficients)"
            )
    if model != "equidistant" and coeffs and not any(coeffs):
        model, coeffs = "none", ()
    name = str(d.get("frame_id", ""))
    kf = _k_fields(K, src)
    return CameraModel(
        width=width, height=height, **kf, distortion_model=model, distortion=coeffs, name=name, source=src
    )


def camera_from_realsense(intrinsics: Any, depth_scale: float = 0.001, source: str = "pyrealsense2") -> CameraModel:
    """A ``pyrealsense2.intrinsics`` (a live stream profile's ``get_intrinsics()``) or a dict with the
    same fields (``width, height, fx, fy, ppx, ppy, model, coeffs``), e.g. dumped to JSON.
    ``depth_scale`` is the depth sensor's ``get_depth_scale()`` (metres per unit)."""

    def get(key: str) -> Any:
        if isinstance(intrinsics, Mapping):
            return need_field(intrinsics, key, source)
        if not hasattr(intrinsics, key):
            raise CalibrationError(f"{source}: field {key!r} is missing")
        return getattr(intrinsics, key)

    model = get("model")
    model = getattr(model, "name", model)  # a pyrealsense2.distortion enum has .name
    if isinstance(model, int):
        names = (
            "none",
            "modified_brown_conrady",
            "inverse_brown_conrady",
            "ftheta",
            "brown_conrady",
            "kannala_brandt4",
        )
        model = names[model] if 0 <= model < len(names) else str(model)
    model = distortion_name(str(model), source)
    coeffs = tuple(float(c) for c in get("coeffs"))
    if model == "equidistant":
        coeffs = coeffs[:4]
    if model in ("plumb_bob", "inverse_brown_conrady") and not any(coeffs):
        model, coeffs = "none", ()
    return CameraModel(
        width=get("width"),
        height=get("height"),
        fx=get("fx"),
        fy=get("fy"),
        cx=get("ppx"),
        cy=get("ppy"),
        distortion_model=model,
        distortion=coeffs,
        depth_scale=depth_scale,
        source=source,
    )


def camera_from_sim(
    observation: Mapping[str, Any] | np.ndarray, width: int = 0, height: int = 0, name: str = "agent"
) -> CameraModel:
    """A roboref sim camera, from an env observation (``intrinsics`` and the image size) or from
    ``K`` with its size. The sim's K uses continuous pixel coordinates; this shifts the principal
    point by half a pixel into the OpenCV convention. Its depth is float metres (``depth_scale=1``).
    ``name`` is the model camera's (``agent``, as ``sim_T_base_cam`` names the frame)."""
    if isinstance(observation, Mapping):
        K = as_matrix(need_field(observation, "intrinsics", "observation"), (3, 3), "observation", "intrinsics")
        height, width = np.asarray(need_field(observation, "depth", "observation", "rgb")).shape[:2]
    else:
        K = as_matrix(observation, (3, 3), "sim camera", "K")
    kf = _k_fields(K.astype(float), "sim camera", "intrinsics")
    kf["cx"] -= 0.5
    kf["cy"] -= 0.5
    return CameraModel(width=width, height=height, **kf, depth_scale=1.0, name=name, source="sim camera")


def load_camera(path: str | Path, kind: str = "auto", rectified: bool = False, depth_scale: float | None = None):
    """A ``CameraModel`` from a file: ``kind`` is ``ros``, ``opencv``, ``realsense``, ``roboref`` or
    ``auto`` (told apart by their fields). ``depth_scale`` overrides the file's (or the 0.001 default)."""
    src = str(path)
    d = read_mapping(path)
    if kind == "auto":
        if "fx" in d and "cx" in d:
            kind = "roboref"
        elif "ppx" in d or "intrinsics" in d:
            kind = "realsense"
        elif "camera_matrix" in d and "image_width" in d and "distortion_model" in d or "k" in d:
            kind = "ros"
        elif any(k in d for k in ("camera_matrix", "cameraMatrix", "K")):
            kind = "opencv"
        else:
            raise CalibrationError(
                f"{src}: not a known calibration format: expected 'camera_matrix' (ROS / OpenCV), 'k' (ROS 2 "
                f"CameraInfo), 'ppx' (pyrealsense2) or 'fx'/'cx' (roboref); found fields {sorted(d)}"
            )
    if kind == "roboref":
        cam = CameraModel.from_dict(d, source=src)
    elif kind == "ros":
        cam = camera_from_ros(d, src, rectified=rectified)
    elif kind == "opencv":
        cam = camera_from_opencv(d, src)
    elif kind == "realsense":
        intr = d.get("intrinsics", d)
        cam = camera_from_realsense(intr, float(d.get("depth_scale", 0.001)), source=src)
    else:
        raise ValueError(f"kind must be auto, ros, opencv, realsense or roboref, got {kind!r}")
    if depth_scale is None and kind in ("ros", "opencv") and "depth_scale" in d:
        depth_scale = float(d["depth_scale"])  # roboref's extra field in a saved CameraInfo YAML
    return cam if depth_scale is None else replace(cam, depth_scale=depth_scale)


def save_camera(cam: CameraModel, path: str | Path) -> Path:
    """Write ``cam``: ``.json`` as roboref's record, ``.yaml``/``.yml`` as a ROS CameraInfo YAML
    (readable by ``camera_calibration_parsers``; the depth scale is kept in an extra field)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(cam.to_dict(), indent=2) + "\n")
        return p
    if p.suffix.lower() not in (".yaml", ".yml"):
        raise ValueError(f"{p}: save a camera as .json (roboref) or .yaml (ROS CameraInfo)")
    K = cam.K
    model = "plumb_bob" if cam.distortion_model == "none" else cam.distortion_model
    if model == "inverse_brown_conrady":
        raise CalibrationError(f"{p}: ROS CameraInfo has no 'inverse_brown_conrady' model; save as .json")
    coeffs = list(cam.distortion) or [0.0] * 5
    P = np.hstack([K, np.zeros((3, 1))])
    d = {
        "image_width": cam.width,
        "image_height": cam.height,
        "camera_name": cam.name or "camera",
        "frame_id": cam.name,  # roboref's extra field: the optical frame (ROS parsers ignore it)
        "camera_matrix": {"rows": 3, "cols": 3, "data": K.ravel().tolist()},
        "distortion_model": model,
        "distortion_coefficients": {"rows": 1, "cols": len(coeffs), "data": coeffs},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": np.eye(3).ravel().tolist()},
        "projection_matrix": {"rows": 3, "cols": 4, "data": P.ravel().tolist()},
        "depth_scale": cam.depth_scale,
    }
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p
