import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roboref.envs.tasks.records import ReasoningStep, ReferringTask
from roboref.rewards import (
    RewardConfig,
    compute_reward,
    format_reward,
    outcome_reward,
    parse_answer,
    point_reward,
    points_reward,
    process_reward,
)
from roboref.rewards.point import distance_to_mask

# --- format -----------------------------------------------------------------------------------

ACCEPTED = [
    ("[(0.41, 0.63)]", [(0.41, 0.63)]),
    ("[(0.41,0.63)]", [(0.41, 0.63)]),
    (" [ ( 0.41 , 0.63 ) ] \n", [(0.41, 0.63)]),
    ("[(0.1, 0.2), (0.3, 0.4)]", [(0.1, 0.2), (0.3, 0.4)]),
    ("[[0.41, 0.63]]", [(0.41, 0.63)]),
    ("(0.41, 0.63)", [(0.41, 0.63)]),
    ("<answer>[(0.5, 0.5)]</answer>", [(0.5, 0.5)]),
    ("<think>the bowl is left</think><answer>[(0.2, 0.7)]</answer>", [(0.2, 0.7)]),
    ("```json\n[(0.25, 0.75)]\n```", [(0.25, 0.75)]),
    ("The point is [(0.33, 0.44)].", [(0.33, 0.44)]),
    ("[Position] red bowl: (0.1, 0.2)\n[Depth] red bowl: 0.8 m\n[(0.5, 0.6)]", [(0.5, 0.6)]),
    ("[(1, 0)]", [(1.0, 0.0)]),
    ("[(.5, .25)]", [(0.5, 0.25)]),
]

MALFORMED = [  # at least 20 styles VLMs really produce that must not score
    ("", "empty"),
    ("   ", "empty"),
    ("[]", "empty point list"),
    ("[(412, 637)]", "pixel"),
    ("[(0.41, 637)]", "pixel"),
    ("<point x='412' y='637'>mug</point>", "no (x, y)"),
    ("The mug is on the left side of the table.", "no (x, y)"),
    ("[(nan, 0.5)]", "non-finite"),
    ("[(0.5, inf)]", "non-finite"),
    ("[(-0.1, 0.5)]", "negative"),
    ("[(0.5)]", "no (x, y)"),
    ("[0.41 0.63]", "no (x, y)"),
    ("(x, y) = (?, ?)", "no (x, y)"),
    ("<answer></answer>", "no (x, y)"),
    ("<think>[Position] mug: (0.1, 0.2)</think><answer>none</answer>", "no (x, y)"),
    ("[(0.41; 0.63)]", "no (x, y)"),
    ("{'x': 0.41, 'y': 0.63}", "no (x, y)"),
    ("[(1.2, 0.3)]", "pixel"),
    ("[(0.2, 0.3), (250, 300)]", "pixel"),
    ("<|box_start|>(412,637),(500,700)<|box_end|>", "pixel"),
    ("I cannot answer that.", "no (x, y)"),
    ("[Position] mug: (0.1, 0.2)", "no (x, y)"),
]


@pytest.mark.parametrize("text, points", ACCEPTED)
def test_format_accepts_common_variants(text, points):
    parsed = parse_answer(text)
    assert parsed.ok, parsed.reason
    np.testing.assert_allclose(np.array(parsed.points), np.array(points))
    assert format_reward(text) == (1.0, "ok")


@pytest.mark.parametrize("text, why", MALFORMED)
def test_format_rejects_malformed_answers_with_a_reason(text, why):
    value, reason = format_reward(text)
    assert value == 0.0
    assert why in reason


def test_malformed_table_is_big_enough():
    assert len(MALFORMED) >= 20


def test_strict_format_needs_think_and_answer():
    assert format_reward("[(0.1, 0.2)]", strict=True)[0] == 0.0
    assert format_reward("<think>x</think> <answer>[(0.1, 0.2)]</answer>", strict=True)[0] == 1.0


@pytest.mark.parametrize("bad", [None, 3, b"[(0.1, 0.2)]", ["[(0.1, 0.2)]"]])
def test_format_never_raises_on_non_text(bad):
    assert format_reward(bad)[0] == 0.0


# --- point ------------------------------------------------------------------------------------

MASK = np.zeros((64, 96), bool)
MASK[20:30, 40:55] = True

coords = st.floats(0.0, 1.0, allow_nan=False)


@given(coords, coords)
@settings(max_examples=300, deadline=None)
def test_point_reward_is_one_inside_and_in_unit_interval(x, y):
    value, _ = point_reward((x, y), MASK)
    h, w = MASK.shape
    inside = MASK[min(int(y * h), h - 1), min(int(x * w), w - 1)]
    assert 0.0 <= value <= 1.0
    assert (value == 1.0) == bool(inside)


