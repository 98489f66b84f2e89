"""Each relation on hand-built scenes whose answer is known.

The agent camera looks along -x (world), so camera-left is world -y, "in front of" (nearer the
camera) is larger x and "behind" is smaller x.
"""

import math

import numpy as np
import pytest

from roboref.assets.objects import CATEGORIES
from roboref.envs.camera import SEG_TABLE, unproject
from roboref.envs.scene import TABLE_HEIGHT, ObjectSpec, SceneConfig, SceneSpec
from roboref.envs.sim import Sim
from roboref.envs.tasks import RELATIONS, Step, evaluate_location, evaluate_placement
from roboref.envs.tasks.view import SceneView

AREA = SceneConfig().placement_area


@pytest.fixture(scope="module")
def sim():
    s = Sim("ur5e", n_slots=8)
    yield s
    s.close()


def obj(category, color, x, y, z=TABLE_HEIGHT, yaw=0.0, size=None):
    size = size or CATEGORIES[category].sample_size(np.random.default_rng(0))
    return ObjectSpec(category, color, tuple(size), (x, y, z), (math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)))


def view_of(sim, *objects):
    sim.set_scene(SceneSpec(robot="ur5e", objects=tuple(objects)))
    frame = sim.render(seg=True)
    K, T = sim.camera_pose()
    return SceneView(sim.scene, frame.seg, frame.depth, K, T, AREA)


def step(rel, anchors=(), **params):
    return Step(rel, tuple(anchors), tuple(sorted(params.items())), "")


def loc(view, category, *steps, color=None):
    return evaluate_location(view, category, color, list(steps))


CUBE = (0.045, 0.045, 0.045)


@pytest.fixture(scope="module")
def row(sim):
    """Three cubes in a row, left to right as the camera sees them: red, green, blue."""
    return view_of(
        sim,
        obj("block", "red", -0.1, -0.25, size=CUBE),
        obj("block", "green", -0.1, 0.0, size=CUBE),
        obj("block", "blue", -0.1, 0.25, size=CUBE),
    )


def test_left_right_of(row):
    assert loc(row, "block", step("left_of", [1])) == [0]
    assert loc(row, "block", step("right_of", [1])) == [2]


def test_nth_from_and_extremes(row):
    assert loc(row, "block", step("nth_from", side="left", n=1)) == [0]
    assert loc(row, "block", step("nth_from", side="left", n=2)) == [1]
    assert loc(row, "block", step("nth_from", side="right", n=1)) == [2]
    assert loc(row, "block", step("extreme", which="leftmost")) == [0]
    assert loc(row, "block", step("extreme", which="rightmost")) == [2]


def test_closest_farthest(row):
    assert loc(row, "block", step("closest_to", [0])) == [1]
    assert loc(row, "block", step("farthest_from", [0])) == [2]


def test_between(sim):
    v = view_of(
        sim,
        obj("can", "red", -0.1, -0.3),
        obj("can", "blue", -0.1, 0.3),
        obj("block", "green", -0.1, 0.0, size=CUBE),
        obj("block", "yellow", -0.38, 0.02, size=CUBE),
    )
    assert loc(v, "block", step("between", [0, 1])) == [2]
    region = evaluate_placement(v, [step("between", [0, 1])], 0.03)
    pts = v.table_points[region[v.table_rows, v.table_cols]]
    assert len(pts) > 30
    assert np.all(np.abs(pts[:, 1]) < 0.3 * 0.6 + 0.02)  # between y = -0.3 and 0.3, middle part
    assert np.all(np.abs(pts[:, 0] + 0.1) < 0.07)


