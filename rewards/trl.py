"""Reward functions with TRL's signature: ``f(prompts, completions, **dataset_columns) -> list[float]``.

``GRPOTrainer(reward_funcs=reward_functions(...))`` calls each with the batch's completions and the
data set's other columns as keyword lists (one entry per completion). Columns used, as
``roboref datagen`` writes them: ``mask`` (image or array), ``answer`` (``[(x, y)]``), ``reasoning``
(step lines), ``kind``. A bad completion scores 0 (the reason is kept in ``fn.last_reasons``);
a malformed row (no mask or answer, an unreadable one) is a ``MalformedRowError`` naming the row
and the field: the data set is broken, and scoring it 0 would train on noise.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import numpy as np

from roboref.envs.tasks.reasoning import parse_steps
from roboref.envs.tasks.records import ReferringTask
from roboref.rewards.compose import RewardConfig, compute_reward
from roboref.rewards.format import parse_answer


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of chat messages (the last one's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):  # multimodal content parts
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)
    return ""


def as_mask(value: Any) -> np.ndarray:
    """A boolean mask from an array, a PIL image, PNG bytes or a datasets image dict."""
    if isinstance(value, dict) and "bytes" in value:
        value = value["bytes"]
    if isinstance(value, (bytes, bytearray)):
        from PIL import Image

        value = Image.open(io.BytesIO(value))
    arr = np.asarray(value)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr > 0


class MalformedRowError(ValueError):
    """A data-set row lacks a field the rewards need, or holds one that cannot be read."""


def row_task(
    mask: Any, answer: str | None, reasoning: str = "", kind: str = "location", row: str = "row"
) -> ReferringTask:
    """The parts of a ``ReferringTask`` a reward needs, rebuilt from a data-set row (``row`` names
    it in errors)."""
    if mask is None:
        raise MalformedRowError(f"{row}: no 'mask'")
    try:
        m = as_mask(mask)
    except Exception as err:  # PIL raises many types for bad image bytes
        raise MalformedRowError(f"{row}: 'mask' is not a readable mask ({type(err).__name__}: {err})") from err
    if m.ndim != 2 or not m.size:
        raise MalformedRowError(f"{row}: 'mask' is not a 2D mask (shape {m.shape})")
    if not answer:
        raise MalformedRowError(f"{row}: no 'answer' (the ground-truth point)")
    parsed = parse_answer(answer)
    if not parsed.ok:
        raise MalformedRowError(f"{row}: 'answer' {answer!r} is not a point: {parsed.reason}")
    if kind not in ("location", "placement"):
        raise MalformedRowError(f"{row}: 'kind' must be location or placement, got {kind!r}")
    steps, errors = parse_steps(reasoning or "")
    if errors:
        raise MalformedRowError(f"{row}: 'reasoning' has a malformed step line: {errors[0]}")
    return ReferringTask(instruction="", kind=kind, mask=m, point=parsed.points[0], steps=tuple(steps))


def _column(kwargs: dict, name: str, n: int, default: Any = None) -> list:
    values = kwargs.get(name)
    return list(values) if values is not None else [default] * n


def _row_name(kwargs: dict, i: int) -> str:
    """``row i of the batch`` plus the row's split, index and seed where the data set has them."""
    ids = [f"{k}={kwargs[k][i]}" for k in ("split", "index", "seed") if kwargs.get(k) is not None]
    return f"row {i} of the batch" + (f" ({', '.join(ids)})" if ids else "")


def reward_function(term: str, cfg: RewardConfig | None = None):
    """One TRL reward function for one term of the composer (``format``, ``point``, ``process``,
    ``step_format``), named ``roboref_<term>`` so TRL logs it under that name."""
    cfg = cfg or RewardConfig()
    only = replace(cfg, weights={term: 1.0})

    def fn(prompts=None, completions=None, **kwargs) -> list[float]:
        completions = list(completions or [])
        n = len(completions)
        masks = _column(kwargs, "mask", n)
        answers = _column(kwargs, "answer", n)
        reasoning = _column(kwargs, "reasoning", n, "")
        kinds = _column(kwargs, "kind", n, "location")
        out, reasons = [], []
        for i, completion in enumerate(completions):
            task = row_task(masks[i], answers[i], reasoning[i], kinds[i], _row_name(kwargs, i))
            res = compute_reward(completion_text(completion), task, only)
            out.append(float(res.terms.get(term, 0.0)))
            reasons.append(res.reasons.get(term, ""))
        fn.last_reasons = reasons
        return out

    fn.__name__ = f"roboref_{term}"
    fn.last_reasons = []
    return fn


def reward_functions(cfg: RewardConfig | None = None) -> tuple[list, list[float]]:
    """``(reward_funcs, reward_weights)`` for ``GRPOTrainer``/``GRPOConfig`` from a composer
    config: one function per enabled pure term. The simulator outcome is added separately:
    ``roboref.sim_reward.SimOutcomeReward`` (glue, not a pure function), which executes each
    prompt's ``num_generations`` completions together as one group."""
    cfg = cfg or RewardConfig()
    terms = [t for t in ("format", "point", "step_format", "process") if cfg.weights.get(t, 0.0)]
    return [reward_function(t, cfg) for t in terms], [float(cfg.weights[t]) for t in terms]
