"""Metric relations (3): distances stated in numbers, metres in code and centimetres in text.

Directions are the camera's left / right / front (nearer) / behind projected on the table plane
(``SceneView.camera_dirs``).
"""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.tasks.relations.base import Objs, Params, Relation
from roboref.envs.tasks.relations.geometry import cm, dist, point_dist, xy
from roboref.envs.tasks.view import ObjectFacts, SceneView

_DIR_WORDS = {
    "left": "to the left of",
    "right": "to the right of",
    "front": "in front of",
    "behind": "behind",
}


class Offset(Relation):
    """``d`` cm in a direction from the anchor: with ``q = a + d·dir`` the point meant,
    ``score = 0.05 − |o − q|`` (margin 1.5 cm): the candidate's centre within 5 cm of ``q``.
    ``fit`` takes the camera direction the target lies most along and rounds the distance along it
    to 5 cm (at least 10 cm).

    Placement: table points within 4.5 cm of ``q``; ``d`` ∈ {10, 15, 20, 25} cm at random."""

    name, group, margin, metric = "offset", "metric", 0.015, "distance"
    redraw_with_anchors = True

    def _target(self, view: SceneView, a: ObjectFacts, params: Params) -> np.ndarray:
        return xy(a) + params["d"] * view.camera_dirs()[params["dir"]]

    def phrases(self, params: Params, refs: list[str]) -> list[str]:
        words = _DIR_WORDS[params["dir"]]
        return [
            f"about {params['cm']} {words} {refs[0]}",
            f"{params['cm']} {words} {refs[0]}",
            f"roughly {params['cm']} away, {words} {refs[0]}",
        ]

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return 0.05 - float(np.linalg.norm(xy(o) - self._target(view, anchors[0], params)))

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        return view.center_dist(self._target(view, anchors[0], params)) < 0.045

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        (a,) = anchors
        rel = xy(target) - xy(a)
        dirs = view.camera_dirs()
        best = max(dirs, key=lambda k: float(np.dot(rel, dirs[k])))
        d = round(round(float(np.dot(rel, dirs[best])) / 0.05) * 0.05, 2)
        if d < 0.1:
            return []
        return [{"d": d, "dir": best, "cm": cm(d)}]

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        d = float(rng.choice([0.1, 0.15, 0.2, 0.25]))
        return {"d": d, "dir": str(rng.choice(["left", "right", "front", "behind"])), "cm": cm(d)}


class Within(Relation):
    """Within ``d`` of the anchor: ``score = d − d(o, a)`` centre to centre (margin 2 cm). ``fit``
    rounds ``d(t, a) + 4 cm`` up to 5 cm.

    Placement: table points with ``d(p, a) < d``; ``d`` ∈ {15, 20, 25, 30} cm at random."""

    name, group, margin, metric = "within", "metric", 0.02, "distance"
    forms = ("within {cm} of {a}", "no more than {cm} from {a}", "less than {cm} away from {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return params["d"] - dist(o, anchors[0])

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        return point_dist(view, anchors[0]) < params["d"]

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        d = round(math.ceil((dist(target, anchors[0]) + 0.04) / 0.05) * 0.05, 2)
        return [{"d": d, "cm": cm(d)}]

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        d = float(rng.choice([0.15, 0.2, 0.25, 0.3]))
        return {"d": d, "cm": cm(d)}


class Depth(Relation):
    """At or nearer than ``d`` m from the camera: ``score = d − Z_cam(o)`` (margin 2.5 cm). ``fit``
    rounds ``Z_cam(t) + 4 cm`` up to 5 cm.

    Placement: table points with ``Z_cam < d``, ``d`` a random 30–70 % quantile of the reachable
    table's depths, rounded to 5 cm."""

    name, group, margin, metric = "depth", "metric", 0.025, "depth"
    anchor_choices = (0,)
    forms = ("at most {dm} from the camera", "no farther than {dm} from the camera", "within {dm} of the camera")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return params["d"] - float(o.cam[2])

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        return view.table_cam[:, 2] < params["d"]

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        d = round(math.ceil((float(target.cam[2]) + 0.04) / 0.05) * 0.05, 2)
        return [{"d": d, "dm": f"{d:.2f} m"}]

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        z = view.table_cam[view.table_ok, 2]
        if len(z) == 0:
            return None
        d = round(round(float(np.quantile(z, rng.uniform(0.3, 0.7))) / 0.05) * 0.05, 2)
        return {"d": d, "dm": f"{d:.2f} m"}


METRIC: tuple[Relation, ...] = (Offset(), Within(), Depth())
