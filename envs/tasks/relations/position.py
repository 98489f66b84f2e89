"""Position relations (14): where an object is relative to one anchor (or two, ``between``).

Camera-centric unless said otherwise: left/right is the camera's X, in front of (nearer the
camera)/behind its depth Z, all in camera coordinates (metres). ``o`` is the candidate, ``a`` the
anchor; ``d(p, a)`` is a distance on the table plane, ``r_a`` the anchor's footprint radius.
"""

from __future__ import annotations

import numpy as np

from roboref.envs.tasks.relations.base import Objs, Params, Relation
from roboref.envs.tasks.relations.geometry import (
    container_room,
    cross2,
    gap,
    point_dist,
    support_room,
    supports,
    top_surface,
    xy,
)
from roboref.envs.tasks.view import ObjectFacts, SceneView


def rests_on(o: ObjectFacts, a: ObjectFacts) -> bool:
    """``o`` stands on ``a`` (SceneView links a support when o's bottom is within 1 cm of a's top
    and o's centre lies over a's footprint)."""
    return o.support == a.index


def carries_something(view: SceneView, a: ObjectFacts) -> bool:
    return any(rests_on(o, a) for o in view.objects)


class CameraSide(Relation):
    """On one side of the anchor along a camera axis: ``sign · (o_cam[axis] − a_cam[axis]) > 3 cm``
    (margin 3 cm), centres compared in camera coordinates:

    ============  =======  =====  =============================
    relation      axis     sign   meaning
    ============  =======  =====  =============================
    left_of       X (0)    −1     to the camera's left
    right_of      X (0)    +1     to the camera's right
    in_front_of   Z (2)    −1     nearer the camera
    behind        Z (2)    +1     farther from the camera
    ============  =======  =====  =============================

    Placement: table points beyond the anchor's edge by 2 cm on that side
    (``sign · (p_cam[axis] − a_cam[axis]) > r_a + 0.02``), within 15 cm of its line on the other
    camera axis and within 35 cm of it on the table."""

    group = "position"

    def __init__(self, name: str, axis: int, sign: int, forms: tuple[str, ...]):
        self.name, self.axis, self.sign, self.forms = name, axis, sign, forms

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return self.sign * (o.cam[self.axis] - anchors[0].cam[self.axis])

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        (a,) = anchors
        other = 2 if self.axis == 0 else 0
        pc = view.table_cam
        off = self.sign * (pc[:, self.axis] - a.cam[self.axis])
        return (off > a.radius + 0.02) & (np.abs(pc[:, other] - a.cam[other]) < 0.15) & (point_dist(view, a) < 0.35)


def over(upper: ObjectFacts, lower: ObjectFacts) -> float:
    """How far ``upper`` is over ``lower`` in the world (> 0: it is), the score of ``above`` and,
    with the roles swapped, of ``below``:
    ``min(z_bottom(upper) − (z_bottom(lower) + z_top(lower)) / 2,  r_lower + 0.03 − d_xy(upper, lower))``.
    The bottom of ``upper`` is above the mid-height of ``lower`` (an object resting on another has
    its bottom at the other's top, one standing beside it on the table at its bottom), and its
    centre lies over the footprint of ``lower`` grown by 3 cm. No contact is needed."""
    higher = float(upper.bottom[2] - 0.5 * (lower.bottom[2] + lower.top_z))
    over_footprint = lower.radius + 0.03 - float(np.linalg.norm(xy(upper) - xy(lower)))
    return min(higher, over_footprint)


class _WorldVertical(Relation):
    """World height with no contact needed (margin 5 mm); an anchor is worth naming when some
    object is decisively over or under it."""

    group, margin = "position", 0.005

    def anchor_useful(self, view: SceneView, a: ObjectFacts) -> bool:
        return any(self.score(view, o, [a], {}) > self.margin for o in view.objects if o is not a)


