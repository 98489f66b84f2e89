"""Closed triangle meshes generated in code: lathe (revolved profile), extrusion, tube sweep, sphere.

No mesh files ship with roboref: every object mesh is made here from a few numbers, so the same
parameters give the same vertices bit for bit. Meshes are closed and wound counter-clockwise seen
from outside (outward normals), which MuJoCo needs to compute volume and inertia.
"""

from __future__ import annotations

import math

import numpy as np

Mesh = tuple[np.ndarray, np.ndarray]  # vertices (n, 3) float64, triangles (m, 3) int64


def _ring_faces(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Triangles joining ring ``a`` to ring ``b`` (either may be a single axis point)."""
    n = max(len(a), len(b))
    out = []
    for i in range(n):
        j = (i + 1) % n
        if len(a) == 1:
            out.append((a[0], b[j], b[i]))
        elif len(b) == 1:
            out.append((a[i], a[j], b[0]))
        else:
            out.append((a[i], a[j], b[j]))
            out.append((a[i], b[j], b[i]))
    return out


def lathe(profile: list[tuple[float, float]], segments: int = 24) -> Mesh:
    """Revolve ``profile`` ``[(r, z), …]`` about the z axis. The profile runs from the bottom
    axis point ``(0, z0)`` up the outside to the top axis point ``(0, z1)``; points with ``r == 0``
    become single axis vertices, so the result is closed."""
    if profile[0][0] != 0 or profile[-1][0] != 0:
        raise ValueError("a lathe profile must start and end on the axis (r == 0)")
    ang = np.linspace(0.0, 2 * math.pi, segments, endpoint=False)
    verts: list[tuple[float, float, float]] = []
    rings: list[list[int]] = []
    for r, z in profile:
        if r == 0:
            rings.append([len(verts)])
            verts.append((0.0, 0.0, z))
        else:
            rings.append(list(range(len(verts), len(verts) + segments)))
            verts.extend((r * math.cos(t), r * math.sin(t), z) for t in ang)
    faces = [f for a, b in zip(rings[:-1], rings[1:], strict=True) for f in _ring_faces(a, b)]
    return np.asarray(verts, float), np.asarray(faces, np.int64)


def extrude(polygon: np.ndarray, z0: float, z1: float, bevel: float = 0.0) -> Mesh:
    """Prism of a convex-or-star-shaped counter-clockwise ``polygon`` (k, 2) from ``z0`` to
    ``z1``; ``bevel`` > 0 insets the top and bottom faces by that much (chamfered edges)."""
    poly = np.asarray(polygon, float)
    centre = poly.mean(axis=0)
    layers = [(z0, bevel), (z0 + bevel, 0.0), (z1 - bevel, 0.0), (z1, bevel)] if bevel > 0 else [(z0, 0.0), (z1, 0.0)]
    verts = [(*centre, z0)]
    rings = [[0]]
    for z, inset in layers:
        d = poly - centre
        scale = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
        p = centre + d * (1 - inset / scale)[:, None]
        rings.append(list(range(len(verts), len(verts) + len(p))))
        verts.extend((x, y, z) for x, y in p)
    rings.append([len(verts)])
    verts.append((*centre, z1))
    faces = [f for a, b in zip(rings[:-1], rings[1:], strict=True) for f in _ring_faces(a, b)]
    return np.asarray(verts, float), np.asarray(faces, np.int64)


def rounded_rect(dx: float, dy: float, radius: float, corner_segments: int = 4) -> np.ndarray:
    """Counter-clockwise outline (k, 2) of a ``dx`` × ``dy`` rectangle with rounded corners."""
    r = min(radius, dx / 2 - 1e-4, dy / 2 - 1e-4)
    pts = []
    for (cx, cy), a0 in (((1, 1), 0.0), ((-1, 1), 90.0), ((-1, -1), 180.0), ((1, -1), 270.0)):
        for a in np.deg2rad(a0 + np.linspace(0.0, 90.0, corner_segments + 1)):
            pts.append((cx * (dx / 2 - r) + r * math.cos(a), cy * (dy / 2 - r) + r * math.sin(a)))
    return np.asarray(pts)


def regular_polygon(n: int, radius: float, phase: float = 0.0) -> np.ndarray:
    a = phase + np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    return np.stack([radius * np.cos(a), radius * np.sin(a)], axis=1)


def tube(path: np.ndarray, radii: np.ndarray, segments: int = 10) -> Mesh:
    """A closed tube of circular cross-section ``radii[i]`` swept along the 3D polyline ``path``
    (capped at both ends). The path must not bend more than 90° between samples."""
    path = np.asarray(path, float)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    ang = np.linspace(0.0, 2 * math.pi, segments, endpoint=False)
    verts = [tuple(path[0])]
    rings = [[0]]
    normal = np.cross(ref, tangents[0])
    for p, t, r in zip(path, tangents, radii, strict=True):
        normal = normal - t * (normal @ t)  # parallel transport: no twist
        normal /= np.linalg.norm(normal)
        binormal = np.cross(t, normal)
        ring = p + r * (np.cos(ang)[:, None] * normal + np.sin(ang)[:, None] * binormal)
        rings.append(list(range(len(verts), len(verts) + segments)))
        verts.extend(map(tuple, ring))
    rings.append([len(verts)])
    verts.append(tuple(path[-1]))
    faces = [f for a, b in zip(rings[:-1], rings[1:], strict=True) for f in _ring_faces(a, b)]
    return np.asarray(verts, float), np.asarray(faces, np.int64)


def icosphere(radius: float, subdivisions: int = 1) -> Mesh:
    """A faceted sphere of ``radius`` centred on the origin (20·4^k triangles)."""
    t = (1 + 5**0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t)]
    v += [(0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2)]
    f += [(10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5)]
    f += [(2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}

        def mid(i: int, j: int, cache: dict[tuple[int, int], int] = cache) -> int:
            key = (min(i, j), max(i, j))
            if key not in cache:
                m = verts[i] + verts[j]
                cache[key] = len(verts)
                verts.append(m / np.linalg.norm(m))
            return cache[key]

        f = [
            tri
            for a, b, c in f
            for tri in ((a, mid(a, b), mid(c, a)), (b, mid(b, c), mid(a, b)), (c, mid(c, a), mid(b, c)))
            + ((mid(a, b), mid(b, c), mid(c, a)),)
        ]
    return radius * np.asarray(verts), np.asarray(f, np.int64)


def transform(mesh: Mesh, scale=(1.0, 1.0, 1.0), rotate: np.ndarray | None = None, shift=(0.0, 0.0, 0.0)) -> Mesh:
    """``mesh`` scaled per axis, then rotated by the 3×3 matrix ``rotate``, then shifted."""
    v = mesh[0] * np.asarray(scale, float)
    if rotate is not None:
        v = v @ np.asarray(rotate, float).T
    return v + np.asarray(shift, float), mesh[1]


def merge(*meshes: Mesh) -> Mesh:
    """One mesh of several closed pieces (MuJoCo collides with the hull of the whole)."""
    verts, faces, off = [], [], 0
    for v, f in meshes:
        verts.append(v)
        faces.append(f + off)
        off += len(v)
    return np.concatenate(verts), np.concatenate(faces)


def bounds(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    return mesh[0].min(axis=0), mesh[0].max(axis=0)


ROT_Z_TO_X = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # maps +z onto +x
ROT_Z_TO_Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # maps +z onto +y