@given(coords, coords, coords, coords)
@settings(max_examples=300, deadline=None)
def test_point_reward_strictly_decreases_with_distance(x1, y1, x2, y2):
    (v1, _), (v2, _) = point_reward((x1, y1), MASK), point_reward((x2, y2), MASK)
    if v1 < 1 and v2 < 1:
        d1, d2 = distance_to_mask((x1, y1), MASK), distance_to_mask((x2, y2), MASK)
        if d1 < d2 - 1e-9:
            assert v1 > v2
        elif abs(d1 - d2) < 1e-12:
            assert v1 == pytest.approx(v2)


@pytest.mark.parametrize(
    "bad, why",
    [
        ((np.nan, 0.2), "not finite"),
        ((0.2, np.inf), "not finite"),
        ((1.2, 0.3), "outside [0, 1]"),
        ((-0.1, 0.5), "outside [0, 1]"),
        ((0.1,), "2 coordinates"),
        ("x", "not numeric"),
        (None, "no point"),
    ],
)
def test_point_reward_bad_points_score_zero_with_reason(bad, why):
    value, reason = point_reward(bad, MASK)
    assert value == 0.0 and why in reason


def test_several_points_mean_or_all():
    inside, outside = (47.5 / 96, 25 / 64), (0.0, 0.0)
    assert points_reward([inside, inside], MASK, "all")[0] == 1.0
    mean = points_reward([inside, outside], MASK, "mean")[0]
    assert 0.5 < mean < 1.0
    assert points_reward([inside, outside], MASK, "all")[0] == point_reward(outside, MASK)[0]
    assert points_reward([], MASK)[0] == 0.0


# --- process ----------------------------------------------------------------------------------

TRUTH = [
    ReasoningStep("Position", "red bowl", (0.41, 0.55)),
    ReasoningStep("Depth", "red bowl", 0.84),
    ReasoningStep("Distance", "mug -> red bowl", 0.23),
    ReasoningStep("Size", "blue box", (0.1, 0.08, 0.06)),
    ReasoningStep("Orientation", "green mug", (0.6, 0.8)),
    ReasoningStep("Region", "free space", (0.1, 0.2, 0.3, 0.4)),
]


def test_process_is_one_for_the_ground_truth_trace():
    assert process_reward(TRUTH, TRUTH)[0] == pytest.approx(1.0)


@given(st.permutations(TRUTH))
@settings(max_examples=50, deadline=None)
def test_process_is_order_invariant(perm):
    noisy = [
        ReasoningStep(
            s.kind,
            s.subject,
            tuple(v + 0.01 for v in s.value) if isinstance(s.value, tuple) else s.value * 1.05,
        )
        for s in perm
    ]
    ref = [
        ReasoningStep(
            s.kind,
            s.subject,
            tuple(v + 0.01 for v in s.value) if isinstance(s.value, tuple) else s.value * 1.05,
        )
        for s in TRUTH
    ]
    assert process_reward(noisy, TRUTH)[0] == pytest.approx(process_reward(ref, TRUTH)[0])
    assert process_reward(list(perm), TRUTH)[0] == pytest.approx(1.0)


def test_process_is_metric_sensitive_and_punishes_missing_or_invented_steps():
    def depth(v):
        return [ReasoningStep("Depth", "red bowl", v)]

    truth = depth(0.84)
    close, far = process_reward(depth(0.86), truth)[0], process_reward(depth(1.2), truth)[0]
    assert 1.0 > close > far >= 0.0
    assert process_reward(TRUTH[:3], TRUTH)[0] == pytest.approx(0.5)  # 3 of 6 given
    invented = TRUTH + [ReasoningStep("Depth", "unicorn", 1.0)]
    assert process_reward(invented, TRUTH)[0] == pytest.approx(6 / 7)
    assert process_reward([], TRUTH)[0] == 0.0
    wrong_subject = [ReasoningStep("Depth", "blue bowl", 0.84)]
    assert process_reward(wrong_subject, truth)[0] == 0.0
    assert process_reward([ReasoningStep("Depth", "The Red  bowl", 0.84)], truth)[0] == 1.0


def test_process_binary_paper_tolerances():
    from roboref.rewards.process import ProcessConfig

    cfg = ProcessConfig(binary=True)
    pos = [ReasoningStep("Position", "bowl", (0.5, 0.5))]
    assert process_reward([ReasoningStep("Position", "bowl", (0.5 + 40 / 224, 0.5))], pos, cfg=cfg)[0] == 1
    assert process_reward([ReasoningStep("Position", "bowl", (0.5 + 60 / 224, 0.5))], pos, cfg=cfg)[0] == 0
    ori = [ReasoningStep("Orientation", "mug", (1.0, 0.0))]
    c = math.cos(math.radians(30))
    assert process_reward([ReasoningStep("Orientation", "mug", (c, 0.5))], ori, cfg=cfg)[0] == 1
    size = [ReasoningStep("Size", "box", (0.1, 0.1, 0.1))]
    assert process_reward([ReasoningStep("Size", "box", (0.114, 0.1, 0.1))], size, cfg=cfg)[0] == 1
    assert process_reward([ReasoningStep("Size", "box", (0.12, 0.1, 0.1))], size, cfg=cfg)[0] == 0


