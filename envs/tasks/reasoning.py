"""The text form of reasoning steps and its parser (the process reward reads model output with it).

One step per line: ``[Kind] subject: value [unit]``, e.g. ``[Position] red bowl: (0.41, 0.55)``,
``[Depth] red bowl: 0.84 m``, ``[Distance] mug -> red bowl: 23 cm``, ``[Size] box: (0.1, 0.08, 0.06) m``,
``[Orientation] mug: (0.71, -0.71)``, ``[Region] free space: (0.1, 0.2, 0.3, 0.4)``.
Lengths are returned in metres (``cm`` and ``mm`` are converted).
"""

from __future__ import annotations

import math
import re

from roboref.envs.tasks.records import ReasoningStep

STEP_KINDS = ("Position", "Depth", "Distance", "Size", "Orientation", "Region")
_ARITY = {"Position": 2, "Depth": 1, "Distance": 1, "Size": 3, "Orientation": 2, "Region": 4}
_LINE = re.compile(r"^\s*\[\s*([A-Za-z]+)\s*\]\s*(.+?)\s*:\s*(.+?)\s*$")
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "": 1.0}


class StepParseError(ValueError):
    """A reasoning line that does not parse; the message says why."""


def parse_step(line: str) -> ReasoningStep:
    """Parse one line; raises ``StepParseError`` with the reason."""
    m = _LINE.match(line)
    if not m:
        raise StepParseError(f"not a reasoning step '[Kind] subject: value': {line!r}")
    kind = m.group(1).capitalize()
    if kind not in STEP_KINDS:
        raise StepParseError(f"unknown step kind {m.group(1)!r}; known: {', '.join(STEP_KINDS)}")
    subject, raw = m.group(2).replace("→", "->").strip(), m.group(3).strip()
    unit_m = re.search(r"(cm|mm|m|°|deg)\s*$", raw)
    unit = unit_m.group(1) if unit_m else ""
    body = raw[: unit_m.start()].strip() if unit_m else raw
    nums = [float(x) for x in re.findall(_NUM, body)]
    if not nums or not re.fullmatch(rf"\(?\s*{_NUM}(\s*,\s*{_NUM})*\s*\)?", body):
        raise StepParseError(f"value of {kind} step is not a number or tuple: {raw!r}")
    if len(nums) != _ARITY[kind]:
        raise StepParseError(f"{kind} step needs {_ARITY[kind]} number(s), got {len(nums)}: {raw!r}")
    if not all(math.isfinite(v) for v in nums):
        raise StepParseError(f"{kind} step has a non-finite value: {raw!r}")
    if kind in ("Depth", "Distance", "Size"):
        if unit in ("°", "deg"):
            raise StepParseError(f"{kind} step must be a length, got unit {unit!r}")
        nums = [v * _UNITS[unit] for v in nums]
    value: float | tuple[float, ...] = nums[0] if len(nums) == 1 else tuple(nums)
    return ReasoningStep(kind, subject, value)


def parse_steps(text: str) -> tuple[list[ReasoningStep], list[str]]:
    """All step lines in ``text`` (lines starting with ``[``); returns (steps, errors)."""
    steps, errors = [], []
    for line in text.splitlines():
        if not line.strip().startswith("["):
            continue
        if re.match(r"^\s*\[\s*\(", line):  # an answer list like [(0.1, 0.2)], not a step
            continue
        try:
            steps.append(parse_step(line))
        except StepParseError as err:
            errors.append(str(err))
    return steps, errors


def format_steps(steps) -> str:
    return "\n".join(s.to_text() for s in steps)
