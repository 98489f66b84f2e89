"""Oracle points for controller benchmarks and pick-and-place episodes: a free spot on the table."""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.camera import SEG_TABLE, Frame, project
from roboref.envs.sim import Sim


def free_table_point(
    rng: np.random.Generator,
    sim: Sim,
    frame: Frame,
    camera: str = "agent",
    radius: float = 0.06,
    exclude: int = -1,
    area: tuple[tuple[float, float], tuple[float, float]] | None = None,
    tries: int = 200,
) -> tuple[float, float] | None:
    """A normalized image point on visible table top whose disc of ``radius`` (m) is clear of
    every object's footprint (except object ``exclude``); ``None`` when none is found.

    Points are drawn in ``area`` (default: the robot's workspace) from ``rng``.
    """
    (x0, x1), (y0, y1) = area or sim.world.robot.workspace
    scene = sim.scene
    objs = [
        (sim.world.object_pose(sim.data, k)[0][:2], o.footprint_radius)
        for k, o in enumerate(scene.objects if scene else ())
        if k != exclude
    ]
    K, T = sim.camera_pose(camera)
    h, w = frame.seg.shape
    cam_w, cam_h = sim.model.cam_resolution[sim.model.camera(camera).id]
    sx, sy = w / cam_w, h / cam_h  # not 2cx: a randomized principal point is off the centre
    z = scene.table_height if scene else 0.75
    for _ in range(tries):
        x, y = rng.uniform(x0 + radius, x1 - radius), rng.uniform(y0 + radius, y1 - radius)
        if any(math.hypot(x - p[0], y - p[1]) < radius + r for p, r in objs):
            continue
        uv, depth = project(np.array([[x, y, z]]), K, T)
        col, row = uv[0, 0] * sx, uv[0, 1] * sy
        if depth[0] <= 0 or not (0 <= col < w and 0 <= row < h):
            continue
        if frame.seg[int(row), int(col)] != SEG_TABLE:
            continue
        return (float(col / w), float(row / h))
    return None
