"""Size relations (3): larger / smaller (volume), taller / shorter (height), wider / thinner
(the longer side of the footprint).

With one anchor a comparative filter: ``score = ± ln(s(o) / s(a))`` (+ for "more", − for
"less"); with none a superlative selector: ``key = ± ln s(o)`` (+ for "most", − for "least").
The margin ``ln 1.25`` asks for a 25 % difference in both cases.
"""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.tasks.relations.base import Objs, Params, Relation
from roboref.envs.tasks.view import ObjectFacts, SceneView


def _sup(adj: str) -> str:
    return {"larger": "largest", "smaller": "smallest", "taller": "tallest", "shorter": "shortest"}.get(
        adj, adj + "est" if not adj.endswith("er") else adj[:-2] + "est"
    )


class _Size(Relation):
    """Compares ``s(o) = getattr(o, attr)`` (see the module doc for the maths)."""

    group, metric, margin = "size", "size", math.log(1.25)
    anchor_choices = (0, 1)
    attr: str = "volume"
    more: str = "larger"
    less: str = "smaller"

    def _val(self, o: ObjectFacts) -> float:
        return getattr(o, self.attr)

    def phrases(self, params: Params, refs: list[str]) -> list[str]:
        more, less = self.more, self.less
        words = {
            "more": (f"{more} than {{a}}", f"that is {more} than {{a}}", f"which is {more} than {{a}}"),
            "less": (f"{less} than {{a}}", f"that is {less} than {{a}}", f"which is {less} than {{a}}"),
            "most": (f"that is the {_sup(more)} one", f"which is the {_sup(more)}", f"of the {_sup(more)} size"),
            "least": (f"that is the {_sup(less)} one", f"which is the {_sup(less)}", f"of the {_sup(less)} size"),
        }
        return [f.format(**dict(zip("abc", refs, strict=False))) for f in words[params["mode"]]]

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        ratio = math.log(self._val(o) / self._val(anchors[0]))
        return ratio if params["mode"] == "more" else -ratio

    def key(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        # superlatives only: comparatives are filters (``score``)
        return math.log(self._val(o)) if params["mode"] == "most" else -math.log(self._val(o))

    def fit(
        self, view: SceneView, target: ObjectFacts, anchors: Objs, cands: Objs, rng: np.random.Generator
    ) -> list[Params]:
        if anchors:
            r = math.log(self._val(target) / self._val(anchors[0]))
            return [{"mode": "more" if r > 0 else "less"}]
        return [{"mode": "most"}, {"mode": "least"}]

    def anchors_needed(self, params: Params) -> int:
        return 0 if params.get("mode") in ("most", "least") else 1

    def superlative(self, params: Params) -> bool:
        return params.get("mode") in ("most", "least")

    def location_use(self, n_anchors: int) -> str | None:
        return "last" if n_anchors == 0 else "any"  # a superlative picks one object


class Larger(_Size):
    """Volume ``dx·dy·dz``: larger / smaller than the anchor, or the largest / smallest."""

    name, attr, more, less = "size", "volume", "larger", "smaller"


class Taller(_Size):
    """Height ``dz``: taller / shorter than the anchor, or the tallest / shortest."""

    name, attr, more, less = "height", "height", "taller", "shorter"


class Wider(_Size):
    """Width ``max(dx, dy)``: wider / thinner than the anchor, or the widest / thinnest."""

    name, attr, more, less = "width", "width", "wider", "thinner"


SIZE: tuple[Relation, ...] = (Larger(), Taller(), Wider())
