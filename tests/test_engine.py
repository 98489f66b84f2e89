import gymnasium as gym
import numpy as np
import pytest

from roboref.envs.scene import SceneConfig
from roboref.envs.sim import Sim
from roboref.envs.tasks import (
    RELATIONS,
    UNSEEN_CATEGORIES,
    UNSEEN_COLORS,
    UNSEEN_RELATION_PAIRS,
    TaskConfig,
    reevaluate,
    sample_task,
)
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
        else:
            assert np.all(np.isin(view.seg[task.mask], [254]) | (task.num_steps == 1))
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
