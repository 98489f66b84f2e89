"""One seeded episode of the pointing env as one row of the data set, and the data set's schema.

Images are stored as PNG bytes (the ``datasets`` ``Image`` feature): RGB as 8-bit RGB, depth as
16-bit grey in millimetres (DESIGN.md's on-disk depth), the target mask as 8-bit grey 0/255.
Seeds come from ``(split, index)`` alone (``roboref.seeds``), so a sample can be regenerated anywhere
and splits never share a scene.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image

from roboref.envs.tasks.records import NoTaskError
from roboref.seeds import MAX_ATTEMPTS, SPLITS, seed_of

#: PNG zlib level. Measured at 224² (RGB + depth): level 1 and 3 take 3.3 ms, the default 6 takes
#: 6.2 ms; sizes 32 / 28 / 24 KiB. 3 is the cheapest that is not needlessly large.
PNG_LEVEL = 3
#: Depth PNG unit: millimetres in uint16 (1 mm to 65.534 m; 0 = no depth).
DEPTH_SCALE = 1000.0


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def depth_to_png(depth_m: np.ndarray) -> bytes:
    """Metric z-depth (float metres) as a 16-bit PNG in millimetres, rounded. Depths that do not
    fit (the background at the far plane, beyond 65.534 m) are 0, "no depth", as in the depth
    PNGs of real sensors (TUM, ScanNet)."""
    mm = np.round(np.asarray(depth_m, np.float64) * DEPTH_SCALE)
    return png_bytes(np.where((mm > 0) & (mm < 65535), mm, 0).astype(np.uint16))


def depth_from_png(image: Image.Image | bytes) -> np.ndarray:
    """Inverse of ``depth_to_png``: float32 metres, 0 where there is no depth."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    return np.asarray(image, dtype=np.float32) / DEPTH_SCALE


def mask_from_png(image: Image.Image | bytes) -> np.ndarray:
    """The boolean target mask from its stored PNG."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    return np.asarray(image) > 0


def episode_row(env: Any, split: str, index: int, robot: str, max_attempts: int = MAX_ATTEMPTS) -> dict:
    """Reset ``env`` with the sample's seed and encode what the agent sees and the ground truth.

    A seed without a task (``NoTaskError``) is skipped for the sample's next attempt seed; the
    row's ``seed`` tells how many were skipped (``roboref.seeds.locate``). Any other error is a bug
    and propagates. Uses only the env's public surface: ``obs`` keys and ``env.unwrapped.task`` /
    ``.scene``.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
    errors = []
    for attempt in range(max_attempts):
        seed = seed_of(split, index, attempt)
        try:
            obs, _ = env.reset(seed=seed)
            break
        except NoTaskError as err:
            errors.append(f"seed {seed}: {err}")
    else:
        raise NoTaskError(f"{split}[{index}]: no task after {max_attempts} seeds: {errors}")
    unwrapped = env.unwrapped
    task = unwrapped.task
    scene = getattr(unwrapped, "scene", None)
    target = getattr(task, "target", -1)
    obj = scene.objects[target] if scene is not None and 0 <= target < len(scene.objects) else None
    steps = tuple(task.steps)
    task_dict = {k: v for k, v in task.to_dict().items() if k != "mask"}  # the mask is the PNG
    return {
        "image": {"bytes": png_bytes(obs["rgb"]), "path": None},
        "depth": {"bytes": depth_to_png(obs["depth"]), "path": None},
        "mask": {"bytes": png_bytes(np.asarray(task.mask, bool).astype(np.uint8) * 255), "path": None},
        "instruction": str(task.instruction),
        "answer": str(task.answer),
        "point": [float(v) for v in task.point],
        "reasoning": "\n".join(s.to_text() for s in steps),
        "steps": json.dumps([s.to_dict() for s in steps]),
        "program": str(getattr(task, "program", "")),
        "kind": str(task.kind),
        "num_steps": int(task.num_steps),
        "relations": [str(r) for r in task.relations],
        "target_category": obj.category if obj is not None else "",
        "target_color": obj.color if obj is not None else "",
        "num_objects": len(scene.objects) if scene is not None else 0,
        "split": split,
        "index": int(index),
        "seed": int(seed),
        "robot": robot,
        "intrinsics": np.asarray(obs["intrinsics"], np.float32).tolist(),
        "extrinsics": np.asarray(obs["extrinsics"], np.float32).tolist(),
        "task": json.dumps(task_dict, default=_json_default),
        "scene": scene.to_json() if scene is not None else "",
    }


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in task records become plain JSON numbers and lists."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def features():
    """The ``datasets.Features`` of a row (imported lazily: workers never need ``datasets``)."""
    import datasets as hf

    text = hf.Value("string")
    return hf.Features(
        {
            "image": hf.Image(),
            "depth": hf.Image(),
            "mask": hf.Image(),
            "instruction": text,
            "answer": text,
            "point": hf.List(hf.Value("float32"), length=2),
            "reasoning": text,
            "steps": text,
            "program": text,
            "kind": text,
            "num_steps": hf.Value("int32"),
            "relations": hf.List(text),
            "target_category": text,
            "target_color": text,
            "num_objects": hf.Value("int32"),
            "split": text,
            "index": hf.Value("int64"),
            "seed": hf.Value("int64"),
            "robot": text,
            "intrinsics": hf.Array2D((3, 3), "float32"),
            "extrinsics": hf.Array2D((4, 4), "float32"),
            "task": text,
            "scene": text,
        }
    )
