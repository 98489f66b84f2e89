"""Reward functions with TRL's signature: ``f(prompts, completions, **dataset_columns) -> list[float]``.

``GRPOTrainer(reward_funcs=reward_functions(...))`` calls each with the batch's completions and the
data set's other columns as keyword lists (one entry per completion). Columns used, as
``roboref datagen`` writes them: ``mask`` (image or array), ``answer`` (``[(x, y)]``), ``reasoning``
(step lines), ``kind``. A bad completion scores 0 with its reason in ``fn.last_reasons``; a
malformed data-set row (no readable mask, no parsable answer) is a ``ValueError`` naming the row
and the field, because it is a bug in the data, not something the model did.
"""

from __future__ import annotations

import io
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
    """A boolean mask from an array, a PIL image, PNG bytes or a datasets image dict; a
    ``ValueError`` for anything else."""
    if isinstance(value, dict) and "bytes" in value:
        value = value["bytes"]
    if isinstance(value, (bytes, bytearray)):
        from PIL import Image, UnidentifiedImageError

        try:
            value = Image.open(io.BytesIO(value))
        except UnidentifiedImageError:
            raise ValueError("'mask' holds bytes that are not an image") from None
    if value is None:
        raise ValueError("'mask' is missing")
    arr = np.asarray(value)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.dtype == object:
        raise ValueError(f"'mask' must be a 2-D image or array, got {type(value).__name__} of shape {arr.shape}")
    return arr > 0


def row_task(mask: Any, answer: str, reasoning: str = "", kind: str = "location") -> ReferringTask:
    """The parts of a ``ReferringTask`` a reward needs, rebuilt from a data-set row. A row without
    a readable mask or a parsable ``answer`` is a ``ValueError`` naming the field."""
    m = as_mask(mask)
    parsed = parse_answer(answer)
    if not parsed.ok:
        raise ValueError(f"'answer' {answer!r} is not a point list: {parsed.reason}")
    steps, errors = parse_steps(reasoning or "")
    if errors:
        raise ValueError(f"'reasoning' has a malformed line: {errors[0]}")
    if kind not in ("location", "placement"):
        raise ValueError(f"'kind' must be 'location' or 'placement', got {kind!r}")
    return ReferringTask(instruction="", kind=kind, mask=m, point=parsed.points[0], steps=tuple(steps))


def _column(kwargs: dict, name: str, n: int, default: Any = None) -> list:
    values = kwargs.get(name)
    return list(values) if values is not None else [default] * n


def reward_function(term: str, cfg: RewardConfig | None = None):
    """One TRL reward function for one term of the composer (``format``, ``point``, ``process``,
    ``step_format``), named ``roboref_<term>`` so TRL logs it under that name."""
    cfg = cfg or RewardConfig()
    only = RewardConfig(
        weights={term: 1.0},
        strict_format=cfg.strict_format,
        point_mode=cfg.point_mode,
        point_tol_px=cfg.point_tol_px,
        point_aggregate=cfg.point_aggregate,
        outside_max=cfg.outside_max,
        sigma=cfg.sigma,
        process=cfg.process,
    )

    def fn(prompts=None, completions=None, **kwargs) -> list[float]:
        completions = list(completions or [])
        n = len(completions)
        masks = _column(kwargs, "mask", n)
        answers = _column(kwargs, "answer", n)
        reasoning = _column(kwargs, "reasoning", n, "")
        kinds = _column(kwargs, "kind", n, "location")
        out, reasons = [], []
        for i, completion in enumerate(completions):
            try:
                task = row_task(masks[i], answers[i], reasoning[i], kinds[i])
            except ValueError as err:
                raise ValueError(f"{fn.__name__}: data-set row {i} of the batch: {err}") from None
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
    config: one function per enabled pure term (the simulator outcome is added separately)."""
    cfg = cfg or RewardConfig()
    terms = [t for t in ("format", "point", "step_format", "process") if cfg.weights.get(t, 0.0)]
    return [reward_function(t, cfg) for t in terms], [float(cfg.weights[t]) for t in terms]
