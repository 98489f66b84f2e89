import gymnasium as gym
import numpy as np
import pytest
from scipy import ndimage

from roboref.envs.camera import SEG_TABLE, unproject
from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim
from roboref.envs.tasks import (
    RELATIONS,
    UNSEEN_CATEGORIES,
    UNSEEN_COLORS,
    UNSEEN_RELATION_PAIRS,
    NoTaskError,
    TaskConfig,
    evaluate_location,
    evaluate_placement,
    reevaluate,
    sample_task,
    steps_from_spec,
)
from roboref.envs.tasks.color_category import interior_point
from roboref.envs.tasks.reasoning import StepParseError, parse_step, parse_steps
from roboref.envs.tasks.records import ReasoningStep, mask_to_rle, rle_to_mask
from roboref.envs.tasks.view import SceneView


@pytest.fixture(scope="module")
def sim():
    s = Sim("ur5e")
    yield s
    s.close()


def _view(sim, seed, cfg=None):
    cfg = cfg or SceneConfig()
    rng = np.random.default_rng(seed)
    scene = sim.reset_scene(rng, cfg)
    frame = sim.render(seg=True)
    K, T = sim.camera_pose()
    return rng, SceneView(scene, frame.seg, frame.depth, K, T, cfg.placement_area)


def test_hundreds_of_samples_are_consistent(sim):
    """Answer point in a non-empty mask, and re-evaluating the program gives the same mask."""
    kinds, steps = set(), set()
    for seed in range(200):
        rng, view = _view(sim, seed)
        task = sample_task(rng, view, TaskConfig())
        assert task is not None, seed
        assert task.mask.sum() >= 30
        h, w = task.mask.shape
        assert task.mask[int(task.point[1] * h), int(task.point[0] * w)]
        assert np.array_equal(reevaluate(view, task.spec), task.mask), task.program
        assert 1 <= task.num_steps <= 5
        if task.kind == "location":
            assert np.array_equal(task.mask, view.seg == task.target + 1)
        elif task.num_steps == 1 and RELATIONS[task.relations[0]].on_surface:
            # one step onto an object's top (on_top_of, above, inside): that anchor's own pixels,
            # at its top and over its footprint
            a = view.objects[task.spec["steps"][0]["anchors"][0]]
            assert np.all(view.seg[task.mask] == a.index + 1), task.program
            rows, cols = np.nonzero(task.mask)
            pts = unproject(np.column_stack([cols + 0.5, rows + 0.5]), view.depth[rows, cols], view.K, view.T)
            assert np.all(pts[:, 2] >= a.top_z - 0.03), task.program
            assert np.all(np.linalg.norm(pts[:, :2] - a.center[:2], axis=1) <= a.radius), task.program
        else:
            assert np.all(view.seg[task.mask] == SEG_TABLE), task.program
        assert task.instruction[0].isupper() and task.instruction.strip()[-1] in ".?"
        lines, errors = parse_steps("\n".join(s.to_text() for s in task.steps))
        assert not errors and len(lines) == len(task.steps)
        kinds.add(task.kind)
        steps.add(task.num_steps)
    assert kinds == {"location", "placement"}
    assert steps == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("name", sorted(RELATIONS))
def test_every_relation_generates_tasks(sim, name):
    rel = RELATIONS[name]
    kinds = tuple(k for k, ok in (("location", rel.location), ("placement", rel.placement)) if ok)
    cfg = TaskConfig(relations=(name,), kinds=kinds, num_steps=(1, 2), tries=40)
    made = 0
    for seed in range(40):
        rng, view = _view(sim, seed, SceneConfig(stack_prob=0.7))
        task = sample_task(rng, view, cfg)
        if task is not None and name in task.relations:
            made += 1
            assert np.array_equal(reevaluate(view, task.spec), task.mask)
        if made >= 2:
            break
    assert made >= 1, f"{name} never produced a task"


