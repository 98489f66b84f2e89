"""Format reward: does the answer parse to normalized points, and do the reasoning lines parse?

Accepted answers (whitespace-tolerant): ``[(0.41, 0.63)]``, several points ``[(x, y), (x, y)]``,
``[[0.41, 0.63]]``, ``(0.41, 0.63)``, inside ``<answer>…</answer>`` and/or a code fence, after
``<think>…</think>``. Pixel coordinates (any value > 1) are rejected with a reason, never
silently rescaled; so are NaN/inf, negatives and empty lists. ``strict=True`` also requires the
``<think>…</think><answer>…</answer>`` layout of the RoboRefer RFT reward.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from roboref.envs.tasks.reasoning import parse_steps
from roboref.envs.tasks.records import ReasoningStep

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)"
_PAIR = re.compile(rf"[\(\[]\s*({_NUM})\s*,\s*({_NUM})\s*[\)\]]", re.IGNORECASE)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_STRICT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL | re.IGNORECASE)
_STEP_LINE = re.compile(r"^\s*\[\s*[A-Za-z]+\s*\]")
_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    """What a model's text says: its points (None if unusable), reasoning steps, and why."""

    points: tuple[tuple[float, float], ...] | None
    reason: str
    steps: tuple[ReasoningStep, ...] = ()
    step_errors: tuple[str, ...] = ()
    strict_layout: bool = False
    think: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.points is not None


def parse_answer(text: object) -> ParsedAnswer:
    """Parse a model's answer text. Never raises: problems come back as ``reason``."""
    if not isinstance(text, str):
        return ParsedAnswer(None, f"answer is not text: {type(text).__name__}")
    if not text.strip():
        return ParsedAnswer(None, "empty answer")
    think_m = _THINK.search(text)
    think = think_m.group(1) if think_m else ""
    steps, step_errors = parse_steps(think if think_m else text)
    strict = bool(_STRICT.match(text))
    answer_m = _ANSWER.search(text)
    body = answer_m.group(1) if answer_m else (text[think_m.end() :] if think_m else text)
    fence = _FENCE.search(body)
    if fence:
        body = fence.group(1)
    # reasoning lines like "[Position] bowl: (0.1, 0.2)" hold pairs too, but they are not the answer
    body = "\n".join(line for line in body.splitlines() if not _STEP_LINE.match(line))
    pairs = _PAIR.findall(body)
    base = {"steps": tuple(steps), "step_errors": tuple(step_errors), "strict_layout": strict, "think": think}
    if not pairs:
        if re.search(r"\[\s*\]", body):
            return ParsedAnswer(None, "empty point list", **base)
        return ParsedAnswer(None, "no (x, y) point found in the answer", **base)
    points = []
    for xs, ys in pairs:
        x, y = float(xs), float(ys)
        if not (math.isfinite(x) and math.isfinite(y)):
            return ParsedAnswer(None, f"non-finite coordinate in ({xs}, {ys})", **base)
        if x > 1.0 or y > 1.0:
            return ParsedAnswer(None, f"pixel coordinates ({xs}, {ys}): points must be normalized to [0, 1]", **base)
        if x < 0.0 or y < 0.0:
            return ParsedAnswer(None, f"negative coordinate in ({xs}, {ys})", **base)
        points.append((x, y))
    return ParsedAnswer(tuple(points), "ok", **base)


def format_reward(text: object, strict: bool = False) -> tuple[float, str]:
    """1.0 if the answer parses to normalized points (and, if ``strict``, uses the
    ``<think>…</think><answer>…</answer>`` layout), else 0.0; with the reason."""
    parsed = parse_answer(text)
    if not parsed.ok:
        return 0.0, parsed.reason
    if strict and not parsed.strict_layout:
        return 0.0, "not in the <think>...</think><answer>...</answer> layout"
    return 1.0, "ok"


def step_format_reward(text: object) -> tuple[float, str]:
    """Fraction of reasoning lines that parse as ``[Kind] subject: value`` (0 with none)."""
    parsed = parse_answer(text)
    n_ok, n_bad = len(parsed.steps), len(parsed.step_errors)
    if n_ok + n_bad == 0:
        return 0.0, "no reasoning steps"
    reason = "ok" if n_bad == 0 else parsed.step_errors[0]
    return n_ok / (n_ok + n_bad), reason
