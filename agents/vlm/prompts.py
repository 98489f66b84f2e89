"""The RoboRefer prompt: the instruction, then a suffix that asks for normalized points.

RefSpatial-Bench appends a suffix like ``ANSWER_SUFFIX`` to each instruction; the reasoning form
asks for RoboRefer's ``<think>`` steps (``[Position] object: (x, y)`` …) before ``<answer>``. The
same text is used to act (``HFVLMAgent``) and to train (``train.py``), so a fine-tuned model sees
the prompt it was trained on.
"""

from __future__ import annotations

from roboref.agents.inputs import strip_answer_suffix

ANSWER_SUFFIX = (
    " Your answer should be formatted as a list of tuples, i.e. [(x1, y1)], where each tuple contains "
    "the x and y coordinates of a point satisfying the conditions above. The coordinates should be "
    "between 0 and 1, indicating the normalized pixel locations of the points in the image, "
    "e.g. [(0.412, 0.637)]."
)

REASONING_SUFFIX = (
    " First think step by step inside <think></think>, one step per line, such as "
    "[Position] red bowl: (0.412, 0.637), [Depth] red bowl: 0.840 m, "
    "[Distance] mug -> red bowl: 0.230 m; then give the answer inside <answer></answer>."
)

DEPTH_NOTE = " The second image is the depth map of the first (near is blue, far is red)."


def prompt_text(instruction: str, reasoning: bool = False, depth_image: bool = False) -> str:
    """The user text for one instruction (an answer-format suffix already on it is replaced by
    ``ANSWER_SUFFIX``, so a RefSpatial-Bench prompt does not ask twice)."""
    text = strip_answer_suffix(instruction)
    if depth_image:
        text += DEPTH_NOTE
    text += ANSWER_SUFFIX
    if reasoning:
        text += REASONING_SUFFIX
    return text


def prompt_messages(instruction: str, reasoning: bool = False, depth_image: bool = False) -> list[dict]:
    """Chat messages with image placeholders (one image, two with depth), the form that
    ``processor.apply_chat_template`` and TRL's trainers take."""
    images = [{"type": "image"}] * (2 if depth_image else 1)
    return [
        {
            "role": "user",
            "content": [*images, {"type": "text", "text": prompt_text(instruction, reasoning, depth_image)}],
        }
    ]


def target_text(answer: str, reasoning: str = "", with_reasoning: bool = False) -> str:
    """The completion a model should produce: the bare answer, or ``<think>steps</think><answer>…``."""
    if with_reasoning:
        return f"<think>{reasoning.strip()}</think><answer>{answer.strip()}</answer>"
    return answer.strip()
