"""RefSpatial-Bench on disk: load its published layout and score any agent on it.

The benchmark is never downloaded here; a user who has it points ``bench_dir`` at it. Layout per
split folder (``Location``, ``Placement``, ``Unseen``): a JSON list of entries (``question.json``
or the only ``*.json`` file) with ``id``, ``image`` (or ``rgb_path``), ``mask`` (or ``mask_path``),
``object``, ``prompt``, ``suffix``, ``step``; paths are relative to the split folder. Answers are
``[(x, y)]`` normalized; an answer scores the fraction of its points inside the mask (the
benchmark's rule). Unparseable answers score 0 and are counted apart (the original script skips
them, which flatters a model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from roboref.rewards.format import parse_answer

SPLITS = {"location": "Location", "placement": "Placement", "unseen": "Unseen"}
DEFAULT_SUFFIX = (
    "Your answer should be formatted as a list of tuples, i.e. [(x1, y1)], where each tuple contains "
    "the x and y coordinates of a point satisfying the conditions above. The coordinates should be "
    "between 0 and 1, indicating the normalized pixel locations of the points in the image."
)


@dataclass(frozen=True)
class BenchEntry:
    id: str
    image: Path
    mask: Path
    object: str
    prompt: str
    suffix: str
    step: int
    split: str

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        rgb = np.asarray(Image.open(self.image).convert("RGB"))
        mask = np.asarray(Image.open(self.mask))
        mask = (mask[..., 0] if mask.ndim == 3 else mask) > 0
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"{self.mask}: mask {mask.shape} does not match image {rgb.shape[:2]}")
        return rgb, mask


def split_dir(root: str | Path, split: str) -> Path:
    if split.lower() not in SPLITS:
        raise ValueError(f"unknown RefSpatial-Bench split {split!r}; splits: {', '.join(SPLITS)}")
    root = Path(root)
    for name in (SPLITS[split.lower()], split.lower(), split):
        if (root / name).is_dir():
            return root / name
    raise ValueError(f"{root} has no {SPLITS[split.lower()]}/ folder (RefSpatial-Bench layout expected)")


def load_split(root: str | Path, split: str) -> list[BenchEntry]:
    """All entries of one split, with paths checked."""
    folder = split_dir(root, split)
    candidates = [folder / "question.json"] if (folder / "question.json").exists() else sorted(folder.glob("*.json"))
    if len(candidates) != 1:
        raise ValueError(f"{folder}: expected question.json (or exactly one .json file), found {len(candidates)}")
    entries = json.loads(candidates[0].read_text())
    if not isinstance(entries, list):
        raise ValueError(f"{candidates[0]}: expected a JSON list of entries")
    out = []
    for e in entries:
        missing = [k for k in ("id", "prompt") if k not in e]
        image, mask = e.get("image", e.get("rgb_path")), e.get("mask", e.get("mask_path"))
        if missing or image is None or mask is None:
            raise ValueError(f"{candidates[0]}: entry {e.get('id', '?')} lacks {missing or ['image/mask']}")
        paths = folder / image, folder / mask
        for p in paths:
            if not p.exists():
                raise ValueError(f"{candidates[0]}: entry {e['id']}: file {p} not found")
        out.append(
            BenchEntry(
                id=str(e["id"]),
                image=paths[0],
                mask=paths[1],
                object=e.get("object", ""),
                prompt=e["prompt"],
                suffix=e.get("suffix", DEFAULT_SUFFIX),
                step=int(e.get("step", 1)),
                split=split.lower(),
            )
        )
    return out


def score_answer(text_or_points, mask: np.ndarray) -> tuple[float, bool, str]:
    """``(score, parsed, reason)``: the fraction of the answer's points inside the mask."""
    if isinstance(text_or_points, str):
        parsed = parse_answer(text_or_points)
        if not parsed.ok:
            return 0.0, False, parsed.reason
        points = parsed.points
    else:
        points = [p for p in (text_or_points or []) if p is not None]
        if not points:
            return 0.0, False, "no point"
    h, w = mask.shape
    hits = [bool(mask[min(int(y * h), h - 1), min(int(x * w), w - 1)]) for x, y in points]
    return sum(hits) / len(hits), True, "ok"


def observation(entry: BenchEntry, rgb: np.ndarray) -> dict:
    """What an agent sees: the image and the benchmark prompt with its answer-format suffix.
    RefSpatial-Bench has no depth or camera, so those are None (depth-needing agents must cope)."""
    return {
        "rgb": rgb,
        "depth": None,
        "instruction": f"{entry.prompt} {entry.suffix}".strip(),
        "intrinsics": None,
        "extrinsics": None,
    }


def evaluate_agent(agent, entries: list[BenchEntry]) -> list[dict]:
    """One record per entry: the agent's answer, its score and whether it parsed."""
    records = []
    for e in entries:
        rgb, mask = e.load()
        out = agent.act(observation(e, rgb))
        score, parsed, reason = score_answer(out.text if out.text else [out.point], mask)
        records.append(
            {
                "key": f"refspatial/{e.split}/{e.id}",
                "segment": f"refspatial-{e.split}",
                "robot": "-",
                "id": e.id,
                "instruction": e.prompt,
                "kind": "placement" if e.split == "placement" else "location",
                "num_steps": e.step,
                "relations": [],
                "text": out.text,
                "point": None if out.point is None else [float(v) for v in out.point],
                "parsed": parsed,
                "parse_reason": reason,
                "score": score,
                "success": score > 0.5,
                "reward": score,
                "reward_terms": {"bench_score": score},
            }
        )
    return records
