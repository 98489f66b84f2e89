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

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from roboref.assets import meshgen as mg
from roboref.assets import shapes as sh
from roboref.assets.objects import CATEGORIES, Part
from roboref.assets.shapes import Piece

#: Fixed sizes per variant (meshes are compiled once, at these sizes).
LEVELS = 4


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


VARIANTS: dict[str, tuple[Variant, ...]] = {
    "mug": (Variant("mug", "tapered", sh.mug("tapered")), Variant("mug", "barrel", sh.mug("barrel"))),
    "cup": (Variant("cup", "paper", sh.cup("paper")), Variant("cup", "tumbler", sh.cup("tumbler"))),
    "bowl": (Variant("bowl", "round", sh.bowl("round")), Variant("bowl", "flared", sh.bowl("flared"))),
    "plate": (Variant("plate", "rimmed", sh.plate("rimmed")), Variant("plate", "square", sh.plate("square"))),
    "bottle": (Variant("bottle", "wine", sh.bottle("wine")), Variant("bottle", "soda", sh.bottle("soda"))),
    "can": (Variant("can", "soda", sh.can("soda")), Variant("can", "tin", sh.can("tin"))),
    "box": (Variant("box", "rounded", sh.box("rounded")), Variant("box", "lidded", sh.box("lidded"))),
    "book": (Variant("book", "hardcover", sh.book("hardcover")), Variant("book", "paperback", sh.book("paperback"))),
    "apple": (
        Variant("apple", "round", sh.fruit(sh.apple_round, "brown", 0.012)),
        Variant("apple", "tall", sh.fruit(sh.apple_tall, "brown", 0.012)),
    ),
    "banana": (Variant("banana", "curved", sh.banana(0.55, 0.75)), Variant("banana", "ripe", sh.banana(0.8, 0.6))),
    "block": (Variant("block", "bevelled", sh.block("bevelled")), Variant("block", "hex", sh.block("hex"))),
    "ball": (
        Variant("ball", "faceted", sh.ball("faceted")),
        Variant("ball", "rugby", sh.ball("rugby"), lambda r: _scaled(CATEGORIES["ball"].sample_size(r), (1.5, 1, 1))),
    ),
    "orange": (
        Variant(
            "orange",
            "mandarin",
            sh.fruit(sh.mandarin, "green", 0.006),
            lambda r: _scaled(CATEGORIES["orange"].sample_size(r), (1, 1, 0.8)),
        ),
        Variant("orange", "nubbed", sh.fruit(sh.nubbed, "green", 0.004)),
    ),
    "marker": (Variant("marker", "round", sh.marker("round")), Variant("marker", "hex", sh.marker("hex"))),
    "jar": (Variant("jar", "mason", sh.jar("mason")), Variant("jar", "squat", sh.jar("squat"))),
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