def test_front_behind_and_image_above_below(sim):
    v = view_of(
        sim,
        obj("block", "red", 0.12, 0.0, size=CUBE),
        obj("can", "green", -0.1, 0.0),
        obj("block", "blue", -0.34, 0.0, size=CUBE),
    )
    assert loc(v, "block", step("in_front_of", [1])) == [0]
    assert loc(v, "block", step("behind", [1])) == [2]
    assert loc(v, "block", step("above_in_image", [1])) == [2]
    assert loc(v, "block", step("below_in_image", [1])) == [0]
    assert loc(v, "block", step("extreme", which="frontmost")) == [0]
    assert loc(v, "block", step("extreme", which="backmost")) == [2]
    for rel, sign in (("in_front_of", -1), ("behind", 1)):
        mask = evaluate_placement(v, [step(rel, [1])], 0.03)
        sel = mask[v.table_rows, v.table_cols]
        assert sel.sum() > 30
        assert np.all(sign * (v.table_cam[sel, 2] - v.objects[1].cam[2]) > 0)


def test_stacking_relations(sim):
    book = obj("book", "red", -0.1, 0.0, size=(0.2, 0.14, 0.03))
    on_book = obj("block", "green", -0.1, 0.0, z=TABLE_HEIGHT + 0.03, size=CUBE)
    off_book = obj("block", "blue", -0.1, 0.3, size=CUBE)
    v = view_of(sim, book, on_book, off_book)
    assert v.objects[1].support == 0 and v.objects[2].support == -1
    assert loc(v, "block", step("on_top_of", [0])) == [1]
    assert loc(v, "block", step("above", [0])) == [1]
    assert loc(v, "block", step("outside_of", [0])) == [2]
    assert loc(v, "book", step("below", [1])) == [0]
    assert loc(v, "block", step("extreme", which="highest")) == [1]
    assert loc(v, "block", step("extreme", which="lowest")) == [2]


def test_on_top_of_and_inside_placement_land_on_the_anchor(sim):
    v = view_of(sim, obj("book", "red", -0.1, -0.15, size=(0.2, 0.14, 0.03)), obj("bowl", "blue", -0.1, 0.2))
    for rel, k in (("on_top_of", 0), ("inside", 1)):
        mask = evaluate_placement(v, [step(rel, [k])], 0.03)
        assert mask.sum() > 30
        assert np.all(v.seg[mask] == k + 1)  # only the anchor's own pixels


def test_next_to_far_from(sim):
    v = view_of(
        sim,
        obj("can", "red", -0.1, 0.0),
        obj("block", "green", -0.1, 0.075, size=CUBE),  # 2 cm edge gap
        obj("block", "blue", -0.1, -0.45, size=CUBE),
    )
    assert loc(v, "block", step("next_to", [0])) == [1]
    assert loc(v, "block", step("far_from", [0])) == [2]


def test_metric_offset_within_depth(sim):
    v = view_of(
        sim,
        obj("can", "red", -0.1, 0.0),
        obj("block", "green", -0.1, -0.15, size=CUBE),  # 15 cm to the camera's left
        obj("block", "blue", -0.1, 0.35, size=CUBE),
    )
    assert loc(v, "block", step("offset", [0], d=0.15, dir="left")) == [1]
    assert loc(v, "block", step("within", [0], d=0.2)) == [1]
    z1, z2 = v.objects[1].cam[2], v.objects[2].cam[2]
    assert loc(v, "block", step("depth", d=round(max(z1, z2) + 0.05, 2))) == [1, 2]
    mask = evaluate_placement(v, [step("offset", [0], d=0.15, dir="right")], 0.03)
    pts = v.table_points[mask[v.table_rows, v.table_cols]]
    assert len(pts) > 20 and np.all(np.linalg.norm(pts[:, :2] - [-0.1, 0.15], axis=1) < 0.046)
    mask = evaluate_placement(v, [step("within", [0], d=0.2)], 0.03)
    pts = v.table_points[mask[v.table_rows, v.table_cols]]
    assert np.all(np.linalg.norm(pts[:, :2] - [-0.1, 0.0], axis=1) < 0.2)


