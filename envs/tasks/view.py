"""``SceneView``: the geometric facts the task engine reasons over, computed once per image.

Camera-centric relations use camera coordinates (OpenCV: X right, Y down, Z forward = depth);
object-centric ones use each object's own frame (its +x is its front, e.g. a mug's handle side).
Placement targets are sets of visible table pixels, unprojected once to 3D here.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from roboref.assets.objects import CATEGORIES
from roboref.envs.camera import SEG_TABLE, project, unproject
from roboref.envs.scene import TABLE_HEIGHT, SceneSpec


@dataclass
class ObjectFacts:
    """One object as the engine sees it (world metres, camera coordinates, image pixels)."""

    index: int
    category: str
    color: str
    size: np.ndarray  # (dx, dy, dz) in the object frame
    center: np.ndarray  # world centre of the bounding box
    bottom: np.ndarray  # world bottom centre
    rot: np.ndarray  # 3×3 world rotation
    cam: np.ndarray  # centre in camera coordinates (X right, Y down, Z depth)
    uv: np.ndarray  # normalized image position of the centre
    mask: np.ndarray  # visible pixels
    pixels: int
    support: int  # index of the object it rests on, -1 for the table
    has_front: bool
    container: bool

    @property
    def name(self) -> str:
        return f"{self.color} {self.category}"

    @property
    def radius(self) -> float:
        """Footprint radius on the table."""
        return 0.5 * float(np.hypot(self.size[0], self.size[1]))

    @property
    def height(self) -> float:
        return float(self.size[2])

    @property
    def width(self) -> float:
        return float(max(self.size[0], self.size[1]))

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))

    @property
    def top_z(self) -> float:
        return float(self.bottom[2] + self.size[2])

    @property
    def front(self) -> np.ndarray:
        """Unit vector of the object's front in the world xy plane."""
        f = self.rot[:2, 0]
        return f / (np.linalg.norm(f) + 1e-12)

    @property
    def centroid(self) -> tuple[float, float]:
        """Normalized centroid of the visible pixels."""
        rows, cols = np.nonzero(self.mask)
        h, w = self.mask.shape
        return float((cols.mean() + 0.5) / w), float((rows.mean() + 0.5) / h)


