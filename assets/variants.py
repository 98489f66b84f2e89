"""Mesh-built shape variants of the object categories: two or more silhouettes per category.

A variant builds an object from closed meshes (``assets.meshgen``) that exactly fill the size box
the scene sampler and the task engine reason with (origin at the bottom centre, +x the front).
Compiled meshes cannot be rescaled at run time (MuJoCo bakes vertices at compile), so each variant
comes in ``LEVELS`` fixed sizes, drawn once from the category's own size distribution; a compiled
world holds the whole bank (``mesh_bank``) and an object slot switches a geom to one of them.

Guarantees kept from the primitive library: the footprint and height are the size box; a support
(plate, book, box) has a flat top at ``Category.support_top(size)`` over its support room; a
container's opening is at most 12 mm deep, so "inside" still sees its floor within 3 cm of the top.
MuJoCo collides with each geom's convex hull: an object put into a container rests on the rim.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from roboref.assets import meshgen as mg
from roboref.assets.objects import CATEGORIES, Part

#: Fixed sizes per variant (meshes are compiled once, at these sizes).
LEVELS = 4
#: Deepest container opening (m): "inside" counts pixels within 3 cm of the rim.
MAX_RECESS = 0.012

Piece = tuple[str | None, mg.Mesh]  # (colour: None = the object's main colour, mesh)


@dataclass(frozen=True)
class Variant:
    """One silhouette of a category: ``build(size)`` gives its coloured mesh pieces (≤ 4)."""

    category: str
    name: str
    build: Callable[[tuple[float, float, float]], list[Piece]]
    #: Size distribution of its levels; None: the category's own.
    sample_size: Callable[[np.random.Generator], tuple[float, float, float]] | None = None

    def sizes(self) -> tuple[tuple[float, float, float], ...]:
        """The ``LEVELS`` sizes it comes in (rounded as the scene sampler rounds sizes)."""
        draw = self.sample_size or CATEGORIES[self.category].sample_size
        seed = zlib.crc32(f"{self.category}/{self.name}".encode())
        rng = np.random.default_rng(seed)
        return tuple(tuple(round(float(v), 5) for v in draw(rng)) for _ in range(LEVELS))


def _height(category: str, size) -> float:
    """Actual height of the object (a plate's size z is its rim; its centre stands 1.6× higher)."""
    return size[2] * 1.6 - 0.001 if category == "plate" else size[2]


def _fit(pieces: list[Piece], size, height: float) -> list[Piece]:
    """Scale and shift all pieces together so their union exactly fills the size box."""
    verts = np.concatenate([m[0] for _, m in pieces])
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    target_lo = np.array([-size[0] / 2, -size[1] / 2, 0.0])
    target_hi = np.array([size[0] / 2, size[1] / 2, height])
    scale = (target_hi - target_lo) / (hi - lo)
    return [(c, ((m[0] - lo) * scale + target_lo, m[1])) for c, m in pieces]


def _recessed(profile: list[tuple[float, float]], rim: float = 0.004, depth: float = 0.01):
    """Close an outer lathe profile ending at the rim ``(R, h)`` with a recess ``depth`` deep."""
    r, h = profile[-1]
    return [*profile, (r - rim, h), (r - rim - 0.002, h - depth), (0.0, h - depth)]


def _wavy(r0: float, r1: float, h0: float, h1: float, fn: Callable[[float], float], n: int = 8):
    """Profile points from height h0 to h1 with radius ``r0 + (r1 - r0) * fn(t)``."""
    return [(r0 + (r1 - r0) * fn(t), h0 + (h1 - h0) * t) for t in np.linspace(0.0, 1.0, n)]


# --- containers ----------------------------------------------------------------------------------


def _handle(x_wall: float, x_out: float, z_lo: float, z_hi: float, r: float) -> mg.Mesh:
    t = np.linspace(-math.pi / 2, math.pi / 2, 12)
    zc, zr = (z_lo + z_hi) / 2, (z_hi - z_lo) / 2
    path = np.stack([x_wall + (x_out - r - x_wall) * np.cos(t), np.zeros_like(t), zc + zr * np.sin(t)], axis=1)
    return mg.tube(path, np.full(len(t), r), 8)


def _mug(shape: str):
    def build(s):
        dx, d, h = s
        R, cx = d / 2, -(dx - d) / 2
        if shape == "tapered":
            prof = _wavy(0.8 * R, R, 0.0, h, lambda t: t, 4)
        else:  # barrel
            prof = _wavy(0.86 * R, R, 0.0, h, lambda t: math.sin(math.pi * (0.15 + 0.7 * t)), 9)
            prof[-1] = (0.9 * R, h)
        body = mg.transform(mg.lathe(_recessed([(0.0, 0.0), *prof], depth=MAX_RECESS)), shift=(cx, 0, 0))
        wall = cx + (0.88 if shape == "tapered" else 0.9) * R - 0.003
        handle = _handle(wall, dx / 2, 0.25 * h, 0.78 * h, 0.0055)
        return _fit([(None, body), (None, handle)], s, h)

    return build


def _cup(shape: str):
    def build(s):
        d, _, h = s
        R = d / 2
        if shape == "paper":
            prof = [(0.72 * R, 0.0), (0.93 * R, h - 0.006), (R, h - 0.004), (R, h)]
        else:  # tumbler: waisted
            prof = _wavy(0.78 * R, R, 0.0, h, lambda t: abs(math.cos(math.pi * t)) ** 1.5, 9)
        return _fit([(None, mg.lathe(_recessed([(0.0, 0.0), *prof])))], s, h)

    return build


def _bowl(shape: str):
    def build(s):
        d, _, h = s
        R = d / 2
        if shape == "round":
            foot = [(0.42 * R, 0.0), (0.44 * R, 0.008)]
            prof = [*foot, *_wavy(0.44 * R, R, 0.008, h, lambda t: math.sin(math.pi / 2 * t) ** 0.7, 7)[1:]]
        else:  # flared cone
            prof = [(0.5 * R, 0.0), (0.55 * R, 0.006), (R, h)]
        return _fit([(None, mg.lathe(_recessed([(0.0, 0.0), *prof], 0.005, MAX_RECESS)))], s, h)

    return build


def _jar(shape: str):
    def build(s):
        d, _, h = s
        R = d / 2
        if shape == "mason":
            body = [(0.97 * R, 0.0), (R, 0.01), (R, 0.72 * h), (0.86 * R, 0.84 * h), (0.82 * R, h - 0.018)]
        else:  # squat, round-shouldered
            body = [*_wavy(0.8 * R, R, 0.0, 0.5 * h, lambda t: math.sin(math.pi / 2 * t), 5), (0.9 * R, 0.75 * h)]
            body += [(0.78 * R, h - 0.018)]
        lid_r = body[-1][0] + 0.003
        lid = [(0.0, h - 0.02), (lid_r, h - 0.02), (lid_r, h - 0.003), (lid_r - 0.003, h), (0.0, h)]
        return _fit([(None, mg.lathe([(0.0, 0.0), *body, (0.0, h - 0.018)])), ("gray", mg.lathe(lid))], s, h)

    return build


# --- flat supports ---------------------------------------------------------------------------------


def _plate(shape: str):
    def build(s):
        d, _, h = s
        R, top = d / 2, _height("plate", s)
        if shape == "rimmed":
            prof = [(0.0, 0.0), (0.6 * R, 0.0), (R, 0.6 * h), (R, h), (0.74 * R, h), (0.68 * R, top), (0.0, top)]
            return _fit([(None, mg.lathe(prof, 32))], s, top)
        base = mg.extrude(mg.rounded_rect(d, d, 0.2 * d), 0.0, h, bevel=0.002)
        centre = mg.extrude(mg.rounded_rect(0.68 * d, 0.68 * d, 0.1 * d), h - 0.001, top)
        return _fit([(None, base), ("white", centre)], s, top)

    return build


def _box(shape: str):
    def build(s):
        dx, dy, dz = s
        if shape == "rounded":
            return _fit([(None, mg.extrude(mg.rounded_rect(dx, dy, 0.012), 0.0, dz, bevel=0.003))], s, dz)
        lid_h = 0.22 * dz
        body = mg.extrude(mg.rounded_rect(dx - 0.008, dy - 0.008, 0.004, 2), 0.0, dz - lid_h + 0.001)
        lid = mg.extrude(mg.rounded_rect(dx, dy, 0.004, 2), dz - lid_h, dz)
        return _fit([(None, body), (None, lid)], s, dz)

    return build


def _book(shape: str):
    def build(s):
        dx, dy, dz = s
        if shape == "hardcover":
            board = 0.14 * dz
            covers = mg.merge(
                mg.extrude(mg.rounded_rect(dx - dz / 2, dy, 0.002, 1), 0.0, board),
                mg.extrude(mg.rounded_rect(dx - dz / 2, dy, 0.002, 1), dz - board, dz),
            )
            covers = mg.transform(covers, shift=(dz / 4, 0, 0))
            path = np.stack([np.full(2, -dx / 2 + dz / 2), [-dy / 2, dy / 2], np.full(2, dz / 2)], axis=1)
            spine = mg.tube(np.linspace(path[0], path[1], 3), np.full(3, dz / 2), 12)
            pages = mg.extrude(mg.rounded_rect(dx - dz / 2 - 0.004, dy - 0.008, 0.001, 1), board - 0.001, dz - board)
            pages = mg.transform(pages, shift=(dz / 4 - 0.002, 0, 0))
            return _fit([(None, covers), (None, spine), ("white", pages)], s, dz)
        # paperback: a D-shaped block (rounded spine at -x), pages showing at the front edge
        front, cx = dx / 2 - 0.003, -dx / 2 + dz / 2
        a = np.linspace(math.pi / 2, 3 * math.pi / 2, 9)
        outline = [(front, 0.0), (front, dz)] + [(cx + dz / 2 * math.cos(t), dz / 2 + dz / 2 * math.sin(t)) for t in a]
        v, f = mg.extrude(np.asarray(outline), -dy / 2, dy / 2)  # outline in (x, z), extruded along y
        block = (v[:, [0, 2, 1]], f[:, ::-1])  # swap y and z (a mirror: flip the winding back)
        pages = mg.extrude(mg.rounded_rect(0.004, dy - 0.006, 0.0005, 1), 0.1 * dz, 0.9 * dz)
        pages = mg.transform(pages, shift=(dx / 2 - 0.002, 0, 0))
        return _fit([(None, block), ("white", pages)], s, dz)

    return build


# --- tall and round things --------------------------------------------------------------------------


def _bottle(shape: str):
    def build(s):
        d, _, h = s
        R, cap_h = d / 2, 0.02
        if shape == "wine":
            body = [(0.95 * R, 0.0), (R, 0.01), (R, 0.6 * h), (0.8 * R, 0.7 * h), (0.45 * R, 0.76 * h)]
            body += [(0.36 * R, 0.82 * h), (0.36 * R, h - cap_h)]
        else:  # soda: waisted body, short neck
            body = [(0.9 * R, 0.0), (R, 0.02), (0.86 * R, 0.3 * h), (R, 0.55 * h), (0.7 * R, 0.72 * h)]
            body += [(0.42 * R, 0.8 * h), (0.4 * R, h - cap_h)]
        cap_r = body[-1][0] + 0.002
        cap = [(0.0, h - cap_h - 0.002), (cap_r, h - cap_h - 0.002), (cap_r, h), (0.0, h)]
        return _fit([(None, mg.lathe([(0.0, 0.0), *body, (0.0, h - cap_h)])), ("white", mg.lathe(cap))], s, h)

    return build


def _can(shape: str):
    def build(s):
        d, _, h = s
        R, lid_h = d / 2, 0.004
        if shape == "soda":
            body = [(0.8 * R, 0.0), (0.86 * R, 0.004), (R, 0.016), (R, h - 0.014), (0.84 * R, h - lid_h)]
        else:  # food tin with ribs
            z = np.linspace(0.004, h - lid_h - 0.004, 13)
            body = [(0.97 * R, 0.0)] + [(R if i % 2 == 0 else 0.96 * R, float(zi)) for i, zi in enumerate(z)]
            body += [(0.97 * R, h - lid_h)]
        lid_r = body[-1][0] - 0.001
        lid = [(0.0, h - lid_h - 0.001), (lid_r, h - lid_h - 0.001), (lid_r, h), (0.0, h)]
        return _fit([(None, mg.lathe([(0.0, 0.0), *body, (0.0, h - lid_h)])), ("gray", mg.lathe(lid))], s, h)

    return build


def _block(shape: str):
    def build(s):
        a = s[0]
        if shape == "bevelled":
            return _fit([(None, mg.extrude(mg.rounded_rect(a, a, 0.004, 2), 0.0, a, bevel=0.005))], s, s[2])
        return _fit([(None, mg.extrude(mg.regular_polygon(6, a / 2), 0.0, a))], s, s[2])

    return build


def _ball(shape: str):
    def build(s):
        if shape == "faceted":
            return _fit([(None, mg.icosphere(s[2] / 2, 1))], s, s[2])
        seams = mg.lathe(
            [(0.0, -1.0), *[(math.sin(t), -math.cos(t)) for t in np.linspace(0.2, math.pi - 0.2, 9)], (0.0, 1.0)]
        )
        return _fit([(None, mg.transform(seams, rotate=mg.ROT_Z_TO_X))], s, s[2])

    return build


def _fruit(profile: Callable[[float, float], list[tuple[float, float]]], stem_color: str, stem_len: float):
    def build(s):
        d, _, h = s
        body_h = h - stem_len
        body = mg.lathe(profile(d / 2, body_h))
        top = max(z for r, z in profile(d / 2, body_h) if r < 0.35 * d / 2)
        t = np.linspace(0.0, 1.0, 4)
        path = np.stack([0.002 * t**2, np.zeros(4), top - 0.004 + (h - top + 0.004) * t], axis=1)
        stem = mg.tube(path, np.full(4, 0.0025), 6)
        return _fit([(None, body), (stem_color, stem)], s, h)

    return build


def _apple_round(R, hb):
    return [
        (0.0, 0.006),
        (0.45 * R, 0.0),
        *_wavy(0.7 * R, R, 0.15 * hb, 0.6 * hb, lambda t: math.sin(t * 2), 4)[1:],
    ] + [
        (0.8 * R, 0.95 * hb),
        (0.35 * R, hb),
        (0.0, hb - 0.008),
    ]


def _apple_tall(R, hb):
    return [(0.0, 0.004), (0.4 * R, 0.0), (0.75 * R, 0.2 * hb), (R, 0.62 * hb), (0.85 * R, 0.95 * hb)] + [
        (0.35 * R, hb),
        (0.0, hb - 0.01),
    ]


def _mandarin(R, hb):
    return [
        (0.0, 0.002),
        *[(R * math.sin(t), hb / 2 * (1 - math.cos(t))) for t in np.linspace(0.3, math.pi - 0.3, 9)],
    ] + [(0.0, hb - 0.002)]


def _nubbed(R, hb):
    body = [(R * math.sin(t), 0.45 * hb * (1 - math.cos(t))) for t in np.linspace(0.3, 0.8 * math.pi, 8)]
    return [(0.0, 0.002), *body, (0.3 * R, 0.94 * hb), (0.15 * R, hb), (0.0, hb)]


def _banana(bend: float, fat: float):
    def build(s):
        length, dy, h = s
        t = np.linspace(-1.0, 1.0, 15)
        arc = bend * t
        radius = length / (2 * math.sin(bend))
        path = np.stack([radius * np.sin(arc), radius * (np.cos(arc) - 1), np.full_like(t, h / 2)], axis=1)
        radii = h / 2 * (1 - (1 - fat) * t**2) * np.where(t > 0.85, 0.7, 1.0)
        body = mg.tube(path, radii, 8)
        tip = mg.tube(
            np.stack([path[-1], path[-1] + 0.012 * (path[-1] - path[-2]) / np.linalg.norm(path[-1] - path[-2])]),
            np.full(2, 0.0045),
            6,
        )
        return _fit([(None, body), ("brown", tip)], s, h)

    return build


def _marker(shape: str):
    def build(s):
        length, d, _ = s
        r = d / 2
        body_len = length - 0.045
        if shape == "hex":
            body = mg.extrude(mg.regular_polygon(6, r, math.pi / 6), 0.0, body_len)
        else:
            body = mg.lathe([(0.0, 0.0), (0.92 * r, 0.0), (r, 0.01), (0.9 * r, body_len), (0.0, body_len)], 16)
        cap = mg.lathe(
            [
                (0.0, body_len - 0.001),
                (1.05 * r, body_len - 0.001),
                (r, length - 0.017),
                (0.6 * r, length - 0.015),
                (0.0, length - 0.015),
            ],
            16,
        )
        tip = mg.lathe([(0.0, -0.015), (0.25 * r, -0.014), (0.7 * r, 0.001), (0.0, 0.001)], 12)
        pieces = [(c, mg.transform(m, rotate=mg.ROT_Z_TO_X)) for c, m in ((None, body), (None, cap), ("white", tip))]
        return _fit(pieces, s, d)

    return build


VARIANTS: dict[str, tuple[Variant, ...]] = {
    "mug": (Variant("mug", "tapered", _mug("tapered")), Variant("mug", "barrel", _mug("barrel"))),
    "cup": (Variant("cup", "paper", _cup("paper")), Variant("cup", "tumbler", _cup("tumbler"))),
    "bowl": (Variant("bowl", "round", _bowl("round")), Variant("bowl", "flared", _bowl("flared"))),
    "plate": (Variant("plate", "rimmed", _plate("rimmed")), Variant("plate", "square", _plate("square"))),
    "bottle": (Variant("bottle", "wine", _bottle("wine")), Variant("bottle", "soda", _bottle("soda"))),
    "can": (Variant("can", "soda", _can("soda")), Variant("can", "tin", _can("tin"))),
    "box": (Variant("box", "rounded", _box("rounded")), Variant("box", "lidded", _box("lidded"))),
    "book": (Variant("book", "hardcover", _book("hardcover")), Variant("book", "paperback", _book("paperback"))),
    "apple": (
        Variant("apple", "round", _fruit(_apple_round, "brown", 0.012)),
        Variant("apple", "tall", _fruit(_apple_tall, "brown", 0.012)),
    ),
    "banana": (Variant("banana", "curved", _banana(0.55, 0.75)), Variant("banana", "ripe", _banana(0.8, 0.6))),
    "block": (Variant("block", "bevelled", _block("bevelled")), Variant("block", "hex", _block("hex"))),
    "ball": (
        Variant("ball", "faceted", _ball("faceted")),
        Variant("ball", "rugby", _ball("rugby"), lambda r: _scaled(CATEGORIES["ball"].sample_size(r), (1.5, 1, 1))),
    ),
    "orange": (
        Variant(
            "orange",
            "mandarin",
            _fruit(_mandarin, "green", 0.006),
            lambda r: _scaled(CATEGORIES["orange"].sample_size(r), (1, 1, 0.8)),
        ),
        Variant("orange", "nubbed", _fruit(_nubbed, "green", 0.004)),
    ),
    "marker": (Variant("marker", "round", _marker("round")), Variant("marker", "hex", _marker("hex"))),
    "jar": (Variant("jar", "mason", _jar("mason")), Variant("jar", "squat", _jar("squat"))),
}


def _scaled(size, factors):
    return tuple(float(v) * f for v, f in zip(size, factors, strict=True))


def get_variant(category: str, name: str) -> Variant:
    """The variant ``name`` of ``category``; unknown names raise with the known ones."""
    for v in VARIANTS.get(category, ()):
        if v.name == name:
            return v
    known = ", ".join(v.name for v in VARIANTS.get(category, ()))
    raise ValueError(f"unknown shape variant {name!r} of {category!r}; known variants: {known}")


def mesh_name(category: str, variant: str, level: int, piece: int) -> str:
    return f"{category}/{variant}/{level}/{piece}"


def variant_parts(category: str, variant: str, size) -> tuple[tuple[Part, ...], dict[str, mg.Mesh]]:
    """The parts of a mesh-variant object (mesh geoms at the origin) and the meshes they name.
    ``size`` must be one of the variant's ``sizes()``."""
    v = get_variant(category, variant)
    sizes = v.sizes()
    key = tuple(round(float(x), 5) for x in size)
    if key not in sizes:
        raise ValueError(f"size {tuple(size)} is not one of the {category}/{variant} mesh sizes {sizes}")
    level = sizes.index(key)
    pieces = _pieces(category, variant, level)
    parts, meshes = [], {}
    for i, (color, mesh) in enumerate(pieces):
        name = mesh_name(category, variant, level, i)
        parts.append(Part("mesh", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), color=color, mesh=name))
        meshes[name] = mesh
    return tuple(parts), meshes


@cache
def _pieces(category: str, variant: str, level: int) -> tuple[Piece, ...]:
    v = get_variant(category, variant)
    pieces = tuple(v.build(v.sizes()[level]))
    if not 1 <= len(pieces) <= 4:
        raise AssertionError(f"{category}/{variant} has {len(pieces)} pieces; slots hold 1–4 geoms")
    return pieces


@lru_cache(maxsize=1)
def mesh_bank() -> dict[str, mg.Mesh]:
    """Every mesh of every variant at every size: what a world with mesh objects compiles."""
    bank: dict[str, mg.Mesh] = {}
    for cat, variants in VARIANTS.items():
        for v in variants:
            for size in v.sizes():
                bank.update(variant_parts(cat, v.name, size)[1])
    return bank