def test_size_height_width(sim):
    v = view_of(
        sim,
        obj("box", "red", -0.1, -0.25, size=(0.12, 0.1, 0.1)),
        obj("box", "green", -0.1, 0.0, size=(0.07, 0.06, 0.05)),
        obj("box", "blue", -0.1, 0.25, size=(0.05, 0.04, 0.16)),
    )
    assert loc(v, "box", step("size", mode="most")) == [0]
    assert loc(v, "box", step("size", mode="least")) == [1]
    assert loc(v, "box", step("size", [1], mode="more")) == [0, 2]
    assert loc(v, "box", step("height", mode="most")) == [2]
    assert loc(v, "box", step("height", [0], mode="more")) == [2]
    assert loc(v, "box", step("width", mode="most")) == [0]
    assert loc(v, "box", step("width", [0], mode="less")) == [1, 2]


def test_object_centric_front_back_and_facing(sim):
    # the mug's front (handle side) points along world +y, i.e. to the camera's right
    v = view_of(
        sim,
        obj("mug", "red", -0.1, 0.0, yaw=math.pi / 2),
        obj("block", "green", -0.1, 0.2, size=CUBE),
        obj("block", "blue", -0.1, -0.2, size=CUBE),
    )
    np.testing.assert_allclose(v.objects[0].front, [0, 1], atol=1e-6)
    assert loc(v, "block", step("front_side", [0])) == [1]
    assert loc(v, "block", step("back_side", [0])) == [2]
    mask = evaluate_placement(v, [step("front_side", [0])], 0.03)
    pts = v.table_points[mask[v.table_rows, v.table_cols]]
    assert len(pts) > 20 and np.all(pts[:, 1] > 0.04)
    v2 = view_of(
        sim,
        obj("bowl", "red", -0.1, 0.0),
        obj("mug", "green", -0.1, -0.25, yaw=math.pi / 2),  # handle points at the bowl
        obj("mug", "blue", -0.1, 0.25, yaw=math.pi / 2),  # handle points away from it
    )
    assert loc(v2, "mug", step("facing", [0], toward=True)) == [1]
    assert loc(v2, "mug", step("facing", [0], toward=False)) == [2]


def test_angle_seen_from_another_object(sim):
    # seen from B (at +x) looking at A, 90 degrees to the left is world -y... (counter-clockwise)
    v = view_of(
        sim,
        obj("can", "red", -0.15, 0.0),  # A
        obj("can", "blue", 0.15, 0.0),  # B, the viewpoint
        obj("block", "green", -0.15, -0.2, size=CUBE),
        obj("block", "yellow", -0.15, 0.2, size=CUBE),
    )
    # direction B->A is -x; rotating -x by +90 deg (counter-clockwise) gives -y
    assert loc(v, "block", step("angle", [0, 1], deg=90)) == [2]
    assert loc(v, "block", step("angle", [0, 1], deg=-90)) == [3]


def test_table_region_and_alignment(sim):
    (x0, x1), (y0, y1) = AREA
    v = view_of(
        sim,
        obj("block", "red", x1 - 0.05, y0 + 0.05, size=CUBE),  # near (camera side) left corner
        obj("block", "green", x0 + 0.05, y1 - 0.05, size=CUBE),
        obj("can", "red", -0.1, -0.2),
        obj("can", "blue", -0.1, 0.0),
        obj("block", "blue", -0.1, 0.2, size=CUBE),  # in line with the cans, beyond the blue one
    )
    assert loc(v, "block", step("table_region", what="corner", which="near-left")) == [0]
    assert loc(v, "block", step("table_region", what="corner", which="far-right")) == [1]
    assert loc(v, "block", step("center", [2, 3], mode="aligned")) == [4]
    mask = evaluate_placement(v, [step("table_region", what="corner", which="far-left")], 0.03)
    pts = v.table_points[mask[v.table_rows, v.table_cols]]
    assert len(pts) > 20 and np.all(np.linalg.norm(pts[:, :2] - [x0, y0], axis=1) < 0.2)


def test_free_space_keeps_clear_of_objects(sim):
    v = view_of(sim, obj("plate", "white", -0.1, 0.0), obj("can", "red", 0.1, 0.2))
    mask = evaluate_placement(v, [step("free_space")], 0.05)
    pts = v.table_points[mask[v.table_rows, v.table_cols]]
    assert len(pts) > 1000
    for o in v.objects:
        assert np.all(np.linalg.norm(pts[:, :2] - o.center[:2], axis=1) >= o.radius + 0.05 - 1e-9)
    (x0, x1), (y0, y1) = AREA
    assert np.all((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1))


