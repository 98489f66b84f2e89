"""``Relation``: the base class every spatial relation derives from, and its hooks.

A relation is one program step. It can do up to four things, each a method a subclass overrides:

- ``score(view, o, anchors, params) -> float`` (a filter): > ``margin`` true, < -``margin`` false,
  in between ambiguous (a program that hits an ambiguous object is rejected);
- ``key(view, o, anchors, params) -> float`` (a selector): the candidate with the largest key wins,
  if it beats the runner-up by ``margin``;
- ``region(view, anchors, params) -> bool over view.table_points`` (placement on the table);
- ``surface(view, anchor, params) -> image mask`` (placement on an object's top).

``fit`` lists parameters that make a given target true (location programs are built target-first);
``draw`` picks parameters at random (placement). ``phrases`` give at least three paraphrases.
The class attributes say how the sampler may use a relation, so the engine never switches on names.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from roboref.envs.tasks.view import ObjectFacts, SceneView

Params = dict[str, Any]
Objs = list[ObjectFacts]
M = 0.03  # default ambiguity margin (m)


class Relation:
    """One of the 31 relations. Subclasses override the hooks they support (see the module doc)."""

    name: str = ""
    group: ClassVar[str] = ""
    #: Anchor counts the relation takes; the sampler draws one when there is a choice.
    anchor_choices: ClassVar[tuple[int, ...]] = (1,)
    margin: ClassVar[float] = M
    #: The metric reasoning step it adds: distance | size | orientation | depth ("" none).
    metric: ClassVar[str] = ""
    #: Can open a placement program (regions of the table itself: corners, centre, free space).
    starter: ClassVar[bool] = False
    #: False for the identity region (``free_space``): it adds no constraint to a program.
    constrains: ClassVar[bool] = True
    #: Draw the parameters again once the anchors are picked (placement sampling).
    redraw_with_anchors: ClassVar[bool] = False
    #: The paraphrase forms over {a}, {b}, {c} (anchor references) and the params.
    forms: tuple[str, ...] = ()

    # --- hooks ---------------------------------------------------------------------------------
    def phrases(self, params: Params, refs: list[str]) -> list[str]:
        """Paraphrases of the step, anchors named by ``refs``."""
        names = dict(zip("abc", refs, strict=False))
        return [f.format(**names, **params) for f in self.forms]

    def score(self, view: SceneView, o: ObjectFacts, anchors: list[ObjectFacts], params: Params) -> float:
        """Filter: how far ``o`` is inside (> 0) or outside (< 0) the relation, in its units."""
        raise NotImplementedError

    def key(self, view: SceneView, o: ObjectFacts, anchors: list[ObjectFacts], params: Params) -> float:
        """Selector: how much ``o`` is so (the largest wins)."""
        raise NotImplementedError

    def region(self, view: SceneView, anchors: list[ObjectFacts], params: Params) -> np.ndarray:
        """Placement on the table: a bool over ``view.table_points`` (``params["_region"]`` is
        the region so far)."""
        raise NotImplementedError

    def surface(self, view: SceneView, anchor: ObjectFacts, params: Params) -> np.ndarray:
        """Placement on an object: an image mask of the anchor's pixels to place onto."""
        raise NotImplementedError

    def fit(
        self,
        view: SceneView,
        target: ObjectFacts,
        anchors: list[ObjectFacts],
        cands: list[ObjectFacts],
        rng: np.random.Generator,
    ) -> list[Params]:
        """Parameter sets to try, in order, that may make ``target`` true (``[]``: none)."""
        return [{}]

    def draw(self, view: SceneView, anchors: list[ObjectFacts], rng: np.random.Generator) -> Params | None:
        """Random parameters for a placement step (None: this scene offers none)."""
        return {}

    def anchor_ok(self, a: ObjectFacts) -> bool:
        """Whether ``a`` can serve as an anchor at all (e.g. only containers for ``inside``)."""
        return True

    def anchor_useful(self, view: SceneView, a: ObjectFacts) -> bool:
        """Whether a location step on anchor ``a`` can say something in this scene."""
        return True

    def anchors_needed(self, params: Params) -> int:
        """How many anchors a step with these params takes."""
        return self.anchor_choices[0]

    def superlative(self, params: Params) -> bool:
        """Whether the step picks one object by ``key`` (else it filters by ``score``)."""
        return self.selector and not self._has("score")

    def location_use(self, n_anchors: int) -> str | None:
        """How a location step with ``n_anchors`` may be used: "any" step, only the "last" one
        (it picks a single object), or None (it cannot select objects)."""
        if self._has("score"):
            return "any"
        return "last" if self._has("key") else None

    def narrow(
        self, view: SceneView, pool: list[ObjectFacts], anchors: list[ObjectFacts], params: Params
    ) -> list[ObjectFacts] | None:
        """The candidates of ``pool`` the step keeps, or None if it is ambiguous for any of them."""
        if self.superlative(params):
            keys = np.array([self.key(view, o, anchors, params) for o in pool])
            order = np.argsort(-keys)
            if len(pool) > 1 and keys[order[0]] - keys[order[1]] < self.margin:
                return None
            return [pool[int(order[0])]]
        scores = np.array([self.score(view, o, anchors, params) for o in pool])
        if np.any(np.abs(scores) <= self.margin):
            return None
        return [o for o, s in zip(pool, scores, strict=True) if s > self.margin]

    # --- what it can do ------------------------------------------------------------------------
    def _has(self, hook: str) -> bool:
        return getattr(type(self), hook) is not getattr(Relation, hook)

    @property
    def location(self) -> bool:
        """It can select objects."""
        return self._has("score") or self._has("key")

    @property
    def selector(self) -> bool:
        return self._has("key")

    @property
    def on_table(self) -> bool:
        """It defines a placement region on the table."""
        return self._has("region")

    @property
    def on_surface(self) -> bool:
        """It defines a placement region on an anchor's top."""
        return self._has("surface")

    @property
    def placement(self) -> bool:
        return self.on_table or self.on_surface

    def __repr__(self) -> str:
        return f"<Relation {self.name} ({self.group})>"
