"""Procedural cluttered tabletops: the ``SceneSpec`` record and ``sample_scene``.

``sample_scene(rng, cfg)`` proposes a scene (categories, colours, sizes, non-overlapping poses on
the table). Physics then settles it (``Sim.reset_scene``), which rejects fallen or unstable
placements; the settled poses are written back into the ``SceneSpec``. Everything is drawn from
the ``np.random.Generator`` passed in, so a seed gives the same scene bit for bit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from roboref.assets.objects import CATEGORIES, PALETTE, STACKABLE, check_color, get_category
from roboref.assets.variants import LEVELS, VARIANTS
from roboref.envs.camera import CameraSpec
from roboref.envs.robots import get_robot

TABLE_HEIGHT = 0.75  # metres from the floor to the table top
MAX_OBJECTS = 30  # hard cap on slots in one compiled world
OBJECT_VARIANTS = ("primitive", "mesh", "mixed")


class SceneFitError(ValueError):
    """A scene config's objects cannot fit on its placement area: callers that can use fewer
    objects catch this type, never the message text."""


#: Default cameras: "agent" faces the robot across the table (the view the VLM points in);
#: "overview" is a corner view for videos.
DEFAULT_CAMERAS = (
    CameraSpec("agent", pos=(0.75, 0.0, 1.62), lookat=(-0.18, 0.0, 0.8), fovy=60.0),
    CameraSpec("overview", pos=(0.95, -1.25, 1.65), lookat=(-0.3, 0.0, 0.9), fovy=50.0, width=448, height=336),
)


@dataclass(frozen=True)
class ObjectSpec:
    """One object: what it is and where it is (``pos`` of its bottom centre, ``quat`` w-x-y-z)."""

    category: str
    color: str
    size: tuple[float, float, float]  # full extents in the object frame (m)
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    #: Shape: "" for the category's primitive build, else a mesh variant (``assets.variants``).
    variant: str = ""

    @property
    def name(self) -> str:
        return f"{self.color} {self.category}"

    @property
    def footprint_radius(self) -> float:
        return 0.5 * math.hypot(self.size[0], self.size[1])

    def to_dict(self) -> dict:
        return _object_dict(_fields(self))

    @classmethod
    def from_dict(cls, d: dict) -> ObjectSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _fields(record) -> dict:
    """``dataclasses.asdict`` one level deep: these records hold only str, numbers and tuples of
    numbers, so asdict's recursive deep copy (0.5 ms a scene, paid by every ``reset``) is not needed."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _object_dict(d: dict) -> dict:
    """A primitive object's record has no ``variant`` key: records from before variants stay the same."""
    if not d.get("variant"):
        d.pop("variant", None)
    return d