def test_ambiguity_is_rejected(sim):
    """A candidate inside the margin of a relation makes the program select nothing."""
    v = view_of(
        sim,
        obj("can", "red", -0.1, 0.0),
        obj("block", "green", -0.1, -0.2, size=CUBE),
        obj("block", "blue", -0.25, 0.005, size=CUBE),  # neither left nor right of the can
    )
    assert loc(v, "block", step("left_of", [0])) == []


def test_above_and_below_are_world_relations_and_on_top_of_is_resting_on(sim):
    """``on_top_of`` needs contact (the anchor supports the object); ``above`` (world) only needs
    the object higher than the anchor and over it: raised in the air, or on a third object that
    is stacked on the anchor. Beside the anchor on the table is neither."""
    book = obj("book", "red", -0.1, -0.1, size=(0.2, 0.14, 0.03))
    resting = obj("block", "green", -0.05, -0.1, z=TABLE_HEIGHT + 0.03, size=CUBE)
    raised = obj("block", "blue", -0.15, -0.1, z=TABLE_HEIGHT + 0.09, size=CUBE)  # 6 cm over the book
    beside = obj("block", "yellow", -0.1, 0.02, size=CUBE)  # on the table, over the book's grown footprint
    v = view_of(sim, book, resting, raised, beside)
    assert [o.support for o in v.objects] == [-1, 0, -1, -1]
    assert loc(v, "block", step("on_top_of", [0])) == [1]
    assert loc(v, "block", step("above", [0])) == [1, 2]
    above = RELATIONS["above"]
    assert above.score(v, v.objects[3], [v.objects[0]], {}) < -above.margin  # beside is decisively not above
    assert above.anchor_useful(v, v.objects[0])

    tower = view_of(
        sim,
        obj("book", "red", -0.1, 0.0, size=(0.2, 0.14, 0.03)),
        obj("box", "blue", -0.1, 0.0, z=TABLE_HEIGHT + 0.03, size=(0.08, 0.08, 0.05)),  # on the book
        obj("block", "green", -0.1, 0.0, z=TABLE_HEIGHT + 0.08, size=CUBE),  # on the box
        obj("block", "yellow", -0.1, 0.3, size=CUBE),
    )
    assert [o.support for o in tower.objects] == [-1, 0, 1, -1]
    assert loc(tower, "block", step("on_top_of", [0])) == []  # the green block rests on the box
    assert loc(tower, "block", step("above", [0])) == [2]  # ... which is on the book: it is above it
    assert loc(tower, "block", step("on_top_of", [1])) == [2]
    assert loc(tower, "box", step("above", [0])) == [1]
    # below (world) is the converse of above, not of on_top_of: the book is below the green block
    # (two levels down), and below the raised blue block that touches nothing
    assert loc(tower, "book", step("below", [2])) == [0]
    assert loc(tower, "box", step("below", [2])) == [1]
    assert loc(tower, "book", step("below", [3])) == []  # the yellow block stands beside it
    assert loc(v, "book", step("below", [2])) == [0]
    assert loc(v, "book", step("below", [3])) == []


