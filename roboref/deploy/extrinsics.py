"""Named rigid transforms ``T_parent_child`` and the hand-eye / tf2 files they come from.

``T_parent_child`` maps points in ``child`` coordinates to ``parent`` coordinates
(``p_parent = T_parent_child · p_child``). Composition checks the names (``T_a_b @ T_b_c`` is
``T_a_c``; ``T_a_b @ T_c_d`` is an error), because a transposed or inverted hand-eye result is the
classic way to send a real robot to a mirrored target. Rotations are validated: not orthonormal
(beyond what printed decimals explain) or det ≠ +1 is a ``CalibrationError``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from roboref.deploy.fileformats import CalibrationError, need_field, read_mapping

#: ‖RᵀR − I‖∞ allowed before a rotation is refused; smaller deviations (files printed with 4–6
#: decimals) are projected onto the nearest rotation.
ORTHONORMAL_TOL = 1e-3


def check_rotation(R: np.ndarray, source: str = "transform", name: str = "rotation") -> np.ndarray:
    """``R`` as an exact rotation (nearest by SVD) after checking it is one to ``ORTHONORMAL_TOL``."""
    R = np.asarray(R, dtype=float)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise CalibrationError(f"{source}: field {name!r} must be a finite 3×3 rotation, got shape {R.shape}")
    err = float(np.abs(R.T @ R - np.eye(3)).max())
    if err > ORTHONORMAL_TOL:
        raise CalibrationError(
            f"{source}: field {name!r} is not orthonormal (max |RᵀR − I| = {err:.3g} > {ORTHONORMAL_TOL}): "
            "not a rigid transform (scaled, sheared, or the wrong matrix)"
        )
    det = float(np.linalg.det(R))
    if det < 0:
        raise CalibrationError(
            f"{source}: field {name!r} has det = {det:.4f}: a reflection, not a rotation (a flipped axis or a "
            "left-handed frame convention)"
        )
    U, _, Vt = np.linalg.svd(R)
    return U @ Vt


@dataclass(frozen=True, eq=False)
class Transform:
    """``T_parent_child``: a rigid 4×4 transform with the names of the two frames."""

    parent: str
    child: str
    matrix: np.ndarray
    source: str = ""

    def __post_init__(self):
        src = self.source or f"T_{self.parent}_{self.child}"
        if not self.parent or not self.child:
            raise CalibrationError(
                f"{src}: a transform needs both frame names (parent={self.parent!r}, child={self.child!r})"
            )
        T = np.asarray(self.matrix, dtype=float)
        if T.shape != (4, 4):
            raise CalibrationError(f"{src}: field 'matrix' must be 4×4, got shape {T.shape}")
        if not np.all(np.isfinite(T)):
            raise CalibrationError(f"{src}: field 'matrix' has non-finite values")
        if np.abs(T[3] - [0.0, 0.0, 0.0, 1.0]).max() > 1e-9:
            raise CalibrationError(f"{src}: field 'matrix' last row must be [0 0 0 1], got {T[3].tolist()}")
        T = T.copy()
        T[:3, :3] = check_rotation(T[:3, :3], src, "matrix[:3, :3]")
        T.flags.writeable = False
        object.__setattr__(self, "matrix", T)

    @property
    def name(self) -> str:
        return f"T_{self.parent}_{self.child}"

    @property
    def R(self) -> np.ndarray:
        return self.matrix[:3, :3].copy()

    @property
    def t(self) -> np.ndarray:
        return self.matrix[:3, 3].copy()

    def inverse(self) -> Transform:
        R, t = self.matrix[:3, :3], self.matrix[:3, 3]
        T = np.eye(4)
        T[:3, :3] = R.T
        T[:3, 3] = -R.T @ t
        return Transform(self.child, self.parent, T)

    def __matmul__(self, other: Transform) -> Transform:
        if not isinstance(other, Transform):
            return NotImplemented
        if self.child != other.parent:
            raise CalibrationError(
                f"cannot compose {self.name} · {other.name}: frame {self.child!r} ≠ {other.parent!r} "
                "(T_a_b · T_b_c = T_a_c)"
            )
        return Transform(self.parent, other.child, self.matrix @ other.matrix)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Points (N, 3) or (3,) in ``child`` coordinates -> the same points in ``parent`` coordinates."""
        p = np.asarray(points, dtype=float)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def allclose(self, other: Transform, atol: float = 1e-9) -> bool:
        return (self.parent, self.child) == (other.parent, other.child) and np.allclose(
            self.matrix, other.matrix, atol=atol
        )

    def quaternion_xyzw(self) -> np.ndarray:
        return Rotation.from_matrix(self.matrix[:3, :3]).as_quat()

    def to_dict(self) -> dict[str, Any]:
        return {"parent": self.parent, "child": self.child, "matrix": self.matrix.tolist()}

    def to_static_transform_args(self) -> str:
        """``x y z qx qy qz qw frame_id child_frame_id``, for tf2's ``static_transform_publisher``."""
        nums = [*self.matrix[:3, 3], *self.quaternion_xyzw()]
        return " ".join(repr(float(v)) for v in nums) + f" {self.parent} {self.child}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "") -> Transform:
        src = source or "transform dict"
        return cls(
            str(need_field(d, "parent", src)),
            str(need_field(d, "child", src)),
            need_field(d, "matrix", src),
            source=src,
        )

    @classmethod
    def from_xyz_quat(cls, xyz: Sequence[float], quat_xyzw: Sequence[float], parent: str, child: str, source: str = ""):
        """From a translation and a unit quaternion (x, y, z, w — ROS order)."""
        src = source or f"T_{parent}_{child}"
        q = np.asarray(quat_xyzw, dtype=float)
        n = float(np.linalg.norm(q)) if q.shape == (4,) else 0.0
        if not np.isfinite(n) or abs(n - 1.0) > 1e-3:
            raise CalibrationError(
                f"{src}: field 'rotation' quaternion {q.tolist()} is not unit length (|q| = {n:.6g})"
            )
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat(q / n).as_matrix()
        T[:3, 3] = np.asarray(xyz, dtype=float)
        return cls(parent, child, T, source=src)

    @classmethod
    def from_xyz_ypr(cls, xyz: Sequence[float], yaw: float, pitch: float, roll: float, parent: str, child: str):
        """tf's Euler convention: R = Rz(yaw) · Ry(pitch) · Rx(roll)."""
        T = np.eye(4)
        T[:3, :3] = Rotation.from_euler("ZYX", [yaw, pitch, roll]).as_matrix()
        T[:3, 3] = np.asarray(xyz, dtype=float)
        return cls(parent, child, T)

    @classmethod
    def from_pose_vector(cls, pose: Sequence[float], parent: str = "base", child: str = "tcp") -> Transform:
        """From a UR pose ``[x, y, z, rx, ry, rz]`` (metres, rotation vector in radians), e.g.
        ``RTDEReceiveInterface.getActualTCPPose()`` — that is ``T_base_tcp``."""
        p = np.asarray(pose, dtype=float)
        if p.shape != (6,):
            raise CalibrationError(f"T_{parent}_{child}: a pose vector has 6 values [x y z rx ry rz], got {p.shape}")
        T = np.eye(4)
        T[:3, :3] = Rotation.from_rotvec(p[3:]).as_matrix()
        T[:3, 3] = p[:3]
        return cls(parent, child, T)


