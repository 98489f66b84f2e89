"""Orientation relations (4): object-centric. An object's front ``f`` is its own +x axis on the
table plane (a mug's handle side, a book's spine); ``rel = o − a`` on the table plane.
"""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.tasks.relations.base import Objs, Params, Relation
from roboref.envs.tasks.relations.geometry import cross2, rot, unit, xy
from roboref.envs.tasks.view import ObjectFacts, SceneView


class _OwnSide(Relation):
    """On one of the anchor's own sides, ``s = sign · f_a``: with ``along = rel·s`` and
    ``lateral = |s × rel|``, ``score = min(along − lateral, 0.4 − |rel|, along − r_a/2)``
    (margin 2 cm): within 45° of that side, within 40 cm, and past half the anchor's radius.

    Placement: table points with ``r_a + 0.02 < along < r_a + 0.2`` and ``lateral < 7 cm``."""

    group, margin, metric = "orientation", 0.02, "orientation"
    sign: int = 1

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        (a,) = anchors
        rel = xy(o) - xy(a)
        f = self.sign * a.front
        along = float(np.dot(rel, f))
        lateral = abs(cross2(f, rel))
        return min(along - lateral, 0.4 - float(np.linalg.norm(rel)), along - a.radius * 0.5)

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        (a,) = anchors
        rel = view.table_points[:, :2] - xy(a)
        f = self.sign * a.front
        along = rel @ f
        lateral = np.abs(rel @ np.array([-f[1], f[0]]))
        return (along > a.radius + 0.02) & (along < a.radius + 0.2) & (lateral < 0.07)

    def anchor_ok(self, a: ObjectFacts) -> bool:
        return a.has_front


class FrontSide(_OwnSide):
    __doc__ = "The anchor's own front: ``sign = +1``. " + _OwnSide.__doc__
    name, sign = "front_side", 1
    forms = ("on the front side of {a}", "in front of {a}, on its own front side", "facing {a}'s front")


class BackSide(_OwnSide):
    __doc__ = "The anchor's own back: ``sign = −1``. " + _OwnSide.__doc__
    name, sign = "back_side", -1
    forms = ("on the back side of {a}", "behind {a}, on its own back side", "at {a}'s back")


class Facing(Relation):
    """Turned toward / away from the anchor: with ``c = f_o · unit(a − o)`` (the cosine between the
    candidate's front and the direction to the anchor), ``score = c − 0.7`` toward, ``−c − 0.7``
    away (margin 0.15): within about 45° of pointing at (away from) it. Objects without a front
    score −1. Location only."""

    name, group, margin, metric = "facing", "orientation", 0.15, "orientation"
    forms = ("turned {word} {a}", "with its front pointing {word} {a}", "facing {word} {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        if not o.has_front:
            return -1.0
        cos = float(np.dot(o.front, unit(xy(anchors[0]) - xy(o))))
        return (cos - 0.7) if params["toward"] else (-cos - 0.7)

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        if not target.has_front:
            return []
        cos = float(np.dot(target.front, unit(xy(anchors[0]) - xy(target))))
        return [{"toward": cos > 0, "word": "toward" if cos > 0 else "away from"}]


def _angle_dir(a: ObjectFacts, b: ObjectFacts, deg: float) -> np.ndarray:
    return rot(unit(xy(a) - xy(b)), deg)


def _angle_params(deg: int) -> Params:
    side = "left" if deg > 0 else "right"
    return {"deg": deg, "abs_deg": abs(deg), "side": side}


class Angle(Relation):
    """At θ degrees from anchor a as seen from anchor b: with ``u(θ)`` the direction b → a turned
    counter-clockwise by θ (positive θ = to the viewer's left),
    ``score = ½ · min(cos∠(rel, u(θ)) − cos 25°, 0.4 − |rel|)`` (margin 2 cm): within 25° of that
    bearing and 40 cm of a. ``fit`` snaps the target's bearing to 45° steps (within 12°, not 0 or
    180°).

    Placement: table points within 5 cm of ``a + (r_a + 0.12)·u(θ)``, θ ∈ {±45, ±90}."""

    name, group, margin, metric = "angle", "orientation", 0.02, "orientation"
    anchor_choices = (2,)
    redraw_with_anchors = True
    forms = (
        "{abs_deg} degrees to the {side} of {a} as seen from {b}",
        "at {abs_deg}° to the {side} of {a}, looking from {b}",
        "{abs_deg} degrees {side} of {a} when viewed from {b}",
    )

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        a, b = anchors
        rel = xy(o) - xy(a)
        cos = float(np.dot(unit(rel), _angle_dir(a, b, params["deg"])))
        return min(cos - math.cos(math.radians(25)), 0.4 - float(np.linalg.norm(rel))) * 0.5

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        a, b = anchors
        target = xy(a) + (a.radius + 0.12) * _angle_dir(a, b, params["deg"])
        return view.center_dist(target) < 0.05

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        a, b = anchors
        u = unit(xy(a) - xy(b))
        rel = unit(xy(target) - xy(a))
        deg = math.degrees(math.atan2(u[0] * rel[1] - u[1] * rel[0], float(np.dot(u, rel))))
        snapped = int(round(deg / 45.0) * 45)
        if abs(deg - snapped) > 12 or snapped in (0, 180, -180):
            return []
        return [_angle_params(snapped)]

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        return _angle_params(int(rng.choice([-90, -45, 45, 90])))


ORIENTATION: tuple[Relation, ...] = (FrontSide(), BackSide(), Facing(), Angle())
