"""From a normalized image point to a 3D target: what is there, a grasp pose, a place pose.

The point is unprojected with the agent camera's depth (pixel ``(x·W, y·H)``, DESIGN.md
conventions); the segmentation says which object slot (label ``k + 1``) or surface it hit. Grasp
poses are top-down: centred on the object's largest part, fingers closing across its narrowest
horizontal extent. Failures raise ``ControlError`` with a ``FAILURE_REASONS`` value, which the
controllers turn into a failed ``ExecutionResult``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from roboref.envs.camera import SEG_BACKGROUND, SEG_ROBOT, SEG_TABLE, Frame, unproject
from roboref.envs.control.errors import ControlError
from roboref.envs.world import HIDDEN_GROUP, World


@dataclass(frozen=True)
class PointHit:
    """What the point lands on: the pixel, its 3D world point and the segmentation label."""

    pixel: tuple[int, int]  # (col, row)
    world: tuple[float, float, float]
    label: int

    @property
    def slot(self) -> int:
        """Object slot index under the point, or -1 for table, robot or background."""
        return self.label - 1 if 1 <= self.label < SEG_TABLE else -1


@dataclass(frozen=True)
class GraspPose:
    """A top-down grasp: ``center`` is the object's grasp point at pinch height, ``yaw`` the
    world angle of the closing direction, ``width`` the object's extent along it."""

    slot: int
    center: tuple[float, float, float]
    yaw: float
    width: float
    top: float  # highest point of the object (m, world z)
    bottom: float  # lowest point of the object


@dataclass(frozen=True)
class PlacePose:
    """Where the held object's bottom centre should come to rest."""

    position: tuple[float, float, float]
    surface_label: int


def point_hit(point, frame: Frame, K: np.ndarray, T_world_cam: np.ndarray, max_depth: float) -> PointHit:
    """Unproject normalized ``point`` with ``frame.depth``; label it with ``frame.seg``."""
    p = np.asarray(point, dtype=float).reshape(-1)
    if p.shape != (2,) or not np.isfinite(p).all():
        raise ControlError("out_of_workspace", f"point must be 2 finite numbers, got {point!r}")
    if (p < 0).any() or (p > 1).any():
        raise ControlError("out_of_workspace", f"point {p.tolist()} is outside the image [0, 1]²")
    h, w = frame.depth.shape
    col, row = min(int(p[0] * w), w - 1), min(int(p[1] * h), h - 1)
    z = float(frame.depth[row, col])
    label = int(frame.seg[row, col]) if frame.seg is not None else SEG_TABLE
    if label == SEG_BACKGROUND or not np.isfinite(z) or z >= 0.999 * max_depth:
        return PointHit((col, row), (math.nan, math.nan, math.nan), SEG_BACKGROUND)
    world = unproject(np.array([[p[0] * w, p[1] * h]]), np.array([z]), K, T_world_cam)[0]
    return PointHit((col, row), tuple(float(v) for v in world), label)


def _part_corners(model: mujoco.MjModel, data: mujoco.MjData, g: int) -> np.ndarray:
    """The 8 world corners of geom ``g``'s local bounding box."""
    c, half = model.geom_aabb[g, :3], model.geom_aabb[g, 3:]
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    local = c + signs * half
    R = data.geom_xmat[g].reshape(3, 3)
    return local @ R.T + data.geom_xpos[g]


_ROUND = (
    int(mujoco.mjtGeom.mjGEOM_CYLINDER),
    int(mujoco.mjtGeom.mjGEOM_SPHERE),
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID),
    int(mujoco.mjtGeom.mjGEOM_CAPSULE),
)


def _part_outline(model: mujoco.MjModel, data: mujoco.MjData, g: int) -> np.ndarray:
    """World points on geom ``g``'s surface outline, fine enough to measure its widths: the
    box corners, or rings around round primitives (a cylinder is as wide in every direction)."""
    if int(model.geom_type[g]) not in _ROUND:
        return _part_corners(model, data, g)
    half = model.geom_aabb[g, 3:]
    a = np.linspace(0.0, 2 * math.pi, 24, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1)
    pts = []
    if int(model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_CAPSULE):
        r, hl = model.geom_size[g, 0], model.geom_size[g, 1]
        for z in (-hl, hl):  # rings of the end spheres, in all three planes
            for i, j in ((0, 1), (0, 2), (1, 2)):
                p = np.zeros((len(a), 3))
                p[:, i], p[:, j] = r * ring[:, 0], r * ring[:, 1]
                p[:, 2] += z
                pts.append(p)
    else:
        for z in (-half[2], 0.0, half[2]):
            p = np.zeros((len(a), 3))
            p[:, 0], p[:, 1], p[:, 2] = half[0] * ring[:, 0], half[1] * ring[:, 1], z
            pts.append(p)
    local = np.concatenate(pts) + model.geom_aabb[g, :3]
    R = data.geom_xmat[g].reshape(3, 3)
    return local @ R.T + data.geom_xpos[g]