def to_pose_vector(T: Transform) -> np.ndarray:
    """``[x, y, z, rx, ry, rz]`` (UR's pose: metres, rotation vector), e.g. for ``moveL``."""
    return np.r_[T.matrix[:3, 3], Rotation.from_matrix(T.matrix[:3, :3]).as_rotvec()]


def identity(parent: str, child: str) -> Transform:
    return Transform(parent, child, np.eye(4))


def eye_in_hand(T_base_tcp: Transform, T_tcp_cam: Transform) -> Transform:
    """A wrist camera's pose in the base frame at the current joint state: ``T_base_tcp(q) · T_tcp_cam``."""
    return T_base_tcp @ T_tcp_cam


@dataclass(frozen=True, eq=False)
class HandEye:
    """A hand-eye calibration: ``transform`` is ``T_tcp_cam`` (eye in hand) or ``T_base_cam`` (eye to hand)."""

    transform: Transform
    eye_in_hand: bool

    def T_base_cam(self, T_base_tcp: Transform | None = None) -> Transform:
        """The camera in the base frame; an eye-in-hand camera needs the robot's current ``T_base_tcp``."""
        if not self.eye_in_hand:
            return self.transform
        if T_base_tcp is None:
            raise ValueError(f"{self.transform.source}: an eye-in-hand camera needs T_base_tcp (the current TCP pose)")
        return eye_in_hand(T_base_tcp, self.transform)


