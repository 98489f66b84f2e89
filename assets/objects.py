"""The object library: categories built from MuJoCo primitives, a named colour palette, sizes.

Every object is a short list of primitive ``Part``s in the object's own frame (origin at the
bottom centre, z up, +x = the object's front where it has one, e.g. a mug's handle side). Parts
are primitives so that one compiled model can show any object by rewriting geom arrays at reset.
``assets.variants`` adds mesh-built shapes of every category (opt-in: ``object_variants``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Named colours (RGB in [0, 1]). Instructions use these names.
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.12),
    "green": (0.16, 0.65, 0.22),
    "blue": (0.15, 0.30, 0.85),
    "yellow": (0.95, 0.85, 0.15),
    "orange": (0.98, 0.50, 0.08),
    "purple": (0.50, 0.20, 0.70),
    "pink": (0.98, 0.55, 0.75),
    "white": (0.95, 0.95, 0.95),
    "black": (0.08, 0.08, 0.08),
    "brown": (0.50, 0.30, 0.12),
    "gray": (0.55, 0.55, 0.55),
    "cyan": (0.10, 0.80, 0.85),
}

#: The most parts any category uses; each object slot in a compiled world has this many geoms.
MAX_PARTS = 4


@dataclass(frozen=True)
class Part:
    """One geom: MuJoCo type name, MuJoCo size, pose in the object frame, colour.

    ``color`` is ``None`` for the object's main colour, else a palette name.
    """

    type: str
    size: tuple[float, float, float]
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    color: str | None = None
    #: For ``type == "mesh"``: the name of a mesh in ``variants.mesh_bank()`` (already in the object frame).
    mesh: str | None = None


@dataclass(frozen=True)
class Category:
    """A kind of object a person would name, with how to size and build it."""

    name: str
    sample_size: Callable[[np.random.Generator], tuple[float, float, float]]
    parts: Callable[[tuple[float, float, float]], tuple[Part, ...]]
    colors: tuple[str, ...] = tuple(PALETTE)
    density: float = 400.0  # kg/m^3 of the solid primitives
    has_front: bool = False
    synonyms: tuple[str, ...] = ()
    #: Height of a flat top that can hold another object (None: nothing rests on it).
    support_top: Callable[[tuple[float, float, float]], float] | None = None
    #: Whether it has an opening to put things into (bowl, cup, …): "inside" applies.
    container: bool = False


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _quat_y(angle: float) -> tuple[float, float, float, float]:
    return (math.cos(angle / 2), 0.0, math.sin(angle / 2), 0.0)


def _quat_z(angle: float) -> tuple[float, float, float, float]:
    return (math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2))


def _cyl(d: float, h: float) -> tuple[float, float, float]:
    return (d, d, h)


# --- sizes (full extents dx, dy, dz in metres) -----------------------------------------------


def _mug_size(rng):
    d = _u(rng, 0.065, 0.085)
    return (d + 0.028, d, _u(rng, 0.08, 0.105))


def _mug_parts(s):
    dx, d, h = s
    r = d / 2
    cx = -(dx - d) / 2  # body centre, so the bounding box is centred on the origin
    hx = cx + r + 0.020
    return (
        Part("cylinder", (r, h / 2, 0), (cx, 0, h / 2)),
        Part("box", (0.005, 0.006, h * 0.30), (hx, 0, h / 2)),
        Part("box", (0.012, 0.006, 0.005), (hx - 0.010, 0, h / 2 + h * 0.27)),
        Part("box", (0.012, 0.006, 0.005), (hx - 0.010, 0, h / 2 - h * 0.27)),
    )


def _cup_parts(s):
    d, _, h = s
    return (
        Part("cylinder", (d / 2, h / 2, 0), (0, 0, h / 2)),
        Part("cylinder", (d / 2 + 0.002, 0.005, 0), (0, 0, h - 0.005), color="white"),
    )


def _bowl_size(rng):
    return _cyl(_u(rng, 0.13, 0.18), _u(rng, 0.05, 0.07))


def _bowl_parts(s):
    d, _, h = s
    foot = 0.008
    return (
        Part("cylinder", (d * 0.22, foot / 2, 0), (0, 0, foot / 2)),
        Part("ellipsoid", (d / 2, d / 2, (h - foot) / 2), (0, 0, foot + (h - foot) / 2 - 0.001)),
    )


def _plate_parts(s):
    d, _, h = s
    return (
        Part("cylinder", (d / 2, h / 2, 0), (0, 0, h / 2)),
        Part("cylinder", (d * 0.32, h * 0.3, 0), (0, 0, h + h * 0.3 - 0.001), color="white"),
    )


def _bottle_size(rng):
    return _cyl(_u(rng, 0.055, 0.075), _u(rng, 0.18, 0.24))


def _bottle_parts(s):
    d, _, h = s
    body = h * 0.62
    shoulder = h * 0.12
    neck = h - body - shoulder - 0.02
    return (
        Part("cylinder", (d / 2, body / 2, 0), (0, 0, body / 2)),
        Part("cylinder", (d * 0.32, shoulder / 2, 0), (0, 0, body + shoulder / 2)),
        Part("cylinder", (d * 0.2, neck / 2, 0), (0, 0, body + shoulder + neck / 2)),
        Part("cylinder", (d * 0.22, 0.01, 0), (0, 0, h - 0.01), color="white"),
    )


def _can_parts(s):
    d, _, h = s
    return (
        Part("cylinder", (d / 2, h / 2 - 0.004, 0), (0, 0, h / 2 - 0.004)),
        Part("cylinder", (d / 2 - 0.003, 0.004, 0), (0, 0, h - 0.004), color="gray"),
    )


def _box_parts(s):
    return (Part("box", (s[0] / 2, s[1] / 2, s[2] / 2), (0, 0, s[2] / 2)),)


def _book_size(rng):
    return (_u(rng, 0.15, 0.22), _u(rng, 0.11, 0.15), _u(rng, 0.025, 0.045))


def _book_parts(s):
    dx, dy, dz = s
    return (
        Part("box", (dx / 2, dy / 2, dz * 0.12), (0, 0, dz * 0.12)),
        Part("box", (dx / 2, dy / 2, dz * 0.12), (0, 0, dz * 0.88)),
        Part("box", (dx * 0.48, dy / 2 - 0.004, dz * 0.38), (0.004 - dx * 0.02, 0, dz / 2), color="white"),
        Part("box", (0.005, dy / 2, dz / 2), (-dx / 2 + 0.005, 0, dz / 2)),
    )


def _apple_size(rng):
    d = _u(rng, 0.065, 0.085)
    return (d, d, d * 0.9 + 0.012)


def _apple_parts(s):
    d, _, h = s
    body = h - 0.012
    return (
        Part("ellipsoid", (d / 2, d / 2, body / 2), (0, 0, body / 2)),
        Part("cylinder", (0.003, 0.008, 0), (0, 0, body + 0.004), color="brown"),
    )


_BEND = 0.4  # radians between the banana's middle and end segments


def _banana_size(rng):
    length, h = _u(rng, 0.17, 0.21), _u(rng, 0.032, 0.038)
    seg = (length - h) / (1 + 2 * math.cos(_BEND))
    return (length, seg * math.sin(_BEND) + h, h)


def _banana_parts(s):
    length, dy, h = s
    r = h / 2
    seg = (length - h) / (1 + 2 * math.cos(_BEND))
    y0 = -(dy - h) / 2  # centre the bounding box on the origin
    c, sn = math.cos(_BEND), math.sin(_BEND)
    along_x = _quat_y(math.pi / 2)
    end = (seg / 2 + seg * c, y0 + seg * sn)
    return (
        Part("capsule", (r, seg / 2, 0), (0, y0, r), quat=along_x),
        Part(
            "capsule",
            (r * 0.9, seg / 2, 0),
            (-(seg / 2 + seg / 2 * c), y0 + seg / 2 * sn, r),
            quat=_mul(_quat_z(-_BEND), along_x),
        ),
        Part(
            "capsule",
            (r * 0.9, seg / 2, 0),
            (seg / 2 + seg / 2 * c, y0 + seg / 2 * sn, r),
            quat=_mul(_quat_z(_BEND), along_x),
        ),
        Part("sphere", (r * 0.6, 0, 0), (end[0], end[1], r), color="brown"),
    )


def _mul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return (
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    )


def _block_size(rng):
    a = _u(rng, 0.035, 0.055)
    return (a, a, a)


def _ball_size(rng):
    d = _u(rng, 0.055, 0.08)
    return (d, d, d)


def _ball_parts(s):
    return (Part("sphere", (s[0] / 2, 0, 0), (0, 0, s[0] / 2)),)


def _orange_size(rng):
    d = _u(rng, 0.07, 0.085)
    return (d, d, d * 0.95)


def _orange_parts(s):
    d, _, h = s
    return (
        Part("ellipsoid", (d / 2, d / 2, h / 2), (0, 0, h / 2)),
        Part("cylinder", (0.004, 0.002, 0), (0, 0, h), color="green"),
    )


def _marker_size(rng):
    return (_u(rng, 0.12, 0.15), 0.022, 0.022)


def _marker_parts(s):
    length, d, _ = s
    r = d / 2
    body = length - 2 * r - 0.03
    return (
        Part("cylinder", (r, body / 2, 0), (-0.015, 0, r), quat=_quat_y(math.pi / 2)),
        Part("cylinder", (r * 1.05, 0.015, 0), (body / 2, 0, r), quat=_quat_y(math.pi / 2), color=None),
        Part(
            "capsule",
            (r * 0.7, 0.006, 0),
            (-body / 2 - 0.015 - 0.006, 0, r),
            quat=_quat_y(math.pi / 2),
            color="white",
        ),
    )


def _jar_size(rng):
    return _cyl(_u(rng, 0.07, 0.1), _u(rng, 0.09, 0.14))


def _jar_parts(s):
    d, _, h = s
    return (
        Part("cylinder", (d / 2, (h - 0.02) / 2, 0), (0, 0, (h - 0.02) / 2)),
        Part("cylinder", (d / 2 + 0.003, 0.01, 0), (0, 0, h - 0.01), color="gray"),
    )


_ALL = tuple(PALETTE)
_FRUIT_FREE = tuple(c for c in _ALL if c not in ("brown",))

CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("mug", _mug_size, _mug_parts, has_front=True, synonyms=("cup with a handle",), container=True),
        Category("cup", lambda r: _cyl(_u(r, 0.055, 0.07), _u(r, 0.085, 0.115)), _cup_parts, container=True),
        Category("bowl", _bowl_size, _bowl_parts, container=True),
        Category(
            "plate",
            lambda r: _cyl(_u(r, 0.17, 0.22), 0.014),
            _plate_parts,
            colors=("white", "blue", "green", "gray", "yellow", "red", "black"),
            density=1500,
            synonyms=("dish",),
            support_top=lambda s: s[2] * 1.6 - 0.001,
        ),
        Category("bottle", _bottle_size, _bottle_parts),
        Category("can", lambda r: _cyl(_u(r, 0.062, 0.068), _u(r, 0.11, 0.125)), _can_parts, synonyms=("tin",)),
        Category(
            "box",
            lambda r: (_u(r, 0.06, 0.12), _u(r, 0.05, 0.1), _u(r, 0.04, 0.1)),
            _box_parts,
            has_front=False,
            synonyms=("carton",),
            support_top=lambda s: s[2],
        ),
        Category("book", _book_size, _book_parts, has_front=True, support_top=lambda s: s[2]),
        Category("apple", _apple_size, _apple_parts, colors=("red", "green", "yellow"), density=800),
        Category("banana", _banana_size, _banana_parts, colors=("yellow", "green"), density=900),
        Category("block", _block_size, _box_parts, synonyms=("cube",)),
        Category("ball", _ball_size, _ball_parts, density=200),
        Category("orange", _orange_size, _orange_parts, colors=("orange",), density=800),
        Category("marker", _marker_size, _marker_parts, colors=_FRUIT_FREE, has_front=True, synonyms=("pen",)),
        Category("jar", _jar_size, _jar_parts, synonyms=("container",), container=True),
    )
}


#: Small objects that may be stacked on a support (an apple on a plate, a block on a book).
STACKABLE = ("apple", "orange", "block", "can", "cup", "ball")


def get_category(name: str) -> Category:
    """The library entry for ``name``; unknown names raise with the allowed ones."""
    try:
        return CATEGORIES[name]
    except KeyError:
        raise ValueError(f"unknown object category {name!r}; known categories: {', '.join(CATEGORIES)}") from None


def check_color(name: str) -> str:
    if name not in PALETTE:
        raise ValueError(f"unknown colour {name!r}; palette: {', '.join(PALETTE)}")
    return name
