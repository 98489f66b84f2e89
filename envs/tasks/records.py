"""Task records shared by the task engine, rewards, agents and data export (DESIGN.md)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ReasoningStep:
    """One metric reasoning step, e.g. ``[Position] red bowl: (0.41, 0.55)``."""

    kind: str  # Position | Depth | Distance | Size | Orientation | ...
    subject: str
    value: float | tuple[float, ...]

    def to_text(self) -> str:
        if self.kind == "Position":
            return f"[Position] {self.subject}: ({self.value[0]:.3f}, {self.value[1]:.3f})"
        if self.kind in ("Depth", "Distance"):
            return f"[{self.kind}] {self.subject}: {float(self.value):.3f} m"
        if isinstance(self.value, tuple):
            unit = " m" if self.kind == "Size" else ""
            return f"[{self.kind}] {self.subject}: ({', '.join(f'{v:.3f}' for v in self.value)}){unit}"
        return f"[{self.kind}] {self.subject}: {float(self.value):.3f}"

    def to_dict(self) -> dict:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"kind": self.kind, "subject": self.subject, "value": value}

    @classmethod
    def from_dict(cls, d: dict) -> ReasoningStep:
        value = d["value"]
        return cls(d["kind"], d["subject"], tuple(float(v) for v in value) if isinstance(value, list) else value)


class NoTaskError(RuntimeError):
    """The task engine found no valid referring program for this scene or seed: an expected
    outcome (callers skip the seed and count it), unlike every other error."""


@dataclass(frozen=True)
class AgentOutput:
    """An agent's whole answer: a normalized point ``(x, y)`` (``None`` when the agent gave no
    usable answer), the raw text a language model produced, and any reasoning steps it stated.
    It lives with the task records because envs and rewards score it without importing agents."""

    point: tuple[float, float] | None
    text: str = ""
    steps: tuple[ReasoningStep, ...] = field(default=())

    def to_text(self) -> str:
        """What the agent said: its own text, or, for an agent that answers with structure only,
        that structure rendered once in RoboRefer's layout (steps in ``<think>``, the point in
        ``<answer>``; a bare ``[(x, y)]`` when it stated no steps)."""
        if self.text:
            return self.text
        answer = "" if self.point is None else f"[({self.point[0]:.3f}, {self.point[1]:.3f})]"
        if not self.steps:
            return answer
        think = "\n".join(s.to_text() for s in self.steps)
        return f"<think>\n{think}\n</think>\n<answer>{answer}</answer>"

    def to_dict(self) -> dict:
        return {
            "point": None if self.point is None else [float(v) for v in self.point],
            "text": self.text,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: dict) -> AgentOutput:
        point = d.get("point")
        return cls(
            point=None if point is None else (float(point[0]), float(point[1])),
            text=d.get("text", ""),
            steps=tuple(ReasoningStep.from_dict(s) for s in d.get("steps", ())),
        )


def mask_to_rle(mask: np.ndarray) -> dict:
    """Row-major run lengths starting with a run of ``False`` (JSON-friendly, lossless)."""
    flat = np.asarray(mask, bool).ravel()
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"shape": list(mask.shape), "counts": runs}


def rle_to_mask(rle: dict) -> np.ndarray:
    values = np.arange(len(rle["counts"])) % 2 == 1
    return np.repeat(values, rle["counts"]).reshape(rle["shape"])


@dataclass(frozen=True)
class ReferringTask:
    """What to point at, and the ground truth to score a point against.

    ``mask`` is the target's visible pixels in the agent camera image; ``point`` a canonical
    answer inside it (normalized ``(x, y)``); ``target`` the object index in the scene, or -1
    for placement tasks (free space).
    """

    instruction: str
    kind: str  # "location" | "placement"
    mask: np.ndarray = field(repr=False)
    point: tuple[float, float]
    target: int = -1
    steps: tuple[ReasoningStep, ...] = ()
    relations: tuple[str, ...] = ()
    program: str = ""
    num_steps: int = 1  # program steps (1–5), as RefSpatial counts reasoning steps
    held: int = -1  # placement: index of the object to be placed, -1 if none is named
    spec: dict = field(default_factory=dict, repr=False, compare=False)  # the program as data

    @property
    def answer(self) -> str:
        """The answer in the RoboRefer text form, ``[(x, y)]``."""
        return f"[({self.point[0]:.3f}, {self.point[1]:.3f})]"

    def to_dict(self) -> dict:
        return {
            "instruction": self.instruction,
            "kind": self.kind,
            "target": self.target,
            "point": [float(v) for v in self.point],
            "answer": self.answer,
            "steps": [s.to_dict() for s in self.steps],
            "reasoning": "\n".join(s.to_text() for s in self.steps),
            "relations": list(self.relations),
            "program": self.program,
            "num_steps": self.num_steps,
            "held": self.held,
            "spec": copy.deepcopy(self.spec),
            "mask": mask_to_rle(self.mask),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ReferringTask:
        """The inverse of ``to_dict`` (its derived ``answer`` and ``reasoning`` are ignored)."""
        return cls(
            instruction=d["instruction"],
            kind=d["kind"],
            mask=rle_to_mask(d["mask"]),
            point=(float(d["point"][0]), float(d["point"][1])),
            target=int(d.get("target", -1)),
            steps=tuple(ReasoningStep.from_dict(s) for s in d.get("steps", ())),
            relations=tuple(d.get("relations", ())),
            program=d.get("program", ""),
            num_steps=int(d.get("num_steps", 1)),
            held=int(d.get("held", -1)),
            spec=copy.deepcopy(d.get("spec", {})),
        )