def load_easy_handeye(path: str | Path) -> HandEye:
    """An easy_handeye (ROS 1) or easy_handeye2 (ROS 2) result YAML.

    ROS 1: ``eye_on_hand``, ``robot_base_frame``, ``robot_effector_frame``, ``tracking_base_frame``,
    ``transformation: {x, y, z, qx, qy, qz, qw}`` (top level or under ``parameters``).
    ROS 2: ``parameters: {calibration_type: eye_in_hand|eye_on_base, …}``,
    ``transform: {translation: {x, y, z}, rotation: {x, y, z, w}}``. The transform is from the
    effector (eye in hand) or the robot base (eye on base) to the tracking (camera) frame."""
    src = str(path)
    d = read_mapping(path)
    params = d.get("parameters") if isinstance(d.get("parameters"), Mapping) else {}
    merged = {**params, **{k: v for k, v in d.items() if k != "parameters"}}
    if "transformation" in merged:
        tr = merged["transformation"]
        if not isinstance(tr, Mapping):
            raise CalibrationError(f"{src}: field 'transformation' must be a mapping {{x, y, z, qx, qy, qz, qw}}")
        xyz = [need_field(tr, k, src + " [transformation]") for k in ("x", "y", "z")]
        q = [need_field(tr, k, src + " [transformation]") for k in ("qx", "qy", "qz", "qw")]
        flag = merged.get("eye_on_hand", merged.get("eye_in_hand"))
    elif "transform" in merged:
        tr = merged["transform"]
        tl = need_field(tr, "translation", src + " [transform]")
        rot = need_field(tr, "rotation", src + " [transform]")
        xyz = [need_field(tl, k, src + " [transform.translation]") for k in ("x", "y", "z")]
        q = [need_field(rot, k, src + " [transform.rotation]") for k in ("x", "y", "z", "w")]
        ctype = merged.get("calibration_type")
        flag = merged.get("eye_in_hand", None if ctype is None else str(ctype) == "eye_in_hand")
    else:
        raise CalibrationError(
            f"{src}: field 'transformation' (easy_handeye) or 'transform' (easy_handeye2) is missing"
        )
    if flag is None:
        raise CalibrationError(
            f"{src}: field 'eye_on_hand' (or 'calibration_type') is missing: eye in hand or on base?"
        )
    if not isinstance(flag, bool):
        raise CalibrationError(f"{src}: field 'eye_on_hand' must be true or false, got {flag!r}")
    parent = str(merged.get("robot_effector_frame" if flag else "robot_base_frame") or ("tcp" if flag else "base"))
    child = str(merged.get("tracking_base_frame") or "camera")
    try:
        xyz_f, q_f = [float(v) for v in xyz], [float(v) for v in q]
    except (TypeError, ValueError):
        raise CalibrationError(f"{src}: field 'transformation' has a non-numeric value: {xyz + q}") from None
    return HandEye(Transform.from_xyz_quat(xyz_f, q_f, parent, child, source=src), eye_in_hand=flag)


def save_easy_handeye(he: HandEye, path: str | Path) -> Path:
    """Write ``he`` in easy_handeye's (ROS 1) result format, which ``load_easy_handeye`` reads back."""
    T = he.transform
    x, y, z = (float(v) for v in T.t)
    qx, qy, qz, qw = (float(v) for v in T.quaternion_xyzw())
    d = {
        "eye_on_hand": he.eye_in_hand,
        "robot_effector_frame" if he.eye_in_hand else "robot_base_frame": T.parent,
        "tracking_base_frame": T.child,
        "transformation": {"x": x, "y": y, "z": z, "qx": qx, "qy": qy, "qz": qz, "qw": qw},
    }
    p = Path(path)
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def load_transform(path: str | Path, parent: str | None = None, child: str | None = None) -> Transform:
    """A 4×4 transform from ``.npy`` (names given here) or ``.json`` (``{parent, child, matrix}``, or
    a bare 4×4 list with the names given here). Names given here must agree with the file's."""
    p = Path(path)
    src = str(p)
    if p.suffix.lower() == ".npy":
        try:
            M = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CalibrationError(f"{src}: cannot read a 4×4 array: {e}") from None
        if parent is None or child is None:
            raise CalibrationError(f"{src}: a .npy matrix has no frame names: pass parent= and child=")
        return Transform(parent, child, M, source=src)
    if p.suffix.lower() != ".json":
        raise CalibrationError(f"{src}: a 4×4 transform is read from .json or .npy")
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CalibrationError(f"{src}: not valid JSON: {e}") from None
    if isinstance(data, list):
        if parent is None or child is None:
            raise CalibrationError(f"{src}: a bare 4×4 list has no frame names: pass parent= and child=")
        return Transform(parent, child, data, source=src)
    if not isinstance(data, Mapping):
        raise CalibrationError(f"{src}: expected {{parent, child, matrix}} or a 4×4 list")
    T = Transform.from_dict({"parent": parent, "child": child, **data}, source=src)
    for want, got, key in ((parent, T.parent, "parent"), (child, T.child, "child")):
        if want is not None and want != got:
            raise CalibrationError(f"{src}: field {key!r} is {got!r}, but {want!r} was expected")
    return T


