"""Decimated copies of robot visual meshes, cached on disk.

Software rendering cost grows with triangle count: the Menagerie UR5e alone has ~185k visual
faces, which caps a 224² render near 35 fps on 2 CPU cores. Visual meshes are only looked at, so
we simplify each to at most ``max_faces`` triangles once (fast-simplification, quadric error) and
cache the result as a binary STL keyed by the source file's content hash.

Quadric simplification stalls on some finely detailed meshes (the 2F-85's base mount stops at
11,658 of 21,834 faces for a 400-face target). ``decimated_copies`` gives two copies: the plain
quadric one (``decimated``), which colliding geoms keep so physics is unchanged, and a visual one
that, where the plain copy stalled, clusters vertices on a grid first (cell 0.5 % of the mesh's
extent, doubled until it works) and then simplifies.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from roboref.envs.atomic import write_bytes_atomic


def cache_dir() -> Path:
    """``$ROBOREF_CACHE`` or ``~/.cache/roboref``: where generated files live."""
    root = os.environ.get("ROBOREF_CACHE") or Path.home() / ".cache" / "roboref"
    return Path(root)


def read_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) float64 and triangles (m, 3) int64 of an STL or OBJ file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".stl":
        return _read_stl(path)
    if suffix == ".obj":
        return _read_obj(path)
    raise ValueError(f"unsupported mesh format {suffix!r} for {path}; expected .stl or .obj")


def _read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = path.read_bytes()
    if raw[:5] == b"solid" and b"facet" in raw[:512]:
        tokens = raw.split()
        coords = [tokens[i + 1 : i + 4] for i, t in enumerate(tokens) if t == b"vertex"]
        tri = np.asarray(coords, dtype=np.float64).reshape(-1, 3, 3)
    else:
        n = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
        rec = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
        tri = np.frombuffer(raw, dtype=rec, count=n, offset=84)["v"].astype(np.float64)
    return _weld(tri)


def _read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    verts, faces = [], []
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("f "):
            idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
            idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
            faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
    v = np.asarray(verts, dtype=np.float64)
    tri = v[np.asarray(faces, dtype=np.int64)]
    return _weld(tri)


def _weld(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge duplicate corners so the simplifier sees a connected surface."""
    corners = tri.reshape(-1, 3)
    verts, inverse = np.unique(np.round(corners, 7), axis=0, return_inverse=True)
    faces = inverse.reshape(-1, 3)
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return verts, faces[keep]


def write_stl(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    """Binary STL, written atomically."""
    tri = verts[faces].astype("<f4")
    rec = np.zeros(len(tri), dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]))
    rec["v"] = tri
    header = b"roboref decimated mesh".ljust(80, b"\0") + np.uint32(len(tri)).tobytes()
    write_bytes_atomic(path, header + rec.tobytes())


def _cached_path(path: Path, digest: str, max_faces: int, tag: str = "") -> Path:
    """Where a decimated copy of ``path`` lives: keyed by the source's content hash."""
    return cache_dir() / "meshes" / f"{path.stem}-{digest}-{max_faces}{tag}.stl"


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:16]


def _stl_face_count(path: Path) -> int:
    """Triangles in a binary STL (every copy here is one, from ``write_stl``), from its header."""
    with open(path, "rb") as f:
        f.seek(80)
        return int(np.frombuffer(f.read(4), dtype="<u4")[0])


def decimated(path: str | Path, max_faces: int) -> Path:
    """Path of a copy of mesh ``path`` with at most ``max_faces`` triangles (cached)."""
    path = Path(path)
    return _quadric_copy(path, _digest(path), max_faces)


def _quadric_copy(path: Path, digest: str, max_faces: int) -> Path:
    out = _cached_path(path, digest, max_faces)
    if out.exists():
        return out
    verts, faces = read_mesh(path)
    if len(faces) > max_faces:
        import fast_simplification

        reduction = 1.0 - max_faces / len(faces)
        verts, faces = fast_simplification.simplify(
            verts.astype(np.float32), faces.astype(np.int32), target_reduction=reduction
        )
        verts, faces = np.asarray(verts, np.float64), np.asarray(faces, np.int64)
    write_stl(out, verts, faces)
    return out


#: Accept the plain quadric result for a visual mesh up to this many times ``max_faces``.
VISUAL_SLACK = 1.5


def decimated_copies(path: str | Path, max_faces: int) -> tuple[Path, Path]:
    """``(plain, visual)`` copies of ``path`` with about ``max_faces`` triangles (cached).

    ``plain`` is ``decimated``'s. ``visual`` is the same file where plain quadric simplification
    gets within ``VISUAL_SLACK`` of the target; else vertex clustering, then quadric simplification.
    """
    path = Path(path)
    digest = _digest(path)
    plain = _quadric_copy(path, digest, max_faces)
    if _stl_face_count(plain) <= VISUAL_SLACK * max_faces:
        return plain, plain
    out = _cached_path(path, digest, max_faces, "-clustered")
    if out.exists():
        return plain, out
    import fast_simplification

    verts, faces = read_mesh(path)
    cell = 0.005 * float(np.ptp(verts, axis=0).max())
    while True:
        v, f = cluster_vertices(verts, faces, cell)
        v, f = fast_simplification.simplify(v.astype(np.float32), f.astype(np.int32), target_count=max_faces)
        if len(f) <= VISUAL_SLACK * max_faces or len(f) == 0:
            break
        cell *= 2
    write_stl(out, np.asarray(v, np.float64), np.asarray(f, np.int64))
    return plain, out


def cluster_vertices(verts: np.ndarray, faces: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge the vertices in each grid cell of size ``cell`` into their mean; drop the faces
    that collapse and duplicates. Coarse but never stalls, unlike edge collapses."""
    _, inverse = np.unique(np.floor(verts / cell).astype(np.int64), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse)
    merged = np.zeros((len(counts), 3))
    np.add.at(merged, inverse, verts)
    merged /= counts[:, None]
    f = inverse[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    _, first = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
    return merged, f[np.sort(first)]