@dataclass(frozen=True)
class SceneSpec:
    """A whole tabletop scene; JSON-serializable with ``to_json``/``from_json``."""

    robot: str
    objects: tuple[ObjectSpec, ...]
    cameras: tuple[CameraSpec, ...] = DEFAULT_CAMERAS
    table_size: tuple[float, float] = (1.0, 1.4)
    table_height: float = TABLE_HEIGHT
    seed: int | None = None

    def to_dict(self) -> dict:
        d = _fields(self)
        d["objects"] = [o.to_dict() for o in self.objects]
        d["cameras"] = tuple(c.to_dict() for c in self.cameras)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> SceneSpec:
        return cls(
            robot=d["robot"],
            objects=tuple(ObjectSpec.from_dict(o) for o in d["objects"]),
            cameras=tuple(CameraSpec.from_dict(c) for c in d["cameras"]),
            table_size=tuple(d["table_size"]),
            table_height=d["table_height"],
            seed=d.get("seed"),
        )

    @classmethod
    def from_json(cls, text: str) -> SceneSpec:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class SceneConfig:
    """What scenes to sample. ``area`` is the placement rectangle on the table top
    ``((x_min, x_max), (y_min, y_max))`` in world metres; ``None`` takes the robot's workspace."""

    robot: str = "ur5e"
    num_objects: tuple[int, int] = (4, 15)
    categories: tuple[str, ...] | None = None
    colors: tuple[str, ...] | None = None
    table_size: tuple[float, float] = (1.0, 1.4)
    area: tuple[tuple[float, float], tuple[float, float]] | None = None
    min_gap: float = 0.015
    cameras: tuple[CameraSpec, ...] = DEFAULT_CAMERAS
    settle_time: float = 0.3
    #: > 0: stop settling once every object is slower than this (m/s; 10× it in rad/s), checked
    #: every 10 physics steps. Faster resets, but the settled poses (so seeded tasks) change;
    #: 0 (default) always settles ``settle_time``, as before.
    settle_rest_speed: float = 0.0
    max_attempts: int = 20
    #: Chance that one small object is stacked on a flat support (plate, book, box) in a scene.
    stack_prob: float = 0.3
    #: Object shapes: "primitive" (default: the primitive library, today's scenes bit for bit),
    #: "mesh" (every object one of its category's mesh variants) or "mixed" (either, uniformly).
    #: Worlds for "mesh"/"mixed" compile the mesh bank (``World(meshes=True)``).
    object_variants: str = "primitive"

    def __post_init__(self):
        get_robot(self.robot)
        lo, hi = (self.num_objects, self.num_objects) if isinstance(self.num_objects, int) else tuple(self.num_objects)
        if not (1 <= lo <= hi <= MAX_OBJECTS):
            raise ValueError(
                f"num_objects must be an int or (min, max) with 1 <= min <= max <= {MAX_OBJECTS}, "
                f"got {self.num_objects!r}"
            )
        object.__setattr__(self, "num_objects", (int(lo), int(hi)))
        for c in self.categories or ():
            get_category(c)
        for c in self.colors or ():
            check_color(c)
        if self.object_variants not in OBJECT_VARIANTS:
            raise ValueError(f"object_variants must be one of {OBJECT_VARIANTS}, got {self.object_variants!r}")
        if not 0.0 <= self.stack_prob <= 1.0:
            raise ValueError(f"stack_prob must be in [0, 1], got {self.stack_prob}")
        if self.categories is not None and len(self.categories) == 0:
            raise ValueError("categories must be None (all) or a non-empty list")
        if self.colors is not None:
            usable = [c for c in self.category_names if set(CATEGORIES[c].colors) & set(self.colors)]
            if not usable:
                raise ValueError(f"no category comes in the colours {list(self.colors)}")
        (x0, x1), (y0, y1) = self.placement_area
        tx, ty = self.table_size[0] / 2, self.table_size[1] / 2
        if not (-tx <= x0 < x1 <= tx and -ty <= y0 < y1 <= ty):
            raise ValueError(
                f"placement area {self.placement_area} must lie on the table x in [{-tx}, {tx}], y in [{-ty}, {ty}]"
            )
        self._check_fits()

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(self.categories) if self.categories else tuple(CATEGORIES)

    @property
    def placement_area(self):
        return self.area if self.area is not None else get_robot(self.robot).workspace

    def _check_fits(self) -> None:
        """Reject configs whose objects cannot fit: their mean footprint discs (with the gap)
        would cover more than 60 % of the placement area (sampling with restarts still fills that)."""
        rng = np.random.default_rng(0)
        radii = [
            0.5 * math.hypot(*CATEGORIES[c].sample_size(rng)[:2]) + self.min_gap / 2
            for c in self.category_names
            for _ in range(8)
        ]
        need = self.num_objects[1] * math.pi * float(np.mean(np.square(radii)))
        (x0, x1), (y0, y1) = self.placement_area
        have = (x1 - x0) * (y1 - y0)
        if need > 0.6 * have:
            fit = int(0.6 * have / (math.pi * float(np.mean(np.square(radii)))))
            raise SceneFitError(
                f"{self.num_objects[1]} objects do not fit on a placement area of {have:.2f} m² "
                f"(they need about {need:.2f} m², at most 60 % of the area can be covered); use "
                f"num_objects <= {fit}, a larger table/area, or smaller categories"
            )


def _yaw_quat(yaw: float) -> tuple[float, float, float, float]:
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def _draw_shape(rng: np.random.Generator, cfg: SceneConfig, cat) -> tuple[str, tuple[float, float, float]]:
    """``(variant, size)`` of a new object of category ``cat``. "primitive" draws exactly what it
    always drew (one size), so seeded scenes stay the same; mesh variants come in fixed sizes."""
    variants = VARIANTS[cat.name]
    if cfg.object_variants == "mesh":
        pick = 1 + int(rng.integers(len(variants)))
    elif cfg.object_variants == "mixed":
        pick = int(rng.integers(len(variants) + 1))
    else:
        pick = 0
    if pick == 0:
        return "", tuple(round(v, 5) for v in cat.sample_size(rng))
    v = variants[pick - 1]
    return v.name, v.sizes()[int(rng.integers(LEVELS))]