class Above(_WorldVertical):
    """World-above: ``score = over(o, a)``. Unlike ``on_top_of`` it needs no contact: an object
    held over the anchor, or resting on a third object stacked on it, is above it too.

    Placement: the anchor's flat top (as ``on_top_of``), the place where an object stays above it.
    """

    name = "above"
    forms = ("above {a}", "over {a}", "higher up than {a}, resting over it")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return over(o, anchors[0])

    def surface(self, view: SceneView, anchor: ObjectFacts, params: Params) -> np.ndarray:
        return top_surface(view, anchor, support_room(anchor))

    def anchor_ok(self, a: ObjectFacts) -> bool:
        return supports(a)


class Below(_WorldVertical):
    """World-below, the converse of ``above``: ``score = over(a, o)``. An object the anchor rests
    on is below it, and so is one further down a stack, or under an anchor held in the air; one
    beside it on the table is not."""

    name = "below"
    forms = ("below {a}", "under {a}", "underneath {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return over(anchors[0], o)


class _ImageVertical(Relation):
    """Image rows, not the world: ``sign · (v(o) − v(a)) > 0.03`` with ``v`` the normalized image
    row of the centre (0 at the top; margin 0.03).

    Placement: table pixels more than 0.05 rows to that side of the anchor's centre and within
    0.15 columns of it."""

    sign: int = 1
    margin = 0.03

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        (a,) = anchors
        v = (view.table_rows + 0.5) / view.height
        u = (view.table_cols + 0.5) / view.width
        return (self.sign * (v - a.uv[1]) > 0.05) & (np.abs(u - a.uv[0]) < 0.15)


class AboveInImage(_ImageVertical):
    __doc__ = "Higher in the picture: ``sign = −1``. " + _ImageVertical.__doc__
    name, group, sign = "above_in_image", "position", -1
    forms = ("above {a} in the image", "higher than {a} in the picture", "over {a} in the image")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return float(anchors[0].uv[1] - o.uv[1])


class BelowInImage(_ImageVertical):
    __doc__ = "Lower in the picture: ``sign = +1``. " + _ImageVertical.__doc__
    name, group, sign = "below_in_image", "position", 1
    forms = ("below {a} in the image", "lower than {a} in the picture", "under {a} in the image")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return float(o.uv[1] - anchors[0].uv[1])


class OnTopOf(Relation):
    """Resting on the anchor: ``+1`` if the anchor is the candidate's support (in contact, its
    bottom within 1 cm of the anchor's top, its centre over the anchor's footprint), else ``−1``
    (margin 0.5).

    Placement: the anchor's top pixels (3D points at most 12 mm below its top) within its flat
    room (28 % of a plate's diameter, else 40 % of the shorter side) of its axis."""

    name, group, margin = "on_top_of", "position", 0.5
    forms = ("on top of {a}", "on {a}", "resting on {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return 1.0 if rests_on(o, anchors[0]) else -1.0

    def surface(self, view: SceneView, anchor: ObjectFacts, params: Params) -> np.ndarray:
        return top_surface(view, anchor, support_room(anchor))

    def anchor_ok(self, a: ObjectFacts) -> bool:
        return supports(a)

    def anchor_useful(self, view: SceneView, a: ObjectFacts) -> bool:
        return carries_something(view, a)


class Inside(Relation):
    """Placement only: a container's (mug, cup, bowl, jar) pixels whose 3D points lie within 3 cm
    of its top and inside its opening (30 % of a bowl's diameter, else 35 % of the shorter side)."""

    name, group = "inside", "position"
    forms = ("inside {a}", "in {a}", "into {a}")

    def surface(self, view: SceneView, anchor: ObjectFacts, params: Params) -> np.ndarray:
        return top_surface(view, anchor, container_room(anchor), 0.03)

    def anchor_ok(self, a: ObjectFacts) -> bool:
        return a.container


class OutsideOf(Relation):
    """Not resting on the anchor: the negation of ``on_top_of`` (``±1``, margin 0.5).

    Placement: table points in the ring ``r_a + 0.03 < d(p, a) < r_a + 0.2`` around it."""

    name, group, margin = "outside_of", "position", 0.5
    forms = ("outside of {a}", "not on {a}", "off {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return -1.0 if rests_on(o, anchors[0]) else 1.0

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        a = anchors[0]
        return (point_dist(view, a) > a.radius + 0.03) & (point_dist(view, a) < a.radius + 0.2)

    def anchor_useful(self, view: SceneView, a: ObjectFacts) -> bool:
        return carries_something(view, a)  # "not on the plate" says something only if something is


class NextTo(Relation):
    """Touching or right beside: footprint gap ``d(o, a) − r_o − r_a < 6 cm`` (margin 2 cm).

    Placement: table points with ``d(p, a) < r_a + 0.12``."""

    name, group, margin, metric = "next_to", "position", 0.02, "distance"
    forms = ("next to {a}", "beside {a}", "touching or right beside {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return 0.06 - gap(o, anchors[0])

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        return point_dist(view, anchors[0]) < anchors[0].radius + 0.12


class FarFrom(Relation):
    """Far away: footprint gap ``d(o, a) − r_o − r_a > 30 cm`` (margin 3 cm).

    Placement: table points with ``d(p, a) > r_a + 0.3``."""

    name, group, metric = "far_from", "position", "distance"
    forms = ("far from {a}", "far away from {a}", "at a distance from {a}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        return gap(o, anchors[0]) - 0.3

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        return point_dist(view, anchors[0]) > anchors[0].radius + 0.3


class Between(Relation):
    """Between two anchors on the table plane. With ``t`` the candidate's position along a → b
    (0 at a, 1 at b) and ``perp`` its distance from that line, length ``L``:
    ``score = min(0.06 − perp, (t − 0.15)·L, (0.85 − t)·L)`` (margin 1.5 cm): within 6 cm of the
    line and in its middle 70 %.

    Placement: table points with ``0.3 < t < 0.7`` and ``perp < 6 cm``."""

    name, group, margin = "between", "position", 0.015
    anchor_choices = (2,)
    forms = ("between {a} and {b}", "in between {a} and {b}", "halfway between {a} and {b}")

    def score(self, view: SceneView, o: ObjectFacts, anchors: Objs, params: Params) -> float:
        a, b = anchors
        ab = xy(b) - xy(a)
        L = float(np.linalg.norm(ab))
        t = float(np.dot(xy(o) - xy(a), ab) / (L * L + 1e-12))
        perp = float(abs(cross2(ab / (L + 1e-12), xy(o) - xy(a))))
        return min(0.06 - perp, (t - 0.15) * L, (0.85 - t) * L)

    def region(self, view: SceneView, anchors: Objs, params: Params) -> np.ndarray:
        a, b = anchors
        p = view.table_points[:, :2]
        ab = xy(b) - xy(a)
        L = float(np.linalg.norm(ab))
        t = (p - xy(a)) @ ab / (L * L + 1e-12)
        perp = np.abs((p - xy(a)) @ np.array([-ab[1], ab[0]]) / (L + 1e-12))
        return (t > 0.3) & (t < 0.7) & (perp < 0.06)


POSITION: tuple[Relation, ...] = (
    CameraSide("left_of", 0, -1, ("to the left of {a}", "left of {a}", "on the left side of {a}")),
    CameraSide("right_of", 0, 1, ("to the right of {a}", "right of {a}", "on the right side of {a}")),
    CameraSide(
        "in_front_of", 2, -1, ("in front of {a}", "nearer to the camera than {a}", "before {a}, closer to the viewer")
    ),
    CameraSide("behind", 2, 1, ("behind {a}", "farther from the camera than {a}", "at the back of {a}")),
    Above(),
    Below(),
    AboveInImage(),
    BelowInImage(),
    OnTopOf(),
    Inside(),
    OutsideOf(),
    NextTo(),
    FarFrom(),
    Between(),
)