def test_multi_step_programs_narrow_step_by_step(sim):
    """3-5 step programs: every step keeps the answer and narrows what is left (location: the
    candidates, down to the target alone, each anchor used once; placement: nested, non-empty
    table regions), and every anchor is named in the reasoning trace."""
    cfg = TaskConfig(num_steps=(3, 5))
    kinds, lengths = set(), set()
    for seed in range(30):
        rng, view = _view(sim, seed)
        task = sample_task(rng, view, cfg)
        assert task is not None, seed
        assert 3 <= task.num_steps <= 5
        steps = steps_from_spec(task.spec)
        assert tuple(s.relation for s in steps) == task.relations
        anchors = [i for s in steps for i in s.anchors]
        named = {s.subject for s in task.steps if s.kind == "Position"}
        assert {view.objects[i].name for i in anchors} <= named
        if task.kind == "location":
            assert len(steps) == task.num_steps - 1
            assert len(anchors) == len(set(anchors)) and task.target not in anchors  # each used once
            spec = task.spec
            left = [evaluate_location(view, spec["category"], spec["color"], steps[:k]) for k in range(len(steps) + 1)]
            assert all(task.target in c for c in left), (task.program, left)
            for before, after in zip(left, left[1:], strict=False):
                assert len(after) < len(before) or len(before) == 1, (task.program, left)
            assert left[-1] == [task.target]
        else:
            assert len(steps) == task.num_steps
            masks = [
                evaluate_placement(view, steps[:k], task.spec["clearance"], task.held) for k in range(1, len(steps) + 1)
            ]
            for st, before, after in zip(steps[1:], masks, masks[1:], strict=False):
                assert not np.any(after & ~before), task.program  # each step keeps a part of the last
                if RELATIONS[st.relation].constrains:
                    assert after.sum() <= 0.85 * before.sum(), task.program  # ... a smaller part
            assert all(m.sum() >= 30 for m in masks) and np.array_equal(masks[-1], task.mask)
            assert np.all(view.seg[task.mask] == SEG_TABLE)
        kinds.add(task.kind)
        lengths.add(task.num_steps)
    assert kinds == {"location", "placement"} and lengths == {3, 4, 5}


def test_free_space_alone_cannot_make_longer_programs():
    """``free_space`` is the identity region: a 2-step program of it alone does not exist, which
    the env reports as no task (it used to crash drawing from an empty relation pool)."""
    env = gym.make("roboref/Refer-UR5e-v0", relations=("free_space",), kinds=("placement",), num_steps=(2, 2))
    with pytest.raises(NoTaskError):
        env.reset(seed=0)
    env.close()


def test_same_seed_same_task(sim):
    a = sample_task(*_view(sim, 5), TaskConfig())
    sample_task(*_view(sim, 6), TaskConfig())
    b = sample_task(*_view(sim, 5), TaskConfig())
    assert a.instruction == b.instruction and a.program == b.program
    assert np.array_equal(a.mask, b.mask) and a.point == b.point and a.steps == b.steps


def test_splits_hold_out_categories_colours_and_relation_pairs():
    def parts(env):
        u = env.unwrapped
        names = {o.category for o in u.scene.objects} | {o.color for o in u.scene.objects}
        return names, set(u.task.relations), u.task

    train = gym.make("roboref/Refer-UR5e-v0", task_split="train")
    for seed in range(15):
        train.reset(seed=seed)
        names, rels, _ = parts(train)
        assert not names & set(UNSEEN_CATEGORIES + UNSEEN_COLORS)
        assert not any(p <= rels for p in UNSEEN_RELATION_PAIRS)
    train.close()
    unseen = gym.make("roboref/Refer-UR5e-v0", task_split="unseen")
    for seed in range(10):
        unseen.reset(seed=seed)
        u = unseen.unwrapped
        task = u.task
        used = [task.target, task.held] + [a for s in task.spec["steps"] for a in s["anchors"]]
        objs = [u.scene.objects[i] for i in used if i >= 0]
        novel = any(o.category in UNSEEN_CATEGORIES or o.color in UNSEEN_COLORS for o in objs)
        assert novel or any(p <= set(task.relations) for p in UNSEEN_RELATION_PAIRS)
    unseen.close()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"relations": ("left_of", "levitating")}, ["levitating", "left_of"]),
        ({"num_steps": (0, 3)}, ["num_steps", "1 <="]),
        ({"num_steps": (2, 6)}, ["num_steps"]),
        ({"kinds": ("location", "pouring")}, ["pouring", "placement"]),
        ({"split": "holdout"}, ["holdout", "unseen"]),
        ({"relations": ("inside",), "kinds": ("location",)}, ["inside", "select"]),
        ({"relations": ("nth_from",), "kinds": ("placement",)}, ["nth_from", "placement"]),
    ],
)
def test_bad_task_configs(kwargs, words):
    with pytest.raises(ValueError) as err:
        TaskConfig(**kwargs)
    for w in words:
        assert w in str(err.value)