def test_process_never_raises_on_bad_values():
    bad = [ReasoningStep("Depth", "red bowl", float("nan")), ReasoningStep("Position", "red bowl", (0.1,))]
    value, reason, per = process_reward(bad, TRUTH)
    assert value == 0.0 and per == [0.0, 0.0]


# --- outcome and composer ---------------------------------------------------------------------


def test_outcome_partial_credit():
    assert outcome_reward({"grasped": True, "lifted": True}, "location")[0] == 1.0
    assert outcome_reward({"grasped": True, "lifted": False}, "location")[0] == pytest.approx(0.6)
    assert outcome_reward({"placed": True, "stable": True}, "placement")[0] == 1.0
    assert outcome_reward(None)[0] == 0.0


THINK = "<think>[Position] red bowl: (0.41, 0.55)\n[Depth] red bowl: 0.84 m</think>"


def _task():
    return ReferringTask(
        instruction="Point to the red bowl.",
        kind="location",
        mask=MASK,
        point=(47.5 / 96, 25 / 64),
        target=0,
        steps=tuple(TRUTH[:2]),
    )


def test_composer_reports_every_term_and_reason():
    task = _task()
    good = THINK + "<answer>[(0.495, 0.39)]</answer>"
    res = compute_reward(good, task)
    assert set(res.terms) == {"format", "point", "process", "outcome"}
    assert res.terms["format"] == 1.0 and res.terms["point"] == 1.0 and res.terms["process"] == 1.0
    assert res.reasons["outcome"] == "not executed"
    assert res.total == pytest.approx(0.1 + 1.0 + 0.25)
    bad = compute_reward("[(412, 300)]", task)
    assert bad.terms["format"] == 0.0 and bad.terms["point"] == 0.0 and "pixel" in bad.reasons["point"]


def test_roborefer_preset_matches_the_paper():
    task = _task()
    good = THINK + "<answer>[(0.5, 0.4)]</answer>"
    res = compute_reward(good, task, RewardConfig.preset("roborefer"))
    assert res.terms == {"format": 1.0, "point": 1.0, "step_format": 1.0, "process": 1.0}
    assert res.total == pytest.approx(2.5)
    far = compute_reward("<think></think><answer>[(0.0, 0.0)]</answer>", task, RewardConfig.preset("roborefer"))
    assert far.terms["point"] == 0.0 and far.terms["format"] == 1.0


def test_composer_accepts_agent_outputs():
    from roboref.agents import AgentOutput

    task = _task()
    res = compute_reward(AgentOutput(point=task.point, steps=task.steps), task)
    assert res.terms["point"] == 1.0 and res.terms["process"] == 1.0 and res.terms["format"] == 1.0
    assert compute_reward(AgentOutput(point=None), task).terms["point"] == 0.0


def test_strict_format_scores_what_a_structured_answer_said():
    """An AgentOutput with no text is rendered to text once and scored: a bare point is not in the
    strict layout and states no steps; with its steps it is, and each step line parses."""
    from roboref.envs.tasks import AgentOutput

    task = _task()
    strict = RewardConfig.preset("roborefer")
    bare = compute_reward(AgentOutput(point=task.point), task, strict)
    assert bare.terms["point"] == 1.0
    assert bare.terms["format"] == 0.0 and "layout" in bare.reasons["format"]
    assert bare.terms["step_format"] == 0.0 and bare.reasons["step_format"] == "no reasoning steps"
    full = compute_reward(AgentOutput(point=task.point, steps=task.steps), task, strict)
    assert full.terms["format"] == 1.0 and full.terms["step_format"] == 1.0
    assert full.total == pytest.approx(bare.total + 1.0 + 0.25 * 2)
    # text, when there is some, is what scores: the same structure with sloppy text does not pass
    sloppy = compute_reward(AgentOutput(point=task.point, text="[(0.495, 0.39)]", steps=task.steps), task, strict)
    assert sloppy.terms["format"] == 0.0 and sloppy.terms["step_format"] == 0.0


def test_agent_output_renders_to_text_that_parses_back():
    from roboref.envs.tasks import AgentOutput
    from roboref.rewards import parse_answer

    task = _task()
    out = AgentOutput(point=(0.25, 0.75), steps=task.steps)
    parsed = parse_answer(out.to_text())
    assert parsed.strict_layout and parsed.points == ((0.25, 0.75),)
    assert [s.kind for s in parsed.steps] == [s.kind for s in task.steps]
    assert AgentOutput(point=(0.25, 0.75)).to_text() == "[(0.250, 0.750)]"
    assert AgentOutput(point=None).to_text() == ""
    assert AgentOutput.from_dict(out.to_dict()) == out


def test_bad_reward_configs():
    with pytest.raises(ValueError, match="terms"):
        RewardConfig(weights={"format": 1.0, "style": 2.0})
    with pytest.raises(ValueError, match="presets"):
        RewardConfig.preset("fancy")