# One constructed scene per family; the camera looks along world -x (camera-left = world -y).
SCENES = {
    "sides": (
        obj("can", "red", -0.1, 0.0),
        obj("block", "green", -0.1, -0.2, size=CUBE),
        obj("block", "blue", -0.1, 0.2, size=CUBE),
    ),
    "depth": (
        obj("block", "red", 0.12, 0.0, size=CUBE),
        obj("can", "green", -0.1, 0.0),
        obj("block", "blue", -0.34, 0.0, size=CUBE),
    ),
    "stack": (
        obj("book", "red", -0.1, -0.1, size=(0.2, 0.14, 0.03)),
        obj("block", "green", -0.05, -0.1, z=TABLE_HEIGHT + 0.03, size=CUBE),  # resting on the book
        obj("block", "blue", -0.15, -0.1, z=TABLE_HEIGHT + 0.09, size=CUBE),  # raised over it
        obj("block", "yellow", -0.1, 0.02, size=CUBE),  # beside it on the table
        obj("book", "white", -0.1, 0.3, size=(0.2, 0.14, 0.03)),
    ),
    "near": (
        obj("can", "red", -0.1, 0.0),
        obj("block", "green", -0.1, 0.075, size=CUBE),  # 2 cm edge gap
        obj("block", "blue", -0.1, -0.45, size=CUBE),
    ),
    "offset": (
        obj("can", "red", -0.1, 0.0),
        obj("block", "green", -0.1, -0.15, size=CUBE),  # 15 cm to the camera's left
        obj("block", "blue", -0.1, 0.35, size=CUBE),
    ),
    "between": (
        obj("can", "red", -0.1, -0.3),
        obj("can", "blue", -0.1, 0.3),
        obj("block", "green", -0.1, 0.0, size=CUBE),
        obj("block", "yellow", -0.38, 0.02, size=CUBE),
    ),
    "row": (
        obj("block", "red", -0.1, -0.25, size=CUBE),
        obj("block", "green", -0.1, 0.0, size=CUBE),
        obj("block", "blue", -0.1, 0.25, size=CUBE),
    ),
    "sizes": (
        obj("box", "red", -0.1, -0.25, size=(0.12, 0.1, 0.1)),
        obj("box", "green", -0.1, 0.0, size=(0.07, 0.06, 0.05)),
        obj("box", "blue", -0.1, 0.25, size=(0.05, 0.04, 0.16)),
    ),
    "mug": (
        obj("mug", "red", -0.1, 0.0, yaw=math.pi / 2),  # front (handle) along world +y: camera-right
        obj("block", "green", -0.1, 0.2, size=CUBE),
        obj("block", "blue", -0.1, -0.2, size=CUBE),
    ),
    "facing": (
        obj("bowl", "red", -0.1, 0.0),
        obj("mug", "green", -0.1, -0.25, yaw=math.pi / 2),  # handle points at the bowl
        obj("mug", "blue", -0.1, 0.25, yaw=math.pi / 2),  # handle points away from it
    ),
    "angle": (
        obj("can", "red", -0.15, 0.0),  # a
        obj("can", "blue", 0.15, 0.0),  # b, the viewpoint
        obj("block", "green", -0.15, -0.2, size=CUBE),
        obj("block", "yellow", -0.15, 0.2, size=CUBE),
    ),
    "table": (
        obj("block", "red", AREA[0][1] - 0.05, AREA[1][0] + 0.05, size=CUBE),  # near-left corner
        obj("block", "green", AREA[0][0] + 0.05, AREA[1][1] - 0.05, size=CUBE),  # far-right corner
        obj("can", "red", -0.1, -0.2),
        obj("can", "blue", -0.1, 0.0),
        obj("block", "blue", -0.1, 0.2, size=CUBE),  # in line with the cans, beyond the blue one
    ),
    "bowl": (obj("bowl", "blue", -0.1, 0.1), obj("can", "red", 0.05, -0.2)),
}

