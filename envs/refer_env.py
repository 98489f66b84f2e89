"""``ReferEnv``: the pointing environment (``roboref/Refer-<Robot>-v0``).

Each reset builds a new settled cluttered scene and a referring task; the agent answers with a
point ``(x, y) ∈ [0, 1]²`` in the agent camera's image; the reward is 1 if the point is on the
target's visible pixels, else 0. ``tasks_per_episode`` tasks are asked on the same scene.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import gymnasium as gym
import numpy as np

from roboref.assets.objects import CATEGORIES, PALETTE
from roboref.envs.pointing import (
    action_space,
    cameras,
    check_area,
    check_common,
    check_randomization,
    config_from_kwargs,
    episode_info,
    make_randomizer,
    make_sim,
    no_answer_step,
    observation,
    observation_space,
    read_action,
    reset_scene,
)
from roboref.envs.robots import DEFAULT_MAX_FACES
from roboref.envs.scene import SceneConfig
from roboref.envs.tasks import (
    UNSEEN_CATEGORIES,
    UNSEEN_COLORS,
    NoTaskError,
    ReferringTask,
    TaskConfig,
    sample_task,
)
from roboref.envs.tasks.records import AgentOutput
from roboref.envs.tasks.view import SceneView
from roboref.rewards.compose import RewardConfig, compute_reward
from roboref.rewards.point import point_in_mask


@dataclass(frozen=True)
class ReferEnvConfig:
    """Every field is a keyword argument of ``gymnasium.make("roboref/Refer-…-v0", …)``."""

    robot: str = "ur5e"
    num_objects: tuple[int, int] = (4, 15)
    categories: tuple[str, ...] | None = None
    colors: tuple[str, ...] | None = None
    image_size: tuple[int, int] = (224, 224)  # (width, height) of the agent camera
    camera: str = "agent"
    min_visible_pixels: int = 30
    relations: tuple[str, ...] | None = None  # None: all 31 relations
    kinds: tuple[str, ...] = ("location", "placement")
    num_steps: tuple[int, int] = (1, 5)
    task_split: str = "all"  # all | train (held-out parts excluded) | unseen (held-out parts required)
    min_region_pixels: int = 30
    stack_prob: float = 0.3
    reward: str = "binary"  # binary (1 inside the mask, else 0) | default | roborefer (composer presets)
    tasks_per_episode: int = 1
    physics_steps_per_action: int = 10
    settle_time: float = 0.3
    settle_rest_speed: float = 0.0  # > 0: faster resets, other settled poses (SceneConfig)
    quality: bool = False
    max_faces: int = DEFAULT_MAX_FACES
    object_variants: str = "primitive"  # primitive | mesh | mixed: object shapes (SceneConfig)
    render_mode: str | None = None
    # envs/randomization.py and envs/sensors.py: a preset name, a dict {"preset": …, field: …} or a config
    randomization: Any = "none"  # none | light | strong | heldout
    depth_noise: Any = "none"  # none | realsense | strong | no_depth (depth all zeros, info["depth_mode"])
    #: ((x_min, x_max), (y_min, y_max)) world metres of table that placement regions are drawn in
    #: (e.g. an arm's place reach, as ``roboref coeval reachable_places=true`` sets it); None: the
    #: scene's placement area (the robot's workspace)
    place_area: tuple | None = None

    def __post_init__(self):
        check_common(self)
        check_randomization(self)
        if self.place_area is not None:
            object.__setattr__(self, "place_area", check_area(self.place_area, "place_area"))
        if self.physics_steps_per_action < 0:
            raise ValueError("physics_steps_per_action must be >= 0")
        if self.reward not in ("binary", "default", "roborefer"):
            raise ValueError(f"reward must be 'binary', 'default' or 'roborefer', got {self.reward!r}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> ReferEnvConfig:
        return config_from_kwargs(cls, kwargs)

    def task_config(self) -> TaskConfig:
        return TaskConfig(
            relations=self.relations,
            kinds=self.kinds,
            num_steps=self.num_steps,
            split=self.task_split,
            min_visible_pixels=self.min_visible_pixels,
            min_region_pixels=self.min_region_pixels,
        )

    def scene_config(self) -> SceneConfig:
        categories, colors = self.categories, self.colors
        if self.task_split == "train":  # held-out categories and colours never appear in train
            categories = tuple(c for c in (categories or CATEGORIES) if c not in UNSEEN_CATEGORIES)
            colors = tuple(c for c in (colors or PALETTE) if c not in UNSEEN_COLORS)
        return SceneConfig(
            robot=self.robot,
            num_objects=self.num_objects,
            categories=categories,
            colors=colors,
            stack_prob=self.stack_prob,
            cameras=cameras(self.camera, self.image_size),
            settle_time=self.settle_time,
            settle_rest_speed=self.settle_rest_speed,
            object_variants=self.object_variants,
        )


class ReferEnv(gym.Env):
    """Point at what the instruction refers to. Observation ``Dict(rgb, depth, instruction,
    intrinsics, extrinsics)``; action ``Box(0, 1, (2,))``, the normalized point. ``step`` also
    takes the agent's whole answer, an ``AgentOutput``: its text and reasoning steps then reach
    the format and process terms of the reward (``reward="default"`` or ``"roborefer"``)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    #: Options that change what a reset draws and how a step is scored, not the simulator:
    #: ``reconfigure`` changes them in place.
    RECONFIGURABLE = frozenset(
        {
            "categories",
            "colors",
            "relations",
            "kinds",
            "num_steps",
            "task_split",
            "min_visible_pixels",
            "min_region_pixels",
            "stack_prob",
            "reward",
            "tasks_per_episode",
            "settle_time",
            "settle_rest_speed",
            "place_area",
        }
    )

    def __init__(self, **kwargs: Any):
        self.config = ReferEnvConfig.from_kwargs(**kwargs)
        self.render_mode = self.config.render_mode
        self.scene_config = self.config.scene_config()
        self.task_config = self.config.task_config()
        self.sim = make_sim(self.config, self.scene_config)
        self.randomizer = make_randomizer(self)
        self.observation_space = observation_space(self.config.image_size, self.sim.max_depth)
        self.action_space = action_space()
        self.task: ReferringTask | None = None
        self.frame = None
        self._tasks_done = 0
        self._needs_reset = True

    # --- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        for _ in range(50):
            scene = reset_scene(self.sim, self.randomizer, rng, self.scene_config, seed)
            self.frame = self.sim.render(self.config.camera, seg=True)
            self.task = self._sample_task()
            if self.task is not None:
                break
        else:
            tc = self.task_config
            raise NoTaskError(
                f"no valid referring program in 50 scenes for relations={tc.relations}, "
                f"kinds={tc.kinds}, num_steps={tc.num_steps}, split={tc.split!r}"
                + (f", place_area={self.config.place_area}" if self.config.place_area else "")
                + ": the scenes cannot give that many unique answers; allow more relations, kinds or "
                "objects" + (", or a larger place_area" if self.config.place_area else "")
            )
        self._tasks_done = 0
        self._needs_reset = False
        self.scene = scene
        return self._obs(), {"task": self.task.to_dict(), "scene": scene.to_dict(), **episode_info(self.randomizer)}

    def step(self, action: np.ndarray | AgentOutput):
        if self._needs_reset:
            raise RuntimeError("episode is over: call reset() before step()")
        point, answer = read_action(action)
        if point is None:
            self._needs_reset = True
            reward, info = no_answer_step(answer, self.task)
            return self._obs(), reward, True, False, info
        hit, reason = point_in_mask(point, self.task.mask)
        if self.config.reward == "binary":
            reward, terms, reasons = hit, {"point": float(hit)}, {"point": reason}
        else:
            prediction = answer or AgentOutput(point=(float(point[0]), float(point[1])))
            res = compute_reward(prediction, self.task, RewardConfig.preset(self.config.reward))
            reward, terms, reasons = res.total, res.terms, res.reasons
        info: dict[str, Any] = {
            "success": hit >= 1.0,
            "reward_terms": terms,
            "reward_reasons": reasons,
            "task": self.task.to_dict(),
            "point": [float(point[0]), float(point[1])],
        }
        truncated = False
        unstable = (
            self.sim.step(self.config.physics_steps_per_action)
            if self.config.physics_steps_per_action
            else self.sim.check_state()
        )
        if unstable:
            truncated = True
            info["truncation_reason"] = unstable
        self._tasks_done += 1
        terminated = self._tasks_done >= self.config.tasks_per_episode and not truncated
        if not (terminated or truncated):
            self.frame = self.sim.render(self.config.camera, seg=True)
            next_task = self._sample_task()
            if next_task is None:
                terminated = True
            else:
                self.task = next_task
        self._needs_reset = terminated or truncated
        return self._obs(), float(reward), terminated, truncated, info

    def reconfigure(self, **kwargs: Any) -> None:
        """Become the env ``gymnasium.make(id, **kwargs)`` would make, keeping this one's compiled
        world and renderer: ``reset(seed=s)`` then gives that env's episode. Only the
        ``RECONFIGURABLE`` options may differ from this env's (a ValueError names the others).
        Why: an evaluation suite's segments differ only in task options, and a new env costs a
        world compile and a GL context (0.2 s for the UR5e, 1.4 s for the G1) per segment and
        worker."""
        new = ReferEnvConfig.from_kwargs(**{"robot": self.config.robot, "render_mode": self.render_mode, **kwargs})
        fixed = [f.name for f in fields(new) if f.name not in self.RECONFIGURABLE]
        differ = [name for name in fixed if getattr(new, name) != getattr(self.config, name)]
        if differ:
            raise ValueError(
                f"reconfigure: {differ} need a new env (gymnasium.make); "
                f"it can change only {sorted(self.RECONFIGURABLE)}"
            )
        self.config = new
        self.scene_config = new.scene_config()
        self.task_config = new.task_config()
        if self.spec is not None:
            # the options that may not change are the same; the others are kwargs' alone
            kept = {k: v for k, v in self.spec.kwargs.items() if k not in self.RECONFIGURABLE}
            self.spec = replace(self.spec, kwargs={**kept, **kwargs})
        self.task, self.frame, self._tasks_done, self._needs_reset = None, None, 0, True

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render("overview", depth=False).rgb
        return None

    def close(self):
        self.sim.close()

    # --- helpers ----------------------------------------------------------------------------
    def _sample_task(self) -> ReferringTask | None:
        K, T = self.sim.camera_pose(self.config.camera)
        area = self.config.place_area or self.scene_config.placement_area
        self.view = SceneView(self.sim.scene, self.frame.seg, self.frame.depth, K, T, area)
        return sample_task(self.np_random, self.view, self.task_config)

    def _obs(self) -> dict:
        return observation(self.sim, self.frame, self.config.camera, self.task.instruction, self.randomizer)

    def config_dict(self) -> dict:
        return asdict(self.config)
