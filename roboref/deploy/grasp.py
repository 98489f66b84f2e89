"""A top-down grasp from the depth image alone: what a real cell knows about the pointed object.

The sim's controllers read the object's geometry from the model; a real robot only has the point
and the depth image. So the deploy loop estimates the grasp from the points the camera sees:

1. deproject the depth pixels in a window around the point into the base frame;
2. keep those standing above the table (``min_height``), and of them the connected blob that
   holds (or is nearest) the pointed pixel;
3. the fingers close across the blob's narrowest horizontal extent (``skills.grasp_yaw``), at the
   centre of its extent along and across that direction, at its top height (a high percentile,
   robust to noise).

A blob wider than the hand opens along its minor axis is reported (``width``) so the caller can
refuse; a pointed pixel with no blob near it is a ``NoDepthError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from roboref.deploy.calibration import CameraModel
from roboref.deploy.extrinsics import Transform
from roboref.deploy.lifting import NoDepthError, deproject, depth_in_metres, point_to_pixel
from roboref.deploy.skills import grasp_yaw


@dataclass(frozen=True)
class DepthGrasp:
    """A top-down grasp in the base frame: ``center`` (x, y, top z), closing ``yaw`` (rad, about
    base z), the blob's width along the closing direction and length across it (m), and how many
    depth pixels it rests on."""

    center: np.ndarray
    yaw: float
    width: float
    length: float
    pixels: int

    def to_dict(self) -> dict:
        return {
            "center": [round(float(v), 5) for v in self.center],
            "yaw": round(self.yaw, 4),
            "width": round(self.width, 4),
            "length": round(self.length, 4),
            "pixels": self.pixels,
        }


def depth_grasp(
    point,
    depth: np.ndarray,
    cam: CameraModel,
    T_base_cam: Transform,
    table_z: float,
    window: int = 48,
    min_height: float = 0.008,
    search: int = 4,
    edge: float | None = 0.015,
) -> DepthGrasp:
    """The grasp on the object under normalized ``point`` (module docstring). ``window``: half
    size (px) of the image patch examined; ``search``: how far (px) from the point the blob may
    start, for a point that lands just off an object's edge; ``edge``: a depth step (m) between
    neighbouring pixels that separates two blobs."""
    d = depth_in_metres(depth, cam)
    u, v = point_to_pixel(point, cam)
    col, row = math.floor(u + 0.5), math.floor(v + 0.5)
    h, w = d.shape
    r0, r1, c0, c1 = max(row - window, 0), min(row + window + 1, h), max(col - window, 0), min(col + window + 1, w)
    patch = d[r0:r1, c0:c1]
    valid = np.isfinite(patch) & (patch > 0)
    rr, cc = np.nonzero(valid)
    if rr.size == 0:
        raise NoDepthError(f"no valid depth within {window} px of pixel ({u:.0f}, {v:.0f}) to find the object")
    pts = T_base_cam.apply(deproject(np.column_stack([cc + c0, rr + r0]).astype(float), patch[rr, cc], cam))
    above = np.zeros(patch.shape, bool)
    z_img = np.full(patch.shape, np.nan)
    z_img[rr, cc] = pts[:, 2]
    above[rr, cc] = pts[:, 2] > table_z + min_height
    if edge:
        above &= ~_depth_edges(patch, edge)  # touching objects part along their depth step
    labels, _ = ndimage.label(above)
    pr, pc = row - r0, col - c0
    lab = _label_near(labels, pr, pc, search)
    if lab == 0:
        raise NoDepthError(
            f"nothing stands above the table within {search} px of pixel ({u:.0f}, {v:.0f}): no object to grasp there"
        )
    sel = labels[rr, cc] == lab
    blob = pts[sel]
    xy, z = blob[:, :2], blob[:, 2]
    top = float(np.percentile(z, 90))
    # the closing direction: across the blob's narrowest horizontal extent (the skills' own search)
    yaw = grasp_yaw(blob, [*xy.mean(axis=0), top], table_z, radius=np.inf, min_height=min_height)
    close = np.array([math.cos(yaw), math.sin(yaw)])
    across = np.array([-close[1], close[0]])
    a, b = xy @ close, xy @ across
    centre = close * (a.max() + a.min()) / 2 + across * (b.max() + b.min()) / 2
    width, length = float(a.max() - a.min()), float(b.max() - b.min())
    return DepthGrasp(np.array([centre[0], centre[1], top]), yaw, width, length, int(sel.sum()))


def _depth_edges(d: np.ndarray, step: float) -> np.ndarray:
    """Pixels with a 4-neighbour more than ``step`` nearer: the far side of a depth step."""
    near = np.zeros(d.shape, bool)
    z = np.where(np.isfinite(d) & (d > 0), d, 1e6)  # no data: far, never "nearer"
    near[1:] |= z[1:] - z[:-1] > step
    near[:-1] |= z[:-1] - z[1:] > step
    near[:, 1:] |= z[:, 1:] - z[:, :-1] > step
    near[:, :-1] |= z[:, :-1] - z[:, 1:] > step
    return near


def _label_near(labels: np.ndarray, row: int, col: int, search: int) -> int:
    """The blob label at (row, col), else the nearest one within ``search`` pixels (0: none)."""
    if labels[row, col]:
        return int(labels[row, col])
    h, w = labels.shape
    best, best_d = 0, math.inf
    for dr in range(-search, search + 1):
        for dc in range(-search, search + 1):
            r, c = row + dr, col + dc
            if 0 <= r < h and 0 <= c < w and labels[r, c] and dr * dr + dc * dc < best_d:
                best, best_d = int(labels[r, c]), dr * dr + dc * dc
    return best
