"""Training samples for RefPoint: seeded env episodes, preprocessed to the model's resolution and
cached on disk as ``.npz`` shards (written atomically, reused by every later run).

A sample is what the model sees (RGB, depth, instruction) plus its targets: the mask as a
distribution over the heatmap grid, the full-resolution mask for scoring, the ground-truth point,
the task kind, the target's depth, and the target's colour and category (the subject of the
trace's last ``[Position]`` step). Samples come from the ``task_split="train"`` env with optional
extra env options (``env_kwargs``, e.g. randomization or depth noise; they tag the shard names,
so a cache never mixes env settings); an observation without depth is stored as such
(``has_depth`` False) and trains the model's missing-depth input.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from roboref.agents.inputs import observed_depth
from roboref.agents.refpoint.config import KINDS, SUBJECT_CATEGORIES, SUBJECT_COLORS
from roboref.envs.atomic import atomic_path
from roboref.seeds import REFPOINT_BLOCKS, seed_of

log = logging.getLogger(__name__)
TEXT_KEYS = ("instruction", "steps")  # the reasoning trace as JSON (RFT's process reward needs it)
ARRAY_KEYS = ("rgb", "depth", "target", "mask", "point", "kind", "target_depth", "color", "category")


def resize_area(array: np.ndarray, size: int) -> np.ndarray:
    """Area-average a 2D float array to ``size × size`` (PIL box filter, float32)."""
    img = Image.fromarray(np.ascontiguousarray(array, np.float32), mode="F")
    return np.asarray(img.resize((size, size), Image.Resampling.BOX), np.float32)


def preprocess_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 ``H×W×3`` to ``size×size×3`` (box filter)."""
    if rgb.shape[:2] == (size, size):
        return np.ascontiguousarray(rgb, np.uint8)
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BOX), np.uint8)


def preprocess_depth(depth: np.ndarray, size: int, max_depth: float) -> np.ndarray:
    """Metric depth clipped to ``[0, max_depth]`` (the background reads 100 m), area-resized."""
    d = np.nan_to_num(np.asarray(depth, np.float32), nan=max_depth, posinf=max_depth)
    return resize_area(np.clip(d, 0.0, max_depth), size)


def mask_target(mask: np.ndarray, grid: int) -> np.ndarray:
    """The mask as a distribution over ``grid × grid`` cells (the heatmap's cross-entropy target)."""
    frac = resize_area(np.asarray(mask, np.float32), grid)
    total = frac.sum()
    return frac / total if total > 0 else np.full_like(frac, 1.0 / frac.size)


def subject_labels(steps) -> tuple[int, int]:
    """``(colour, category)`` indices of the target named in the trace's last Position step;
    -1 where unknown (ignored by the loss)."""
    pos = [s for s in steps if s.kind == "Position"]
    if not pos:
        return -1, -1
    subject = pos[-1].subject.strip().lower()
    if subject in SUBJECT_CATEGORIES:
        return -1, SUBJECT_CATEGORIES.index(subject)
    color, _, category = subject.partition(" ")
    c = SUBJECT_COLORS.index(color) if color in SUBJECT_COLORS else -1
    k = SUBJECT_CATEGORIES.index(category) if category in SUBJECT_CATEGORIES else -1
    return c, k


def target_depth(depth: np.ndarray, mask: np.ndarray, max_depth: float) -> float:
    """Median depth over the target's visible pixels (metres), the model's depth-step target."""
    vals = np.asarray(depth, np.float32)[np.asarray(mask, bool)]
    vals = vals[np.isfinite(vals)]
    return float(np.clip(np.median(vals), 0.0, max_depth)) if vals.size else float("nan")


def encode_sample(obs: dict, task, image_size: int, grid: int, max_depth: float) -> dict:
    """One observation and its task as the arrays of a shard row (no depth: zeros, ``has_depth``
    False, and no target depth)."""
    color, category = subject_labels(task.steps)
    mask = np.asarray(task.mask, bool)
    depth = observed_depth(obs)
    if depth is None:
        depth_in, t_depth = np.zeros((image_size, image_size), np.float32), float("nan")
    else:
        depth_in, t_depth = preprocess_depth(depth, image_size, max_depth), target_depth(depth, mask, max_depth)
    return {
        "rgb": preprocess_rgb(obs["rgb"], image_size),
        "depth": depth_in.astype(np.float16),
        "has_depth": np.bool_(depth is not None),
        "target": mask_target(mask, grid).astype(np.float16),
        "mask": np.packbits(mask, axis=None),
        "mask_shape": np.array(mask.shape, np.int32),
        "point": np.array(task.point, np.float32),
        "kind": np.int8(KINDS.index(task.kind)),
        "target_depth": np.float32(t_depth),
        "color": np.int8(color),
        "category": np.int8(category),
        "instruction": obs["instruction"],
        "steps": json.dumps([st.to_dict() for st in task.steps]),
    }