def save_transform(T: Transform, path: str | Path) -> Path:
    """Write ``T`` as ``.json`` (names and matrix) or ``.npy`` (matrix only)."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        np.save(p, np.asarray(T.matrix))
    elif p.suffix.lower() == ".json":
        p.write_text(json.dumps(T.to_dict(), indent=2) + "\n")
    else:
        raise ValueError(f"{p}: save a transform as .json or .npy")
    return p


_ROS2_FLAGS = ("x", "y", "z", "qx", "qy", "qz", "qw", "roll", "pitch", "yaw", "frame-id", "child-frame-id")


def from_static_transform_args(args: str | Sequence[str]) -> Transform:
    """The arguments of tf2's ``static_transform_publisher``: ``x y z yaw pitch roll frame child``,
    ``x y z qx qy qz qw frame child`` (ROS 1, optional trailing period), or ROS 2's flags
    (``--x 0.1 … --qw 1 | --roll … --frame-id base --child-frame-id camera``)."""
    tokens = shlex.split(args) if isinstance(args, str) else [str(a) for a in args]
    src = "static_transform_publisher " + " ".join(tokens)
    if any(t.startswith("--") for t in tokens):
        vals: dict[str, str] = {}
        it = iter(tokens)
        for tok in it:
            key = tok.removeprefix("--")
            if key not in _ROS2_FLAGS or not tok.startswith("--"):
                raise CalibrationError(f"{src}: unknown argument {tok!r}; flags: --{' --'.join(_ROS2_FLAGS)}")
            vals[key] = next(it, "")
        parent, child = need_field(vals, "frame-id", src), need_field(vals, "child-frame-id", src)
        num = {k: _float(v, k, src) for k, v in vals.items() if k not in ("frame-id", "child-frame-id")}
        xyz = [num.get(k, 0.0) for k in ("x", "y", "z")]
        has_q, has_e = any(k in num for k in ("qx", "qy", "qz", "qw")), any(k in num for k in ("roll", "pitch", "yaw"))
        if has_q and has_e:
            raise CalibrationError(f"{src}: give a quaternion or roll/pitch/yaw, not both")
        if has_q:
            q = [num.get("qx", 0.0), num.get("qy", 0.0), num.get("qz", 0.0), num.get("qw", 1.0)]
            return Transform.from_xyz_quat(xyz, q, parent, child, source=src)
        return Transform.from_xyz_ypr(
            xyz, num.get("yaw", 0.0), num.get("pitch", 0.0), num.get("roll", 0.0), parent, child
        )
    n = len(tokens)
    if n in (8, 9) and not _is_float(tokens[6]):
        nums, parent, child = tokens[:6], tokens[6], tokens[7]
        x, y, z, yaw, pitch, roll = (_float(v, f"arg {i + 1}", src) for i, v in enumerate(nums))
        return Transform.from_xyz_ypr([x, y, z], yaw, pitch, roll, parent, child)
    if n in (9, 10) and not _is_float(tokens[7]):
        v = [_float(t, f"arg {i + 1}", src) for i, t in enumerate(tokens[:7])]
        return Transform.from_xyz_quat(v[:3], v[3:7], tokens[7], tokens[8], source=src)
    raise CalibrationError(
        f"{src}: expected 'x y z yaw pitch roll frame_id child_frame_id' or "
        f"'x y z qx qy qz qw frame_id child_frame_id' (got {n} arguments)"
    )


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _float(tok: str, name: str, src: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise CalibrationError(f"{src}: {name} must be a number, got {tok!r}") from None
    if not np.isfinite(v):
        raise CalibrationError(f"{src}: {name} is not finite ({tok})")
    return v


def sim_T_base_cam(sim: Any, camera: str = "agent", base_body: str = "robot/base") -> Transform:
    """``T_base_cam`` of a roboref sim camera (``roboref.envs.sim.Sim``, or an env that has ``.sim``)
    as the simulation has it now: the sim's stand-in for a hand-eye calibration. ``base_body`` is
    the robot's base body (``robot/base`` for the UR5e; a G1 arm's shoulder, or ``world``)."""
    import mujoco

    sim = getattr(getattr(sim, "unwrapped", sim), "sim", sim)
    _, T_world_cam = sim.camera_pose(camera)
    T_wc = Transform("world", camera, T_world_cam)
    if base_body == "world":
        return T_wc
    bid = mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, base_body)
    if bid < 0:
        raise ValueError(
            f"unknown body {base_body!r}; bodies with 'base': "
            f"{[sim.model.body(i).name for i in range(sim.model.nbody) if 'base' in sim.model.body(i).name]}"
        )
    T_wb = np.eye(4)
    T_wb[:3, :3] = sim.data.xmat[bid].reshape(3, 3)
    T_wb[:3, 3] = sim.data.xpos[bid]
    return Transform("world", base_body, T_wb).inverse() @ T_wc
