"""``PickPlaceEnv``: referring points executed by a robot (``roboref/PickPlace-<Robot>-v0``).

``mode="pick"``: each step's point says which object to pick; the controller picks it up (real
contacts and friction) and the step succeeds when the instructed object is grasped and lifted.
The object is then put back where it was, so ``tasks_per_episode`` tasks can follow on one scene.

``mode="pick_place"``: steps alternate: the first point says *what* (the instructed object is
picked and held), the second says *where* ("Place it left of the blue can."): the held object is
placed there, and the step succeeds when it rests, upright, within ``place_radius`` of the spot.
Place regions are drawn within the arm's place reach (``place_area``).

``step`` takes the point, or the agent's whole answer (an ``AgentOutput``); an answer without a
point scores 0 and ends the episode with ``info["format_reason"]``. ``info`` carries
``success``, ``reward_terms``, ``task`` (the ``ReferringTask`` as a dict) and ``execution`` (the
``ExecutionResult`` as a dict). ``terminated`` ends an episode whose tasks are done;
``truncated`` ends one whose physics became unstable or whose robot is stuck holding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from roboref.envs.camera import Frame, project
from roboref.envs.control import Action, ExecutionResult, make_controller
from roboref.envs.pointing import (
    action_space,
    cameras,
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
from roboref.envs.scene import SceneConfig, with_poses
from roboref.envs.tasks import AgentOutput, NoTaskError, ReferringTask, TaskConfig, sample_task
from roboref.envs.tasks.view import SceneView
from roboref.rewards.point import point_in_mask

MODES = ("pick", "pick_place")


@dataclass(frozen=True)
class PickPlaceEnvConfig:
    """Every field is a keyword argument of ``gymnasium.make("roboref/PickPlace-…-v0", …)``."""

    robot: str = "ur5e"
    mode: str = "pick"
    num_objects: tuple[int, int] = (4, 10)
    categories: tuple[str, ...] | None = None
    colors: tuple[str, ...] | None = None
    image_size: tuple[int, int] = (224, 224)
    camera: str = "agent"
    min_visible_pixels: int = 30
    relations: tuple[str, ...] | None = None  # task-engine relations (None: all 31)
    num_steps: tuple[int, int] = (1, 3)  # program steps of each pick or place instruction
    tasks_per_episode: int = 1
    settle_time: float = 0.3
    place_radius: float = 0.04
    max_sim_time: float = 30.0
    assisted_grasp: bool = False
    quality: bool = False
    max_faces: int = DEFAULT_MAX_FACES
    object_variants: str = "primitive"  # primitive | mesh | mixed: object shapes (SceneConfig)
    render_mode: str | None = None
    # envs/randomization.py and envs/sensors.py: a preset name, a dict {"preset": …, field: …} or a config
    randomization: Any = "none"  # none | light | strong | heldout
    depth_noise: Any = "none"  # none | realsense | strong | no_depth (depth all zeros, info["depth_mode"])

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        check_common(self)
        check_randomization(self)
        if not 0.005 <= self.place_radius <= 0.3:
            raise ValueError(f"place_radius must be in [0.005, 0.3] m, got {self.place_radius}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> PickPlaceEnvConfig:
        return config_from_kwargs(cls, kwargs)

    def scene_config(self) -> SceneConfig:
        return SceneConfig(
            robot=self.robot,
            num_objects=self.num_objects,
            categories=self.categories,
            colors=self.colors,
            cameras=cameras(self.camera, self.image_size),
            settle_time=self.settle_time,
            object_variants=self.object_variants,
        )


class PickPlaceEnv(gym.Env):
    """Point, and the robot acts on the point. Observation ``Dict(rgb, depth, instruction,
    intrinsics, extrinsics)``; action ``Box(0, 1, (2,))``, the normalized point."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, **kwargs: Any):
        self.config = cfg = PickPlaceEnvConfig.from_kwargs(**kwargs)
        self.render_mode = cfg.render_mode
        self.scene_config = cfg.scene_config()
        self.sim = make_sim(cfg, self.scene_config)
        self.randomizer = make_randomizer(self)
        self.controller = make_controller(
            cfg.robot,
            camera=cfg.camera,
            place_radius=cfg.place_radius,
            max_sim_time=cfg.max_sim_time,
            assisted_grasp=cfg.assisted_grasp,
        )
        self.observation_space = observation_space(cfg.image_size, self.sim.max_depth)
        self.action_space = action_space()
        self.task: ReferringTask | None = None
        self.frame = None
        self._needs_reset = True

    # --- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        for _ in range(50):
            self.scene = reset_scene(self.sim, self.randomizer, self.np_random, self.scene_config, seed)
            self.frame = self.sim.render(self.config.camera, seg=True)
            self.task = self._pick_task()
            if self.task is not None:
                break
        else:
            raise NoTaskError("no scene with a uniquely named visible object in 50 tries")
        self.controller.bind(self.sim).held = -1
        self._tasks_done = 0
        self._phase = "pick"
        self._picked = -1
        self._needs_reset = False
        info = {"task": self.task.to_dict(), "scene": self.scene.to_dict(), **episode_info(self.randomizer)}
        return self._obs(), info

    def step(self, action: np.ndarray | AgentOutput):
        if self._needs_reset:
            raise RuntimeError("episode is over: call reset() before step()")
        point, answer = read_action(action)
        if point is None:
            self._needs_reset = True
            reward, info = no_answer_step(answer, self.task)
            return self._obs(), reward, True, False, info
        point_reward, reason = point_in_mask(point, self.task.mask)
        task = self.task
        if self._phase == "pick":
            result = self.controller.execute(self.sim, Action(pick=point), self.frame)
            right = result.target_object == task.target
            terms = {"point": point_reward, "grasp": float(result.grasped and right)}
            terms["lift"] = float(result.lifted and right)
            success = bool(result.success and right)
        else:
            result = self.controller.execute(self.sim, Action(place=point), self.frame)
            terms = {"point": point_reward, "place": float(result.placed), "stable": float(result.stable)}
            success = bool(result.success and point_reward >= 1.0)
        info: dict[str, Any] = {
            "success": success,
            "reward_terms": {k: float(v) for k, v in terms.items()},
            "reward_reason": reason,
            "task": task.to_dict(),
            "execution": result.to_dict(),
            "point": [float(point[0]), float(point[1])],
        }
        reward = float(np.mean(list(terms.values())))
        terminated = truncated = False
        if result.failure == "unstable" and not result.placed:
            truncated, info["truncation_reason"] = True, result.message
        else:
            terminated, truncated = self._advance(result, success, info)
        self._needs_reset = terminated or truncated
        return self._obs(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render("overview", depth=False).rgb
        return None

    def close(self):
        self.sim.close()

    # --- episode flow -----------------------------------------------------------------------
    def _advance(self, result: ExecutionResult, success: bool, info: dict) -> tuple[bool, bool]:
        """Set up the next task; returns ``(terminated, truncated)``."""
        cfg = self.config
        if self._phase == "pick" and cfg.mode == "pick_place" and result.holding:
            self._picked = result.target_object
            place, frame = self._place_task(self._picked)
            if place is not None:  # the scene is as _place_task rendered it: keep that frame
                self._phase, self.task, self.frame = "place", place, frame
                return False, False
        held = self.controller.bind(self.sim).held
        if held >= 0:  # put a picked object back before the next task
            back = self._put_back(held)
            info["execution_return"] = back.to_dict()
            if back.failure:
                info["truncation_reason"] = f"could not put the object back: {back.message}"
                return False, True
        self._tasks_done += 1
        if self._tasks_done >= cfg.tasks_per_episode:
            return True, False
        self.frame = self.sim.render(cfg.camera, seg=True)
        self._phase, self.task = "pick", self._pick_task()
        return self.task is None, False

    def _view(self, frame, area=None) -> SceneView:
        K, T = self.sim.camera_pose(self.config.camera)
        return SceneView(self.sim.scene, frame.seg, frame.depth, K, T, area or self.scene_config.placement_area)

    def place_area(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Where place tasks may send the held object: the scene's placement area within the arm's
        place reach (``Controller.place_area``). A region the arm cannot reach is a task no point
        can solve: 88 of 200 G1 placement regions drawn over the whole workspace had no part
        inside the G1's reach."""
        return self.controller.place_area(self.scene_config.placement_area)

    def _task_config(self, kind: str) -> TaskConfig:
        cfg = self.config
        return TaskConfig(
            relations=cfg.relations,
            kinds=(kind,),
            num_steps=cfg.num_steps,
            min_visible_pixels=cfg.min_visible_pixels,
        )

    def _pick_task(self) -> ReferringTask | None:
        """ "Pick up the mug behind the red bowl.": a location program of the task engine."""
        return sample_task(self.np_random, self._view(self.frame), self._task_config("location"), style="pick")

    def _place_task(self, held: int) -> tuple[ReferringTask | None, Frame]:
        """ "Put the red block left of the blue can.": a placement program of the task engine for the
        held object, on the scene as it is now (the object in the hand); and the frame it saw."""
        frame = self.sim.render(self.config.camera, seg=True)
        # the held object is up in the hand: its scene pose is stale, so take it from physics
        self.sim.scene = with_poses(
            self.sim.scene,
            [self.sim.world.object_pose(self.sim.data, k) for k in range(len(self.sim.scene.objects))],
        )
        view = self._view(frame, self.place_area())
        return sample_task(self.np_random, view, self._task_config("placement"), held=held), frame

    def _put_back(self, slot: int) -> ExecutionResult:
        """Place a held object back at its scene position (keeps multi-task episodes going)."""
        o = self.sim.scene.objects[slot]
        K, T = self.sim.camera_pose(self.config.camera)
        frame = self.sim.render(self.config.camera, seg=True)
        h, w = frame.seg.shape
        uv, _ = project(np.array([[o.pos[0], o.pos[1], self.sim.scene.table_height]]), K, T)
        point = (float(uv[0, 0] / w), float(uv[0, 1] / h))  # K is at the frame's size
        return self.controller.execute(self.sim, Action(place=point), frame)

    # --- helpers ----------------------------------------------------------------------------
    def _obs(self) -> dict:
        instruction = self.task.instruction if self.task is not None else "Done."
        return observation(self.sim, self.frame, self.config.camera, instruction, self.randomizer)

    def config_dict(self) -> dict:
        return asdict(self.config)
