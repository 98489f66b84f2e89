import io

import numpy as np
import pytest
from PIL import Image

from roboref.rewards import RewardConfig
from roboref.rewards.trl import reward_functions

MASK = np.zeros((32, 48), bool)
MASK[10:20, 20:30] = True


def _png(mask):
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def test_trl_signature_scores_each_completion():
    funcs, weights = reward_functions(RewardConfig())
    names = [f.__name__ for f in funcs]
    assert names == ["roboref_format", "roboref_point", "roboref_process"]
    assert weights == [0.1, 1.0, 0.25]
    inside = "<think>[Position] box: (0.52, 0.47)</think><answer>[(0.52, 0.47)]</answer>"
    completions = [
        [{"role": "assistant", "content": inside}],  # conversational
        "[(0.0, 0.0)]",  # plain, outside
        "I don't know",  # garbage
        "[(480, 320)]",  # pixels
    ]
    cols = {
        "mask": [_png(MASK)] * 4,
        "answer": ["[(0.52, 0.47)]"] * 4,
        "reasoning": ["[Position] box: (0.52, 0.47)"] * 4,
        "kind": ["location"] * 4,
    }
    fmt, point, process = (f(prompts=["p"] * 4, completions=completions, **cols) for f in funcs)
    assert fmt == [1.0, 1.0, 0.0, 0.0]
    assert point[0] == 1.0 and 0.0 < point[1] < 0.5 and point[2] == 0.0 and point[3] == 0.0
    assert process[0] == 1.0 and process[2] == 0.0
    assert "pixel" in funcs[1].last_reasons[3]


@pytest.mark.parametrize(
    "row, why",
    [
        ({"mask": [b"not a png"], "answer": ["[(0.5, 0.5)]"]}, "'mask' holds bytes that are not an image"),
        ({"answer": ["[(0.5, 0.5)]"]}, "'mask' is missing"),
        ({"mask": [MASK]}, "'answer' None is not a point list"),
        ({"mask": [MASK], "answer": ["?"]}, "'answer' '?' is not a point list"),
        ({"mask": [MASK], "answer": ["[(0.5, 0.5)]"], "reasoning": ["[Position] box (0.5"]}, "'reasoning'"),
    ],
)
def test_a_malformed_row_is_a_clear_error_never_a_made_up_answer(row, why):
    """A row without an answer used to be scored against (0.5, 0.5); a broken one scored 0."""
    funcs, _ = reward_functions(RewardConfig.preset("roborefer"))
    with pytest.raises(ValueError, match="row 0 of the batch") as err:
        funcs[1](prompts=["p"], completions=["[(0.5, 0.5)]"], **row)
    assert why in str(err.value) and "roboref_point" in str(err.value)
