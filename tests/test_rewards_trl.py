import io
import re

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
    "cols, field",
    [
        ({"mask": [b"not a png"], "answer": ["[(0.5, 0.5)]"]}, "'mask' is not a readable mask"),
        ({"answer": ["[(0.5, 0.5)]"]}, "no 'mask'"),
        ({"mask": [_png(MASK)]}, "no 'answer'"),  # was scored against a made-up (0.5, 0.5)
        ({"mask": [_png(MASK)], "answer": ["?"]}, "'answer' '?' is not a point"),
        ({"mask": [_png(MASK)], "answer": ["[(0.5, 0.5)]"], "kind": ["pick"]}, "'kind'"),
        ({"mask": [_png(MASK)], "answer": ["[(0.5, 0.5)]"], "reasoning": ["[Position] box (0.5"]}, "'reasoning'"),
    ],
)
def test_a_malformed_row_is_an_error_naming_the_row_and_field(cols, field):
    funcs, _ = reward_functions(RewardConfig.preset("roborefer"))
    for f in funcs:
        with pytest.raises(ValueError, match=re.escape(field)) as err:
            f(prompts=["p"], completions=["[(0.5, 0.5)]"], index=[17], seed=[42], **cols)
        assert type(err.value).__name__ == "MalformedRowError"
        assert str(err.value).startswith("row 0 of the batch (index=17, seed=42)")
