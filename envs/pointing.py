"""The pointing contract every roboref env shares: config parsing, observation and action spaces,
the point check and the observation dict (DESIGN.md: ``Dict(rgb, depth, instruction, intrinsics,
extrinsics)``, action ``Box(0, 1, (2,))`` = the normalized point)."""

from __future__ import annotations

import string
from dataclasses import fields
from typing import Any

import numpy as np
from gymnasium import spaces

from roboref.envs.camera import CameraSpec
from roboref.envs.scene import DEFAULT_CAMERAS
from roboref.envs.sim import Sim
from roboref.envs.tasks.records import AgentOutput, ReferringTask

INSTRUCTION_CHARSET = string.ascii_letters + string.digits + " .,;:!?'\"()[]-_/%°"
MAX_INSTRUCTION_LENGTH = 256
#: Config fields that hydra and JSON hand over as lists.
TUPLE_FIELDS = ("num_objects", "image_size", "categories", "colors", "relations", "kinds", "num_steps")


def config_from_kwargs(cls, kwargs: dict[str, Any]):
    """``cls(**kwargs)`` with unknown names reported together with the allowed ones."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ValueError(f"unknown env option(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {k: tuple(v) if k in TUPLE_FIELDS and isinstance(v, list) else v for k, v in kwargs.items()}
    return cls(**kwargs)


def check_common(cfg) -> None:
    """Checks of the fields every env config has."""
    w, h = cfg.image_size
    if not (16 <= w <= 2048 and 16 <= h <= 2048):
        raise ValueError(f"image_size must be (width, height) in [16, 2048], got {cfg.image_size}")
    names = [c.name for c in DEFAULT_CAMERAS]
    if cfg.camera not in names:
        raise ValueError(f"camera must be one of {names}, got {cfg.camera!r}")
    if cfg.tasks_per_episode < 1:
        raise ValueError(f"tasks_per_episode must be >= 1, got {cfg.tasks_per_episode}")
    if cfg.render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {cfg.render_mode!r}")


def check_area(area, name: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((x_min, x_max), (y_min, y_max))`` of finite floats with min < max, or a ValueError."""
    try:
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in area)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be ((x_min, x_max), (y_min, y_max)) in metres, got {area!r}") from None
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise ValueError(f"{name} must have finite bounds with min < max, got {area!r}")
    return (x0, x1), (y0, y1)


def check_randomization(cfg) -> None:
    """The ``randomization`` and ``depth_noise`` fields parse (errors list the allowed values)."""
    from roboref.envs.randomization import RandomizationConfig
    from roboref.envs.sensors import DepthNoiseConfig

    RandomizationConfig.from_any(cfg.randomization)
    DepthNoiseConfig.from_any(cfg.depth_noise)


def reset_scene(sim: Sim, randomizer, rng: np.random.Generator, scene_config, seed: int | None):
    """``sim.reset_scene``, through the env's ``Randomizer`` when it has one (``None``: as before)."""
    if randomizer is None:
        return sim.reset_scene(rng, scene_config, seed=seed)
    return randomizer.reset_scene(rng, scene_config, seed=seed)


def make_randomizer(env):
    """The env's ``Randomizer`` for its config's ``randomization`` and ``depth_noise``, or ``None``."""
    from roboref.envs.randomization import make_randomizer as make

    cfg = env.config
    return make(env.sim, cfg.camera, cfg.randomization, cfg.depth_noise)


def episode_info(randomizer) -> dict:
    """``info["randomization"]`` and ``info["depth_mode"]`` when the env randomizes; else nothing."""
    return {} if randomizer is None else randomizer.info()


def cameras(camera: str, image_size: tuple[int, int]) -> tuple[CameraSpec, ...]:
    """The default cameras with ``camera`` at ``image_size`` = (width, height)."""
    w, h = image_size
    return tuple(CameraSpec(c.name, c.pos, c.lookat, c.fovy, w, h) if c.name == camera else c for c in DEFAULT_CAMERAS)


def make_sim(cfg, scene_config) -> Sim:
    return Sim(
        cfg.robot,
        n_slots=scene_config.num_objects[1],
        cameras=scene_config.cameras,
        table_size=scene_config.table_size,
        quality=cfg.quality,
        max_faces=cfg.max_faces,
        object_meshes=scene_config.object_variants != "primitive",
    )


def observation_space(image_size: tuple[int, int], max_depth: float) -> spaces.Dict:
    w, h = image_size
    return spaces.Dict(
        {
            "rgb": spaces.Box(0, 255, (h, w, 3), np.uint8),
            "depth": spaces.Box(0.0, max_depth, (h, w), np.float32),
            "instruction": spaces.Text(MAX_INSTRUCTION_LENGTH, min_length=1, charset=INSTRUCTION_CHARSET),
            "intrinsics": spaces.Box(-1e5, 1e5, (3, 3), np.float32),
            "extrinsics": spaces.Box(-100.0, 100.0, (4, 4), np.float32),
        }
    )


def action_space() -> spaces.Box:
    return spaces.Box(0.0, 1.0, (2,), np.float32)


def check_point(action) -> np.ndarray:
    """The action as a finite point in [0, 1]², or a ValueError naming the problem."""
    try:
        a = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"action must be a point (x, y) of 2 floats in [0, 1], got {action!r}") from None
    if a.shape != (2,):
        raise ValueError(f"action must be a point (x, y) of shape (2,), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"action must be finite; got {a.tolist()} (allowed: x, y in [0, 1])")
    if (a < 0).any() or (a > 1).any():
        raise ValueError(
            f"action {a.tolist()} is outside the action space: x and y must be "
            f"in [0, 1] (normalized image coordinates, origin top-left)"
        )
    return a


def read_action(action) -> tuple[np.ndarray | None, AgentOutput | None]:
    """The point an env steps with, and the agent's whole answer when it gave one.

    ``action`` is the point itself, or an ``AgentOutput`` (point, text, reasoning steps), whose
    text and steps then reach the reward's format and process terms. An ``AgentOutput`` without a
    point is a valid action that scores 0 (``(None, answer)``); a bad point is a ``ValueError``."""
    if isinstance(action, AgentOutput):
        return (None if action.point is None else check_point(action.point)), action
    return check_point(action), None


def no_answer_step(answer: AgentOutput, task: ReferringTask | None) -> tuple[float, dict]:
    """Reward and ``info`` of an answer that gave no usable point: 0, the episode ends, and the
    reason is what the answer's text parses to (``info["format_reason"]``); no physics step."""
    from roboref.rewards.format import parse_answer

    text = answer.to_text()
    reason = parse_answer(text).reason if text else "no point in the answer"
    return 0.0, {
        "success": False,
        "reward_terms": {"format": 0.0, "point": 0.0},
        "reward_reasons": {"format": reason, "point": reason},
        "format_reason": reason,
        "task": task.to_dict() if task is not None else None,
    }


def observation(sim: Sim, frame, camera: str, instruction: str, randomizer=None) -> dict:
    """Fresh arrays every call (gymnasium's checker: returned data must not be shared); with a
    ``Randomizer``, its depth sensor and reported camera."""
    K, T = sim.camera_pose(camera)
    obs = {
        "rgb": frame.rgb.copy(),
        "depth": np.minimum(frame.depth, sim.max_depth),
        "instruction": instruction,
        "intrinsics": K.astype(np.float32),
        "extrinsics": T.astype(np.float32),
    }
    return obs if randomizer is None else randomizer.observation(obs)
