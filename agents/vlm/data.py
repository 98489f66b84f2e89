"""Training samples for VLM SFT / GRPO: from seeded env resets (in memory) or a ``roboref datagen``
data set on disk. Both give the same columns:

- ``image`` (PIL RGB), or ``images`` (RGB + colourized depth) with ``depth_image=True``;
- ``prompt``: chat messages (RoboRefer prompt, ``prompts.py``), what both trainers take;
- ``completion``: the target assistant message (SFT; GRPO ignores it);
- ``mask`` (PIL, 0/255), ``answer``, ``reasoning``, ``kind``: the ground truth the reward
  adapters of ``roboref.rewards.trl`` read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from roboref.agents.vlm.depth import colorize_depth
from roboref.agents.vlm.prompts import prompt_messages, target_text

#: Columns every sample set has (``image`` becomes ``images`` with depth).
COLUMNS = ("prompt", "completion", "mask", "answer", "reasoning", "kind", "instruction")


def sample_row(
    rgb: Any,
    depth: Any,
    mask: Any,
    instruction: str,
    answer: str,
    reasoning: str,
    kind: str,
    with_reasoning: bool = False,
    depth_image: bool = False,
) -> dict:
    """One training row from an observation's parts and its ground truth."""
    image = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.asarray(rgb, np.uint8))
    mask_img = mask if isinstance(mask, Image.Image) else Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * 255)
    row = {
        "prompt": prompt_messages(instruction, with_reasoning, depth_image),
        "completion": [{"role": "assistant", "content": target_text(answer, reasoning, with_reasoning)}],
        "mask": mask_img.convert("L"),
        "answer": answer,
        "reasoning": reasoning,
        "kind": kind,
        "instruction": instruction,
    }
    if depth_image:
        row["images"] = [image.convert("RGB"), Image.fromarray(colorize_depth(np.asarray(depth, np.float32)))]
    else:
        row["image"] = image.convert("RGB")
    return row


def env_samples(
    num_samples: int,
    seed: int = 0,
    env_id: str = "roboref/Refer-UR5e-v0",
    env_kwargs: dict | None = None,
    with_reasoning: bool = False,
    depth_image: bool = False,
):
    """A ``datasets.Dataset`` of ``num_samples`` env resets with seeds ``seed, seed + 1, …``."""
    import datasets
    import gymnasium as gym

    import roboref.envs  # noqa: F401  (registers the env ids)

    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    env = gym.make(env_id, **(env_kwargs or {}))
    rows = []
    try:
        for i in range(num_samples):
            obs, _ = env.reset(seed=seed + i)
            task = env.unwrapped.task
            reasoning = "\n".join(s.to_text() for s in task.steps)
            row = sample_row(
                obs["rgb"],
                obs["depth"],
                task.mask,
                task.instruction,
                task.answer,
                reasoning,
                task.kind,
                with_reasoning,
                depth_image,
            )
            # the simulator-in-the-loop reward rebuilds the scene from these
            row["seed"], row["robot"] = seed + i, env.unwrapped.config.robot
            rows.append(row)
    finally:
        env.close()
    return datasets.Dataset.from_list(rows)


def disk_samples(
    data_dir: str | Path,
    split: str = "train",
    num_samples: int | None = None,
    with_reasoning: bool = False,
    depth_image: bool = False,
):
    """Rows of a ``roboref datagen`` data set (``load_dataset("parquet", data_dir=...)``) as
    training samples; ``num_samples`` takes the first N (None: all)."""
    import datasets

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValueError(f"data_dir {data_dir} does not exist; write one with `roboref datagen out={data_dir} ...`")
    try:
        ds = datasets.load_dataset("parquet", data_dir=str(data_dir), split=split)
    except ValueError as err:  # e.g. unknown split
        raise ValueError(f"cannot load split {split!r} from {data_dir}: {err}") from err
    need = {"image", "mask", "instruction", "answer", "reasoning", "kind"} | ({"depth"} if depth_image else set())
    missing = need - set(ds.column_names)
    if missing:
        raise ValueError(f"{data_dir} lacks the columns {sorted(missing)}; it has {ds.column_names}")
    if num_samples is not None:
        ds = ds.select(range(min(int(num_samples), len(ds))))

    def convert(example: dict) -> dict:
        depth = None
        if depth_image:
            from roboref.datarows import depth_from_png

            depth = depth_from_png(example["depth"])
        return sample_row(
            example["image"],
            depth,
            example["mask"],
            example["instruction"],
            example["answer"],
            example["reasoning"],
            example["kind"],
            with_reasoning,
            depth_image,
        )

    rows = [convert(ds[i]) for i in range(len(ds))]
    return datasets.Dataset.from_list(rows)