def sample_scene(rng: np.random.Generator, cfg: SceneConfig, seed: int | None = None) -> SceneSpec:
    """Propose a scene: objects on the table, footprints (discs) apart by ``cfg.min_gap``.

    Objects are placed one by one by rejection sampling; a scene that jams is started again
    (up to ``cfg.max_attempts`` times) before giving up with an error naming the config.
    """
    n = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    stack = n >= 2 and rng.uniform() < cfg.stack_prob
    for _ in range(cfg.max_attempts):
        placed = _place(rng, cfg, n - 1 if stack else n, first_support=stack)
        if placed is not None and stack:
            item = _stack(rng, cfg, placed)
            placed = placed + [item] if item is not None else _place(rng, cfg, 1, placed)
        if placed is not None:
            return SceneSpec(
                robot=cfg.robot,
                objects=tuple(placed),
                cameras=tuple(cfg.cameras),
                table_size=tuple(cfg.table_size),
                seed=seed,
            )
    raise ValueError(
        f"could not place {n} non-overlapping objects in area {cfg.placement_area} in "
        f"{cfg.max_attempts} attempts; lower num_objects or enlarge the area"
    )


def _stack(rng: np.random.Generator, cfg: SceneConfig, placed: list[ObjectSpec]) -> ObjectSpec | None:
    """A small object resting on the flat top of one of ``placed`` (None if none fits)."""
    supports = [o for o in placed if CATEGORIES[o.category].support_top is not None]
    items = [c for c in STACKABLE if c in cfg.category_names]
    if not supports or not items:
        return None
    base = supports[int(rng.integers(len(supports)))]
    room = 0.3 * base.size[0] if base.category == "plate" else 0.45 * min(base.size[:2])
    for _ in range(10):
        cat = CATEGORIES[items[int(rng.integers(len(items)))]]
        colors = [c for c in cat.colors if cfg.colors is None or c in cfg.colors]
        variant, size = _draw_shape(rng, cfg, cat)
        if colors and 0.5 * math.hypot(size[0], size[1]) <= room:
            break
    else:
        return None
    top = base.pos[2] + CATEGORIES[base.category].support_top(base.size)
    yaw = float(rng.uniform(-math.pi, math.pi))
    color = colors[int(rng.integers(len(colors)))]
    pos = (base.pos[0], base.pos[1], top + 0.001)
    return ObjectSpec(cat.name, color, size, pos, _yaw_quat(yaw), variant)


def _place(
    rng: np.random.Generator,
    cfg: SceneConfig,
    n: int,
    placed: list[ObjectSpec] | None = None,
    first_support: bool = False,
) -> list[ObjectSpec] | None:
    (x0, x1), (y0, y1) = cfg.placement_area
    names = cfg.category_names
    placed = list(placed or [])
    supports = [c for c in names if CATEGORIES[c].support_top is not None]
    for i in range(n):
        for _try in range(200):
            pool = supports if (first_support and i == 0 and supports) else names
            cat = CATEGORIES[pool[int(rng.integers(len(pool)))]]
            colors = [c for c in cat.colors if cfg.colors is None or c in cfg.colors]
            if not colors:
                continue
            color = colors[int(rng.integers(len(colors)))]
            variant, size = _draw_shape(rng, cfg, cat)
            r = 0.5 * math.hypot(size[0], size[1])
            if 2 * r > min(x1 - x0, y1 - y0):
                continue
            x, y = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r)
            if all(math.hypot(x - o.pos[0], y - o.pos[1]) >= r + o.footprint_radius + cfg.min_gap for o in placed):
                yaw = float(rng.uniform(-math.pi, math.pi))
                pos = (float(x), float(y), TABLE_HEIGHT + 0.001)
                placed.append(ObjectSpec(cat.name, color, size, pos, _yaw_quat(yaw), variant))
                break
        else:
            return None
    return placed


def with_poses(spec: SceneSpec, poses: list[tuple[tuple, tuple]]) -> SceneSpec:
    """A copy of ``spec`` whose objects have the given ``(pos, quat)`` (e.g. after settling)."""
    objs = tuple(
        replace(o, pos=tuple(map(float, p)), quat=tuple(map(float, q)))
        for o, (p, q) in zip(spec.objects, poses, strict=True)
    )
    return replace(spec, objects=objs)


__all__ = [
    "ObjectSpec",
    "SceneSpec",
    "SceneConfig",
    "SceneFitError",
    "OBJECT_VARIANTS",
    "sample_scene",
    "with_poses",
    "PALETTE",
    "TABLE_HEIGHT",
    "DEFAULT_CAMERAS",
]
