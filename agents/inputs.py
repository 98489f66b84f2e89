"""What every agent does to an observation before using it: tell whether it has depth at all, and
take a benchmark's answer-format suffix off the instruction.

RGB-only sources (RefSpatial-Bench, many cameras, the envs' no-depth sensor option) give depth
``None`` or an all-zero map; both mean "no depth", never "everything at 0 m". RefSpatial-Bench
appends a fixed sentence asking for ``[(x1, y1)]`` answers to every prompt: it says how to
answer, not what to point at, so agents that read the instruction's words take it off.
"""

from __future__ import annotations

import re

import numpy as np

#: RefSpatial-Bench's ``suffix`` field, the same on every entry (one value in all three splits; the
#: dataset card's viewer and ``roboref.refspatial.DEFAULT_SUFFIX``).
REFSPATIAL_SUFFIX = (
    "Your answer should be formatted as a list of tuples, i.e. [(x1, y1)], where each tuple contains "
    "the x and y coordinates of a point satisfying the conditions above. The coordinates should be "
    "between 0 and 1, indicating the normalized pixel locations of the points in the image."
)

# The suffix and its variants (RoboRefer's own prompt adds ", e.g. [(0.412, 0.637)]."; a reasoning
# request may follow): from its first words to the end of the text. No env instruction says this.
_SUFFIX = re.compile(r"\s*your\s+answer\s+should\s+be\s+formatted\s+as\b.*\Z", re.I | re.S)


def strip_answer_suffix(instruction: str) -> str:
    """The instruction without an answer-format suffix (and without surrounding whitespace)."""
    return _SUFFIX.sub("", str(instruction)).strip()


def observed_depth(observation: dict) -> np.ndarray | None:
    """The observation's depth (float32 metres, ``H×W``), or None when it has none: a missing
    key, ``None``, or a map with no finite positive value (all zeros: an RGB-only sensor).
    A depth whose size differs from the RGB image's is an error, not a guess."""
    depth = observation.get("depth")
    if depth is None:
        return None
    d = np.asarray(depth, np.float32)
    if d.ndim == 3 and d.shape[-1] == 1:
        d = d[..., 0]
    rgb = observation.get("rgb")
    if d.ndim != 2 or (rgb is not None and d.shape != np.shape(rgb)[:2]):
        raise ValueError(
            f"observation depth must be H×W metres matching the RGB image {np.shape(rgb)[:2]}, "
            f"got shape {d.shape} (use depth=None for an RGB-only observation)"
        )
    if not np.any(np.isfinite(d) & (d > 0)):
        return None
    return d