def test_impossible_program_requests_end_with_a_clear_error():
    env = gym.make("roboref/Refer-UR5e-v0", relations=("below",), kinds=("location",), num_steps=(5, 5))
    with pytest.raises(RuntimeError, match="no valid referring program"):
        env.reset(seed=0)
    env.close()


def test_reasoning_text_round_trip_and_variants():
    steps = [
        ReasoningStep("Position", "red bowl", (0.412, 0.637)),
        ReasoningStep("Depth", "red bowl", 0.84),
        ReasoningStep("Distance", "green mug -> red bowl", 0.23),
        ReasoningStep("Size", "blue box", (0.1, 0.08, 0.06)),
        ReasoningStep("Orientation", "red mug", (0.71, -0.71)),
        ReasoningStep("Region", "free space", (0.1, 0.2, 0.3, 0.4)),
    ]
    for s in steps:
        assert parse_step(s.to_text()) == s
    assert parse_step("[Depth] red bowl: 84 cm").value == pytest.approx(0.84)
    assert parse_step("  [distance]  mug → bowl :  230 mm ").value == pytest.approx(0.23)
    assert parse_step("[Position] the bowl: 0.1, 0.2").value == (0.1, 0.2)


@pytest.mark.parametrize(
    "line, why",
    [
        ("[Colour] bowl: red", "unknown step kind"),
        ("[Position] bowl: (0.1)", "needs 2"),
        ("[Depth] bowl: far", "not a number"),
        ("[Depth] bowl: nan m", "not a number"),
        ("[Depth] bowl: 30 deg", "length"),
        ("Position bowl 0.1 0.2", "not a reasoning step"),
        ("[Size] box: (0.1, 0.2)", "needs 3"),
    ],
)
def test_reasoning_parser_rejects_malformed_lines(line, why):
    with pytest.raises(StepParseError, match=why):
        parse_step(line)


def test_parse_steps_skips_answers_and_collects_errors():
    text = "<think>\n[Position] bowl: (0.1, 0.2)\n[Depth] bowl: ???\n</think>\n[(0.5, 0.5)]"
    steps, errors = parse_steps(text)
    assert len(steps) == 1 and len(errors) == 1


def test_mask_rle_round_trip():
    rng = np.random.default_rng(0)
    for shape in [(5, 7), (224, 224)]:
        m = rng.uniform(size=shape) > 0.7
        m[0, 0] = True
        assert np.array_equal(rle_to_mask(mask_to_rle(m)), m)
        assert np.array_equal(rle_to_mask(mask_to_rle(~m)), ~m)


def test_distance_maps_equal_numpy_norm_bit_for_bit(sim):
    """``SceneView.center_dist`` (in-place sqrt of squares) is the value np.linalg.norm gives, so
    relations and free space read the same distances they did before the fast path."""
    _, view = _view(sim, 4)
    for xy in (np.array([0.0, 0.0]), np.array([0.31, -0.27]), view.objects[0].center[:2]):
        want = np.linalg.norm(view.table_points[:, :2] - xy, axis=1)
        got = view.center_dist(xy)
        assert got.tobytes() == want.tobytes()
        assert not got.flags.writeable and view.center_dist(xy) is got  # cached, read-only


def _interior_point_full_image(mask):
    dist = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
    h, w = mask.shape
    return (float((col + 0.5) / w), float((row + 0.5) / h))


def test_interior_point_on_the_bounding_box_equals_the_whole_image(sim):
    """The distance transform runs on the mask's box plus a margin: the same point as on the
    whole image, for object masks, random blobs and masks that touch the image edge."""
    masks = [m for seed in (1, 2) for m in (o.mask for o in _view(sim, seed)[1].objects) if m.any()]
    rng = np.random.default_rng(0)
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 30, size=2))
        m = rng.uniform(size=(h, w)) < rng.uniform(0.05, 1.0)
        masks.append(ndimage.binary_dilation(m) if rng.uniform() < 0.5 else m)
    edge = np.zeros((20, 20), bool)
    edge[:6, 12:] = True  # touches the top and right edges: they count as border
    masks += [edge, np.zeros((5, 7), bool), np.ones((4, 4), bool)]
    for m in masks:
        assert interior_point(m) == _interior_point_full_image(m)
    # rows 2-3, columns 14-17 are 3 px from the border (the edge included): the first is (2, 14)
    assert interior_point(edge) == (14.5 / 20, 2.5 / 20)