class SceneView:
    """Objects, table points and the camera of one rendered scene."""

    def __init__(
        self,
        scene: SceneSpec,
        seg: np.ndarray,
        depth: np.ndarray,
        K: np.ndarray,
        T_world_cam: np.ndarray,
        area: tuple[tuple[float, float], tuple[float, float]],
    ):
        self.scene, self.seg, self.depth, self.K, self.T = scene, seg, depth, K, T_world_cam
        self.height, self.width = seg.shape
        self.area = area
        self._dist_cache: dict[tuple[float, float], np.ndarray] = {}
        #: Per-view results derived once and reused (visible objects, ``language``'s anchor names).
        self.memo: dict[str, dict] = {}
        self.objects = [self._facts(k, o) for k, o in enumerate(scene.objects)]
        self._link_supports()
        rows, cols = np.nonzero(seg == SEG_TABLE)
        self.table_rows, self.table_cols = rows, cols
        uv = np.column_stack([cols + 0.5, rows + 0.5])
        self.table_points = unproject(uv, depth[rows, cols], K, T_world_cam)
        # contiguous x and y: the distance maps below read them a dozen times per task
        self._table_x = np.ascontiguousarray(self.table_points[:, 0])
        self._table_y = np.ascontiguousarray(self.table_points[:, 1])
        self.table_cam = self.to_cam(self.table_points)
        # Only the table's top face, inside the reachable placement area.
        (x0, x1), (y0, y1) = area
        p = self.table_points
        self.table_ok = (
            (np.abs(p[:, 2] - TABLE_HEIGHT) < 0.01)
            & (p[:, 0] >= x0)
            & (p[:, 0] <= x1)
            & (p[:, 1] >= y0)
            & (p[:, 1] <= y1)
        )

    def _facts(self, k: int, o) -> ObjectFacts:
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, np.asarray(o.quat, float))
        rot = mat.reshape(3, 3)
        bottom = np.asarray(o.pos, float)
        center = bottom + rot[:, 2] * o.size[2] / 2
        mask = self.seg == k + 1
        cat = CATEGORIES[o.category]
        uv, _ = project(center, self.K, self.T)
        return ObjectFacts(
            index=k,
            category=o.category,
            color=o.color,
            size=np.asarray(o.size, float),
            center=center,
            bottom=bottom,
            rot=rot,
            cam=self.to_cam(center[None])[0],
            uv=uv[0] / [self.width, self.height],
            mask=mask,
            pixels=int(mask.sum()),
            support=-1,
            has_front=cat.has_front,
            container=cat.container,
        )

    def _link_supports(self) -> None:
        for a in self.objects:
            if a.bottom[2] < TABLE_HEIGHT + 0.005:
                continue
            below = [
                b
                for b in self.objects
                if b is not a
                and abs(b.top_z - a.bottom[2]) < 0.01
                and np.hypot(*(a.center[:2] - b.center[:2])) < b.radius
            ]
            if below:
                a.support = below[0].index

    def in_area(self, xy) -> bool:
        """Whether the table-plane point ``xy`` lies in the placement area."""
        (x0, x1), (y0, y1) = self.area
        return bool(x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1)

    def to_cam(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> camera coordinates (N, 3)."""
        return (np.atleast_2d(points) - self.T[:3, 3]) @ self.T[:3, :3]

    def visible(self, min_pixels: int) -> list[ObjectFacts]:
        return list(self.visible_tuple(min_pixels))

    def visible_tuple(self, min_pixels: int) -> tuple[ObjectFacts, ...]:
        """``visible`` as a tuple, cached (the objects and their pixels are fixed per view)."""
        cache = self.memo.setdefault("visible", {})
        if min_pixels not in cache:
            cache[min_pixels] = tuple(o for o in self.objects if o.pixels >= min_pixels)
        return cache[min_pixels]

    def free_space(self, clearance: float, ignore: tuple[int, ...] = ()) -> np.ndarray:
        """Table points at least ``clearance`` from every object's footprint (bool over points)."""
        ok = self.table_ok.copy()
        for o in self.objects:
            if o.index in ignore or o.support >= 0:
                continue
            ok &= self.center_dist(o.center[:2]) >= o.radius + clearance
        return ok

    def center_dist(self, xy: np.ndarray) -> np.ndarray:
        """Distance of every table point to the table-plane point ``xy`` (read-only, cached: the
        relations ask for the same anchors' distances many times while a task is sampled).

        ``sqrt(dx² + dy²)`` in place, the same values as ``np.linalg.norm(.., axis=1)`` bit for bit
        at a tenth of its cost (0.04 ms for 26k points)."""
        key = (float(xy[0]), float(xy[1]))
        d = self._dist_cache.get(key)
        if d is None:
            d = self._table_x - key[0]
            dy = self._table_y - key[1]
            d *= d
            dy *= dy
            d += dy
            np.sqrt(d, out=d)
            d.flags.writeable = False
            self._dist_cache[key] = d
        return d

    def points_to_mask(self, selected: np.ndarray) -> np.ndarray:
        """A boolean over table points -> an image mask."""
        mask = np.zeros((self.height, self.width), bool)
        mask[self.table_rows[selected], self.table_cols[selected]] = True
        return mask

    def camera_dirs(self) -> dict[str, np.ndarray]:
        """World xy unit vectors of the camera's left/right/front(nearer)/behind on the table."""
        right = self.T[:3, 0][:2]
        fwd = self.T[:3, 2][:2]
        right, fwd = right / np.linalg.norm(right), fwd / np.linalg.norm(fwd)
        return {"left": -right, "right": right, "front": -fwd, "behind": fwd}
