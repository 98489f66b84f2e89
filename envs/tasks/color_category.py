"""The simplest real referring task: "point at the <color> <category>".

A target qualifies when its (colour, category) pair is unique in the scene and at least
``min_visible_pixels`` of it are visible. The full relational engine lives beside this module
(later); both return a ``ReferringTask``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import ndimage

from roboref.envs.scene import SceneSpec
from roboref.envs.tasks.records import ReasoningStep, ReferringTask

TEMPLATES = (
    "Point at the {name}.",
    "Where is the {name}?",
    "Find the {name} on the table.",
    "Point to the {name} in the image.",
)


def interior_point(mask: np.ndarray) -> tuple[float, float]:
    """The normalized centre of the mask pixel farthest from the mask's border (the image edge
    counts as border). The distance transform runs on the mask's bounding box with one pixel of
    margin: every outside pixel is nearer to that margin than to the mask, so the distances, and
    the first maximum in row-major order, are those of the whole image (tested)."""
    h, w = mask.shape
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return (0.5 / w, 0.5 / h)  # as argmax of an all-zero image: the first pixel
    r0, r1 = np.flatnonzero(rows)[[0, -1]]
    c0, c1 = np.flatnonzero(cols)[[0, -1]]
    top, left = max(r0 - 1, 0), max(c0 - 1, 0)
    crop = np.pad(mask[top : r1 + 2, left : c1 + 2], 1)
    dist = ndimage.distance_transform_edt(crop)[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
    row, col = row + top, col + left
    return (float((col + 0.5) / w), float((row + 0.5) / h))


def sample_color_category_task(
    rng: np.random.Generator,
    scene: SceneSpec,
    seg: np.ndarray,
    depth: np.ndarray,
    min_visible_pixels: int = 30,
) -> ReferringTask | None:
    """A task on a uniquely named, visible object, or ``None`` when the scene has none."""
    counts = Counter(o.name for o in scene.objects)
    candidates = [
        k
        for k, o in enumerate(scene.objects)
        if counts[o.name] == 1 and int((seg == k + 1).sum()) >= min_visible_pixels
    ]
    if not candidates:
        return None
    k = candidates[int(rng.integers(len(candidates)))]
    obj = scene.objects[k]
    mask = seg == k + 1
    point = interior_point(mask)
    rows, cols = np.nonzero(mask)
    h, w = mask.shape
    centroid = (float((cols.mean() + 0.5) / w), float((rows.mean() + 0.5) / h))
    col, row = int(point[0] * w), int(point[1] * h)
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    steps = (
        ReasoningStep("Position", obj.name, (round(centroid[0], 4), round(centroid[1], 4))),
        ReasoningStep("Depth", obj.name, round(float(depth[row, col]), 4)),
    )
    return ReferringTask(
        instruction=template.format(name=obj.name),
        kind="location",
        mask=mask,
        point=point,
        target=k,
        steps=steps,
        relations=(),
        program=f"filter(color={obj.color}, category={obj.category})",
    )
