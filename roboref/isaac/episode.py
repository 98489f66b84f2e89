"""The pure-python half of the Isaac task: read an exported episode's task from its USD stage,
encode the instruction as a tensor-friendly array, and score a point with ``roboref.rewards``.

Nothing here imports Isaac, so it is tested on any machine with ``usd-core``; inside Isaac Sim the
same functions run against Isaac's own ``pxr``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from roboref.envs.pointing import MAX_INSTRUCTION_LENGTH
from roboref.envs.tasks import ReferringTask
from roboref.envs.tasks.records import AgentOutput
from roboref.rewards.compose import RewardConfig, compute_reward
from roboref.rewards.point import point_in_mask

REWARDS = ("binary", "default", "roborefer")


@dataclass(frozen=True)
class IsaacEpisode:
    """What the Isaac env needs from an exported stage (paths relative to its default prim)."""

    usd_path: str
    task: ReferringTask = field(repr=False)
    robot: str
    camera: str  # e.g. "Cameras/agent"
    resolution: tuple[int, int]  # (width, height)
    intrinsics: np.ndarray = field(repr=False)
    joint_home: dict[str, float] = field(default_factory=dict)  # joint prim name -> rad or m
    seed: int = -1


def read_episode(usd_path: str | Path) -> IsaacEpisode:
    """The task, camera and robot home pose that ``roboref export`` wrote into ``usd_path``."""
    from roboref.envs.usd import WORLD, read_task
    from roboref.envs.usd_geom import pxr_modules

    p = pxr_modules()
    path = Path(usd_path)
    if not path.is_file():
        raise FileNotFoundError(f"no USD episode at {path}: write one with `roboref export format=usd out={path}`")
    stage = p.Usd.Stage.Open(str(path))
    meta = read_task(stage)
    cam = stage.GetPrimAtPath(meta["camera"])
    w, h = cam.GetCustomDataByKey("roboref:resolution")
    K = np.array(json.loads(cam.GetCustomDataByKey("roboref:intrinsics")))
    home = {}
    for prim in p.Usd.PrimRange(stage.GetPrimAtPath(f"{WORLD}/Robot")):
        for kind, unit in (("angular", math.radians), ("linear", float)):
            attr = prim.GetAttribute(f"state:{kind}:physics:position")
            if attr and attr.HasAuthoredValue():
                home[prim.GetName()] = unit(attr.Get())
    return IsaacEpisode(
        usd_path=str(path.resolve()),
        task=ReferringTask.from_dict(json.loads(meta["task_json"])),
        robot=str(meta["robot"]),
        camera=str(meta["camera"]).removeprefix(WORLD + "/"),
        resolution=(int(w), int(h)),
        intrinsics=K,
        joint_home=home,
        seed=int(meta["seed"]),
    )


def encode_instruction(text: str) -> np.ndarray:
    """UTF-8 bytes zero-padded to ``MAX_INSTRUCTION_LENGTH``: Isaac Lab observations are tensors."""
    data = text.encode("utf-8")
    if len(data) > MAX_INSTRUCTION_LENGTH:
        raise ValueError(f"instruction longer than {MAX_INSTRUCTION_LENGTH} bytes: {text[:40]!r}…")
    out = np.zeros(MAX_INSTRUCTION_LENGTH, np.uint8)
    out[: len(data)] = np.frombuffer(data, np.uint8)
    return out


def decode_instruction(codes) -> str:
    """The text ``encode_instruction`` packed (a numpy array or a CPU tensor)."""
    arr = np.asarray(codes, dtype=np.uint8).ravel()
    return bytes(arr[arr != 0]).decode("utf-8")


def score_point(task: ReferringTask, point, reward: str = "binary") -> tuple[float, dict[str, float]]:
    """The reward ``ReferEnv.step`` gives ``point`` for ``task``: ``binary`` = inside the mask,
    ``default``/``roborefer`` = roboref's reward composer with that preset."""
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    x, y = (float(v) for v in np.asarray(point, dtype=float).ravel()[:2])
    if reward == "binary":
        hit, _ = point_in_mask((x, y), task.mask)
        return float(hit), {"point": float(hit)}
    res = compute_reward(AgentOutput(point=(x, y)), task, RewardConfig.preset(reward))
    return float(res.total), dict(res.terms)