# relation -> (scene, category, anchors, params, selected): the location program
# filter(category) -> relation(anchors, params) must select exactly ``selected``.
LOCATION_CASES = {
    "left_of": ("sides", "block", [0], {}, [1]),
    "right_of": ("sides", "block", [0], {}, [2]),
    "in_front_of": ("depth", "block", [1], {}, [0]),
    "behind": ("depth", "block", [1], {}, [2]),
    "above_in_image": ("depth", "block", [1], {}, [2]),
    "below_in_image": ("depth", "block", [1], {}, [0]),
    "above": ("stack", "block", [0], {}, [1, 2]),
    "on_top_of": ("stack", "block", [0], {}, [1]),
    "outside_of": ("stack", "block", [0], {}, [2, 3]),
    "below": ("stack", "book", [1], {}, [0]),
    "next_to": ("near", "block", [0], {}, [1]),
    "far_from": ("near", "block", [0], {}, [2]),
    "closest_to": ("near", "block", [0], {}, [1]),
    "farthest_from": ("near", "block", [0], {}, [2]),
    "within": ("offset", "block", [0], {"d": 0.2}, [1]),
    "offset": ("offset", "block", [0], {"d": 0.15, "dir": "left"}, [1]),
    "depth": ("depth", "block", [], {"d": None}, [0]),  # d: halfway between the blocks' depths
    "between": ("between", "block", [0, 1], {}, [2]),
    "nth_from": ("row", "block", [], {"side": "left", "n": 2}, [1]),
    "extreme": ("row", "block", [], {"which": "rightmost"}, [2]),
    "size": ("sizes", "box", [], {"mode": "most"}, [0]),
    "height": ("sizes", "box", [], {"mode": "most"}, [2]),
    "width": ("sizes", "box", [], {"mode": "least"}, [2]),
    "front_side": ("mug", "block", [0], {}, [1]),
    "back_side": ("mug", "block", [0], {}, [2]),
    "facing": ("facing", "mug", [0], {"toward": True}, [1]),
    "angle": ("angle", "block", [0, 1], {"deg": 90}, [2]),
    "table_region": ("table", "block", [], {"what": "corner", "which": "near-left"}, [0]),
    "center": ("table", "block", [2, 3], {"mode": "aligned"}, [4]),
}
# relation -> (scene, anchors): placement-only relations, checked on their regions below.
PLACEMENT_CASES = {"inside": ("bowl", [0]), "free_space": ("bowl", [])}


@pytest.fixture(scope="module")
def scenes(sim):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = view_of(sim, *SCENES[name])
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(RELATIONS))
def test_every_relation_selects_what_its_maths_says(scenes, name):
    """Each of the 31 relations on a scene whose answer is known: it keeps the expected objects
    (or table points) and rejects the others, none of them inside its ambiguity margin."""
    rel = RELATIONS[name]
    assert (name in LOCATION_CASES) == rel.location and (name in PLACEMENT_CASES) == (not rel.location)
    if name in PLACEMENT_CASES:
        key, anchors = PLACEMENT_CASES[name]
        v = scenes(key)
        mask = evaluate_placement(v, [step(name, anchors)], 0.03)
        table = v.seg == SEG_TABLE
        if name == "inside":  # the bowl's own pixels, inside its opening; never the table
            bowl = v.objects[0]
            assert mask.sum() > 30 and np.all(v.seg[mask] == 1)
            rows, cols = np.nonzero(mask)
            pts = unproject(np.column_stack([cols + 0.5, rows + 0.5]), v.depth[rows, cols], v.K, v.T)
            assert np.all(np.linalg.norm(pts[:, :2] - bowl.center[:2], axis=1) <= 0.3 * bowl.size[0] + 1e-9)
        else:  # free table, clear of every footprint by the clearance; the rest is rejected
            assert mask.sum() > 1000 and np.all(table[mask]) and (table & ~mask).sum() > 100
            pts = v.table_points[mask[v.table_rows, v.table_cols]]
            for o in v.objects:
                assert np.all(np.linalg.norm(pts[:, :2] - o.center[:2], axis=1) >= o.radius + 0.03 - 1e-9)
        return
    key, category, anchors, params, selected = LOCATION_CASES[name]
    v = scenes(key)
    if name == "depth":
        params = {"d": float(np.mean([v.objects[i].cam[2] for i in (0, 2)]))}
    pool = [o for o in v.objects if o.category == category and o.index not in anchors]
    assert 0 < len(selected) < len(pool)  # something is selected and something rejected
    assert loc(v, category, step(name, anchors, **params)) == selected
    if not rel.superlative(params):  # a filter: decisive both ways, outside the margin
        a = [v.objects[i] for i in anchors]
        for o in pool:
            s = rel.score(v, o, a, params)
            assert (s > rel.margin) if o.index in selected else (s < -rel.margin), (o.name, s)