@dataclass(frozen=True)
class ShardSpec:
    """``count`` samples of ``robot``: indices ``start …`` of the seed block of ``split`` (``train``,
    ``val`` or ``rft``; ``roboref.seeds.REFPOINT_BLOCKS``), so train and validation never share a scene."""

    robot: str
    split: str
    start: int
    count: int
    image_size: int
    grid: int
    max_depth: float
    env_kwargs: str = ""  # extra env options as canonical JSON (``env_kwargs_key``); "" = none

    @property
    def name(self) -> str:
        env = f"-e{hashlib.sha1(self.env_kwargs.encode()).hexdigest()[:8]}" if self.env_kwargs else ""
        return (
            f"{self.robot}-{robot_tag(self.robot)}-{self.split}-s{self.image_size}g{self.grid}d{self.max_depth:g}"
            f"{env}-{self.start:010d}-{self.count}.npz"
        )

    def seed(self, i: int) -> int:
        """The env seed of the shard's ``i``-th sample."""
        return seed_of(REFPOINT_BLOCKS[self.split], self.start + i)


def robot_tag(robot: str) -> str:
    """Six hex digits of the robot's placement (mount and scene workspace) in shard names: moving
    a robot changes every scene it sees, so its old shards must not be reused."""
    from roboref.envs.robots import get_robot

    r = get_robot(robot)
    key = json.dumps([r.mount_pos, r.mount_yaw, r.workspace, r.pedestal])
    return hashlib.sha1(key.encode()).hexdigest()[:6]


def atomic_savez(path: Path, **arrays) -> None:
    """Write an ``.npz`` atomically: a killed writer leaves no half-written shard behind."""
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


#: Env options the trainers set themselves, so ``env_kwargs`` may not.
RESERVED_ENV_KWARGS = ("robot", "task_split")


def env_kwargs_key(env_kwargs: dict | None) -> str:
    """Canonical JSON of extra env options ("" for none), after checking them against the
    Refer env's config: an unknown or reserved option is an error before any sample is made."""
    if not env_kwargs:
        return ""
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"env_kwargs must be a mapping of env options, got {type(env_kwargs).__name__}")
    reserved = sorted(set(env_kwargs) & set(RESERVED_ENV_KWARGS))
    if reserved:
        raise ValueError(f"env_kwargs may not set {reserved}: the trainer sets them (use robots= for the robots)")
    from roboref.envs.refer_env import ReferEnvConfig

    ReferEnvConfig.from_kwargs(task_split="train", **env_kwargs)  # unknown names: error listing the allowed
    return json.dumps(env_kwargs, sort_keys=True, default=list)


def make_train_env(robot: str, env_kwargs: dict | None = None):
    """The ``task_split="train"`` env of ``robot`` with ``env_kwargs``. Where the robot's table
    cannot fit the default 15 objects without the held-out categories (G1 at the time of
    writing), one fewer is used."""
    import gymnasium as gym

    from roboref.envs import env_id
    from roboref.envs.scene import SceneFitError

    kwargs = {"task_split": "train", **(env_kwargs or {})}
    try:
        return gym.make(env_id("refer", robot), **kwargs)
    except SceneFitError:
        if "num_objects" in kwargs:
            raise
        return gym.make(env_id("refer", robot), **kwargs, num_objects=(4, 14))


def generate_shard(spec: ShardSpec, cache_dir: str | Path) -> tuple[Path, Counter]:
    """Render ``spec``'s episodes (``task_split="train"`` scenes and programs) into one shard.
    A seed without a task (``NoTaskError``) is skipped, deterministically; returns the shard's
    path and the skipped seeds by reason. Any other error propagates."""
    from roboref.envs.tasks.records import NoTaskError

    path = Path(cache_dir) / spec.name
    skipped: Counter = Counter()
    if path.exists():
        return path, skipped
    env = make_train_env(spec.robot, json.loads(spec.env_kwargs)) if spec.env_kwargs else make_train_env(spec.robot)
    rows = []
    try:
        for i in range(spec.count):
            seed = spec.seed(i)
            try:
                obs, _ = env.reset(seed=seed)
            except NoTaskError:
                skipped["NoTaskError"] += 1
                continue
            row = encode_sample(obs, env.unwrapped.task, spec.image_size, spec.grid, spec.max_depth)
            row["seed"] = np.int64(seed)
            rows.append(row)
    finally:
        env.close()
    if not rows:
        raise ValueError(f"{spec.name}: none of its {spec.count} seeds gave a task ({dict(skipped)})")
    arrays = {k: np.stack([r[k] for r in rows]) for k in rows[0] if k not in TEXT_KEYS}
    for k in TEXT_KEYS:
        arrays[k] = np.array([r[k] for r in rows], dtype=np.str_)
    atomic_savez(path, **arrays)
    return path, skipped


