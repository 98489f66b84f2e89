"""Selection relations (4): pick the one candidate that is most something (a superlative).

Each has a ``key``; the candidate with the largest key wins if it beats the runner-up by the margin
(3 cm), otherwise the step is ambiguous. As placements they keep the band of the current region
that is most so.
"""

from __future__ import annotations

import numpy as np

from roboref.envs.tasks.relations.base import Objs, Params, Relation
from roboref.envs.tasks.relations.geometry import dist, point_dist
from roboref.envs.tasks.view import ObjectFacts, SceneView

ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


class _DistanceExtreme(Relation):
    """``key = sign_key · d(o, a)`` on the table plane (margin 3 cm).

    Placement: the points of the current region within 3 cm of its nearest (or farthest) point's
    distance to the anchor."""

    group, metric = "selection", "distance"
    key_sign: int = -1  # -1: nearest wins

    def key(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        d = dist(o, anchors[0])
        return -d if self.key_sign < 0 else d

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        d = point_dist(view, anchors[0])
        region = params["_region"]
        if not region.any():
            return region
        best = d[region].min() if self.key_sign < 0 else d[region].max()
        return region & (np.abs(d - best) <= 0.03)


class ClosestTo(_DistanceExtreme):
    __doc__ = "Nearest the anchor: ``key = −d(o, a)``. " + _DistanceExtreme.__doc__
    name, key_sign = "closest_to", -1
    forms = ("closest to {a}", "nearest to {a}", "that is the closest one to {a}")


class FarthestFrom(_DistanceExtreme):
    __doc__ = "Farthest from the anchor: ``key = d(o, a)``. " + _DistanceExtreme.__doc__
    name, key_sign = "farthest_from", 1
    forms = ("farthest from {a}", "furthest away from {a}", "that is the farthest one from {a}")


class NthFrom(Relation):
    """The n-th candidate counted from the camera's left or right (n = 1…5), by camera X of the
    centres. Every pair of neighbours in that order must be 3 cm apart, else it is ambiguous."""

    name, group, anchor_choices = "nth_from", "selection", (0,)
    forms = ("{nth} from the {side}", "that is {nth} from the {side}", "{nth} counting from the {side}")

    def key(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        """Sort key: ascending order counts from the named side (first = smallest key)."""
        return o.cam[0] if params["side"] == "left" else -o.cam[0]

    def narrow(self, view: SceneView, pool: Objs, anchors: Objs, params: Params) -> Objs | None:
        keys = np.array([self.key(view, o, anchors, params) for o in pool])
        order = np.argsort(keys)
        n = params["n"]
        if n > len(pool) or np.any(np.diff(keys[order]) < self.margin):
            return None
        return [pool[int(order[n - 1])]]

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        out = []
        for side in ("left", "right"):
            keys = sorted((self.key(view, o, anchors, {"side": side}), o.index) for o in cands)
            n = [i for _, i in keys].index(target.index) + 1
            if n <= 5:
                out.append({"side": side, "n": n, "nth": ORDINALS[n]})
        return out


EXTREMES = {  # name -> (key over an object, (camera axis, sign) for placement or None)
    "leftmost": (lambda o: -o.cam[0], (0, -1)),
    "rightmost": (lambda o: o.cam[0], (0, 1)),
    "frontmost": (lambda o: -o.cam[2], (2, -1)),
    "backmost": (lambda o: o.cam[2], (2, 1)),
    "highest": (lambda o: o.top_z, None),
    "lowest": (lambda o: -o.top_z, None),
}
_EXTREME_WORDS = {
    "leftmost": ("leftmost", "farthest to the left", "furthest left"),
    "rightmost": ("rightmost", "farthest to the right", "furthest right"),
    "frontmost": ("closest to the camera", "frontmost", "nearest to the viewer"),
    "backmost": ("farthest from the camera", "backmost", "furthest back"),
    "highest": ("highest", "with the highest top", "tallest-reaching"),
    "lowest": ("lowest", "with the lowest top", "lowest-lying"),
}


class Extreme(Relation):
    """The extreme candidate in one direction: leftmost / rightmost (``∓ X_cam``), frontmost /
    backmost (``∓ Z_cam``), highest / lowest (``± z`` of the top), margin 3 cm.

    Placement (the four table directions only): the points of the current region within 5 cm of
    its extreme along that camera axis."""

    name, group, anchor_choices = "extreme", "selection", (0,)

    def phrases(self, params: Params, refs: list[str]) -> list[str]:
        w = _EXTREME_WORDS[params["which"]]
        return [f"that is {w[0]}", f"{w[1]}", f"which is {w[2]}"]

    def key(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return EXTREMES[params["which"]][0](o)

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        region = params["_region"]
        spec = EXTREMES[params["which"]][1]
        if spec is None or not region.any():
            return np.zeros_like(region)
        axis, sign = spec
        vals = sign * view.table_cam[:, axis]
        best = vals[region].max()
        return region & (vals >= best - 0.05)

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        names = list(EXTREMES)
        rng.shuffle(names)
        return [{"which": n} for n in names]

    def draw(self, view: SceneView, anchors: Objs, rng: np.random.Generator) -> Params | None:
        return {"which": str(rng.choice(["leftmost", "rightmost", "frontmost", "backmost"]))}


SELECTION: tuple[Relation, ...] = (ClosestTo(), FarthestFrom(), NthFrom(), Extreme())
