"""Reading calibration files: YAML (cv::FileStorage's ``%YAML:1.0`` header and ``!!opencv-matrix``
tags included) or JSON into dicts, and field access whose errors name the file and the field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml


class CalibrationError(ValueError):
    """A calibration file or record that cannot be trusted; the message names the source and field."""


def positive_int(value: Any, name: str, src: str) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{src}: field {name!r} must be an integer, got {value!r}") from None
    if v <= 0 or v != float(value):
        raise CalibrationError(f"{src}: field {name!r} must be a positive integer, got {value!r}")
    return v


def need_field(d: Mapping[str, Any], key: str, src: str, *alts: str) -> Any:
    """``d[key]`` (or the first alternative key present); a missing field names the file and field."""
    for k in (key, *alts):
        if isinstance(d, Mapping) and k in d and d[k] is not None:
            return d[k]
    also = f" (or {', '.join(repr(a) for a in alts)})" if alts else ""
    raise CalibrationError(f"{src}: field {key!r}{also} is missing")


def as_matrix(value: Any, shape: tuple[int, int] | None, src: str, name: str) -> np.ndarray:
    """A matrix from a nested list, a flat list, or a ``{rows, cols, data}`` mapping (ROS / OpenCV)."""
    if isinstance(value, Mapping):
        data = need_field(value, "data", src + f" [{name}]")
        rows, cols = value.get("rows"), value.get("cols")
        arr = np.asarray(data, dtype=float).reshape(-1)
        if rows is not None and cols is not None:
            if arr.size != int(rows) * int(cols):
                raise CalibrationError(f"{src}: field '{name}.data' has {arr.size} values, rows×cols = {rows}×{cols}")
            arr = arr.reshape(int(rows), int(cols))
    else:
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise CalibrationError(f"{src}: field {name!r} is not a numeric matrix: {value!r}") from None
    if shape is not None:
        if arr.size != shape[0] * shape[1]:
            raise CalibrationError(f"{src}: field {name!r} must have {shape[0]}×{shape[1]} values, got {arr.size}")
        arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{src}: field {name!r} has non-finite values")
    return arr


# --- file readers ---------------------------------------------------------------------------------
class _OpenCVLoader(yaml.SafeLoader):
    """PyYAML loader that accepts cv::FileStorage's ``!!opencv-matrix`` tags."""


def _opencv_matrix(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
    return loader.construct_mapping(node, deep=True)


for _tag in ("tag:yaml.org,2002:opencv-matrix", "!opencv-matrix"):
    _OpenCVLoader.add_constructor(_tag, _opencv_matrix)


def read_mapping(path: str | Path) -> dict:
    """A YAML or JSON file as a dict, cv::FileStorage's ``%YAML:1.0`` header and tags included."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise CalibrationError(f"{p}: cannot read: {e.strerror or e}") from None
    text = re.sub(r"^%YAML[: ]1\.\d+\s*\n(---\s*\n)?", "", text)  # cv::FileStorage header
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.load(text, Loader=_OpenCVLoader)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise CalibrationError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {e}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data