def shard_specs(
    num_samples: int,
    split: str,
    robots: Sequence[str],
    image_size: int,
    grid: int,
    max_depth: float,
    shard_size: int = 250,
    env_kwargs: dict | None = None,
) -> list[ShardSpec]:
    """Shards covering ``num_samples`` samples, alternating robots shard by shard. The same
    arguments always give the same shards, so a cache is shared by every run that asks for it."""
    specs, n, i = [], 0, 0
    env = env_kwargs_key(env_kwargs)
    while n < num_samples:
        count = min(shard_size, num_samples - n)
        robot = robots[i % len(robots)]
        start = (i // len(robots)) * shard_size
        specs.append(ShardSpec(robot, split, start, count, image_size, grid, max_depth, env))
        n += count
        i += 1
    return specs


def build_cache(
    specs: Sequence[ShardSpec], cache_dir: str | Path, workers: int = 1, progress: bool = True
) -> list[Path]:
    """Generate the missing shards (in ``workers`` processes) and return all shard paths; logs
    how many seeds the new shards skipped, by reason."""
    from tqdm import tqdm

    cache_dir = Path(cache_dir)
    missing = [s for s in specs if not (cache_dir / s.name).exists()]
    skipped: Counter = Counter()
    if missing:
        bar = tqdm(total=len(missing), desc="generating shards", unit="shard", disable=not progress)
        if workers <= 1:
            for s in missing:
                _, skips = generate_shard(s, cache_dir)
                skipped.update(skips)
                bar.update()
        else:
            with ProcessPoolExecutor(workers) as pool:
                for _, skips in pool.map(generate_shard, missing, [cache_dir] * len(missing)):
                    skipped.update(skips)
                    bar.update()
        bar.close()
    if skipped:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items()))
        log.warning("skipped %d seed(s) of %d new shard(s) (%s)", sum(skipped.values()), len(missing), reasons)
    return [cache_dir / s.name for s in specs]


class SampleSet:
    """All samples of a list of shards, in memory, indexed ``0..len-1`` in shard order."""

    def __init__(self, paths: Sequence[str | Path]):
        if not paths:
            raise ValueError("SampleSet needs at least one shard")
        self.paths = [Path(p) for p in paths]
        # sizes first, so that every array is allocated once at its full size and filled shard by
        # shard: memory is the data set plus one shard (concatenating shard copies held ~2.3x
        # the data set, 15 GB for 80k prompts, in freed-but-kept heap)
        self.sizes = [len(self._read(p, lambda z: z["kind"])) for p in self.paths]
        n, start = sum(self.sizes), 0
        arrays: dict[str, np.ndarray] = {}
        instructions, seeds, steps = [], [], []

        def fill(z) -> None:
            size = len(z["kind"])
            for k in (*ARRAY_KEYS, "mask_shape"):
                a = z[k]
                if k not in arrays:
                    arrays[k] = np.empty((n, *a.shape[1:]), a.dtype)
                arrays[k][start : start + size] = a
            has = z["has_depth"] if "has_depth" in z else np.ones(size, bool)  # older shards: all have depth
            arrays.setdefault("has_depth", np.empty(n, bool))[start : start + size] = has
            instructions.append(z["instruction"])
            seeds.append(z["seed"] if "seed" in z else np.full(size, -1, np.int64))
            steps.append(z["steps"] if "steps" in z else None)

        for p, size in zip(self.paths, self.sizes, strict=True):
            self._read(p, fill)
            start += size
        #: env seed and robot of every sample (seed -1: unknown), to re-create its episode
        self.seeds = np.concatenate(seeds)
        self.robots = np.concatenate(
            [np.full(n, p.name.split("-")[0]) for p, n in zip(self.paths, self.sizes, strict=True)]
        )
        self.arrays = {**arrays, "instruction": np.concatenate(instructions)}
        self.has_steps = all(s is not None for s in steps)
        if self.has_steps:
            self.arrays["steps"] = np.concatenate(steps)

    @staticmethod
    def _read(path: Path, use):
        try:
            with np.load(path, allow_pickle=False) as z:
                return use(z)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: not a readable RefPoint shard ({err}); delete it to regenerate") from err

    def __len__(self) -> int:
        return len(self.arrays["rgb"])

    def mask(self, i: int) -> np.ndarray:
        """Full-resolution boolean target mask of sample ``i``."""
        h, w = self.arrays["mask_shape"][i]
        return np.unpackbits(self.arrays["mask"][i], count=h * w).reshape(h, w).astype(bool)

    def task(self, i: int):
        """Sample ``i`` as a ``ReferringTask`` the reward functions can score (needs shards
        written with the reasoning trace)."""
        from roboref.agents.refpoint.config import KINDS
        from roboref.envs.tasks.records import ReasoningStep, ReferringTask

        if not self.has_steps:
            raise ValueError("these shards have no reasoning traces (written by an older RefPoint); regenerate them")
        steps = tuple(
            ReasoningStep(d["kind"], d["subject"], tuple(d["value"]) if isinstance(d["value"], list) else d["value"])
            for d in json.loads(str(self.arrays["steps"][i]))
        )
        a = self.arrays
        return ReferringTask(
            instruction=str(a["instruction"][i]),
            kind=KINDS[int(a["kind"][i])],
            mask=self.mask(i),
            point=(float(a["point"][i][0]), float(a["point"][i][1])),
            steps=steps,
        )

    def batch(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: self.arrays[k][idx] for k in (*ARRAY_KEYS, "has_depth", "instruction") if k != "mask"}
