"""Shared geometry of the relations: world-xy distances, footprints, 2D rotations, top surfaces.

World metres, z up. An object's footprint is a disc of radius ``ObjectFacts.radius`` (half the
diagonal of its xy size) around its centre.
"""

from __future__ import annotations

import math

import numpy as np

from roboref.assets.objects import CATEGORIES
from roboref.envs.tasks.view import ObjectFacts, SceneView


def xy(o: ObjectFacts) -> np.ndarray:
    """The object's centre on the table plane."""
    return o.center[:2]


def dist(a: ObjectFacts, b: ObjectFacts) -> float:
    """Centre-to-centre distance on the table plane."""
    return float(np.linalg.norm(xy(a) - xy(b)))


def point_dist(view: SceneView, a: ObjectFacts) -> np.ndarray:
    """Distance of every table point to ``a``'s centre on the table plane."""
    return view.center_dist(xy(a))


def gap(a: ObjectFacts, b: ObjectFacts) -> float:
    """Edge-to-edge distance of two footprints (negative when they overlap)."""
    return dist(a, b) - a.radius - b.radius


def cross2(u: np.ndarray, v: np.ndarray) -> float:
    """z of the 2D cross product u × v (positive when v is counter-clockwise of u)."""
    return float(u[0] * v[1] - u[1] * v[0])


def rot(v: np.ndarray, deg: float) -> np.ndarray:
    """``v`` rotated counter-clockwise by ``deg`` degrees."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


def cm(d: float) -> str:
    """A distance in metres as the text says it (whole centimetres)."""
    return f"{round(d * 100):d} cm"


def supports(a: ObjectFacts) -> bool:
    """Whether things can stand on ``a`` (its category has a flat top: plate, book, box)."""
    return CATEGORIES[a.category].support_top is not None


def support_room(a: ObjectFacts) -> float:
    """Radius around ``a``'s axis where an object can stand on it (a plate's flat centre)."""
    return 0.28 * a.size[0] if a.category == "plate" else 0.4 * min(a.size[0], a.size[1])


def container_room(a: ObjectFacts) -> float:
    """Radius around a container's axis that lies inside its opening."""
    return 0.3 * a.size[0] if a.category == "bowl" else 0.35 * min(a.size[0], a.size[1])


def top_surface(view: SceneView, a: ObjectFacts, room: float, depth_tol: float = 0.012) -> np.ndarray:
    """Pixels of ``a`` whose 3D points lie on its top (z >= top - ``depth_tol``), within ``room``
    of its vertical axis."""
    from roboref.envs.camera import unproject

    rows, cols = np.nonzero(a.mask)
    if len(rows) == 0:
        return np.zeros_like(a.mask)
    pts = unproject(np.column_stack([cols + 0.5, rows + 0.5]), view.depth[rows, cols], view.K, view.T)
    near_axis = np.linalg.norm(pts[:, :2] - a.center[:2], axis=1) <= room
    on_top = pts[:, 2] >= a.top_z - depth_tol
    mask = np.zeros_like(a.mask)
    keep = near_axis & on_top
    mask[rows[keep], cols[keep]] = True
    return mask