def _volume(model: mujoco.MjModel, g: int) -> float:
    half = model.geom_aabb[g, 3:]
    return float(np.prod(2 * half))


def _visible_geoms(world: World, slot: int) -> list[int]:
    return [int(g) for g in world.slot_geoms[slot] if world.model.geom_group[g] != HIDDEN_GROUP]


def _wrap(angle: float, ref: float) -> float:
    """``angle`` or ``angle + π`` (the same parallel grasp), whichever is nearest ``ref``."""
    return (angle - ref + math.pi / 2) % math.pi - math.pi / 2 + ref


def grasp_pose(
    world: World,
    data: mujoco.MjData,
    slot: int,
    nominal_yaw: float = 0.0,
    preferred_yaw: float | None = None,
    fixed_yaw: float | None = None,
) -> GraspPose:
    """Top-down grasp on object ``slot`` as it is now in ``data``.

    The grasp centre is the largest part's centre (a mug's body, not its handle); the fingers close
    along the direction in which that part's outline is narrowest. Round parts are equally narrow
    in many directions: then the one nearest ``preferred_yaw`` wins. Of the two equivalent yaws
    (θ, θ + π) the one nearest ``nominal_yaw`` is returned so the wrist turns least. With
    ``fixed_yaw`` the fingers close along the sampled direction nearest it, however wide.
    """
    geoms = _visible_geoms(world, slot)
    if not geoms:
        raise ControlError("no_object_at_point", f"object slot {slot} is empty")
    m = world.model
    main = max(geoms, key=lambda g: _volume(m, g))
    outline = _part_outline(m, data, main)
    all_corners = np.concatenate([_part_outline(m, data, g) for g in geoms])
    xy = outline[:, :2]
    thetas = np.deg2rad(np.arange(0.0, 180.0, 3.0))
    dirs = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
    proj = xy @ dirs.T
    widths = proj.max(axis=0) - proj.min(axis=0)
    near = np.flatnonzero(widths <= widths.min() + 0.003)
    if fixed_yaw is not None:
        i = int(np.argmin([abs(_wrap(t, fixed_yaw) - fixed_yaw) for t in thetas]))
    elif preferred_yaw is None:
        i = int(near[np.argmin(widths[near])])
    else:
        i = int(near[np.argmin([abs(_wrap(thetas[j], preferred_yaw) - preferred_yaw) for j in near])])
    width, theta = float(widths[i]), _wrap(float(thetas[i]), nominal_yaw)
    center = _part_corners(m, data, main).mean(axis=0)
    return GraspPose(
        slot=slot,
        center=tuple(float(v) for v in center),
        yaw=float(theta),
        width=width,
        top=float(all_corners[:, 2].max()),
        bottom=float(all_corners[:, 2].min()),
    )


def check_on_table(world: World, xy, margin: float = 0.03) -> None:
    """Raise ``out_of_workspace`` unless ``xy`` lies on the table top, ``margin`` from its edge."""
    tx, ty = world.table_size[0] / 2 - margin, world.table_size[1] / 2 - margin
    if not (abs(xy[0]) <= tx and abs(xy[1]) <= ty):
        raise ControlError("out_of_workspace", f"({xy[0]:.3f}, {xy[1]:.3f}) is off the table")


def place_pose(world: World, hit: PointHit) -> PlacePose:
    """The object's bottom goes to the hit point: on the table, or on top of the object there."""
    if hit.label in (SEG_BACKGROUND, SEG_ROBOT):
        what = "background" if hit.label == SEG_BACKGROUND else "the robot"
        raise ControlError("out_of_workspace", f"place point is on {what}, not on the table")
    check_on_table(world, hit.world)
    return PlacePose(position=hit.world, surface_label=hit.label)


def yaw_rotation(yaw: float, tilt: float = 0.0) -> np.ndarray:
    """Top-down tool rotation: tool z points down, tool y (the closing axis) along ``yaw``;
    ``tilt`` then leans the tool about its closing axis (positive: tool z towards tool -x)."""
    c, s = math.cos(yaw), math.sin(yaw)
    R = np.array([[-s, c, 0.0], [c, s, 0.0], [0.0, 0.0, -1.0]])
    ct, st = math.cos(tilt), math.sin(tilt)
    return R @ np.array([[ct, 0.0, -st], [0.0, 1.0, 0.0], [st, 0.0, ct]])
