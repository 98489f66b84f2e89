"""``Sim``: one compiled world, its ``MjData`` and renderer, kept for an env's life.

It turns a sampled ``SceneSpec`` into a settled scene (rejecting fallen or unstable placements),
steps physics with a stability check, and renders RGB, depth and segmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from roboref.envs.camera import Frame, Renderer, camera_pose
from roboref.envs.robots import DEFAULT_MAX_FACES
from roboref.envs.scene import SceneConfig, SceneSpec, sample_scene, with_poses
from roboref.envs.world import ROBOT_MESH_GROUP, World

#: Settling tolerances: an object that slid, sank or tipped more than this was unstable.
MAX_SLIDE = 0.02  # m
MAX_TILT = np.deg2rad(12.0)
MAX_SPEED = 0.05  # m/s at the end of settling
#: Joint speeds beyond this mean the simulation has blown up.
MAX_QVEL = 1e3


@dataclass(frozen=True)
class SettleReport:
    ok: bool
    reason: str = ""


class Sim:
    """A world with state: ``reset_scene`` samples and settles, ``step`` advances safely."""

    def __init__(
        self,
        robot: str = "ur5e",
        n_slots: int = 15,
        cameras=None,
        table_size=(1.0, 1.4),
        quality: bool = False,
        max_faces: int = DEFAULT_MAX_FACES,
        object_meshes: bool = False,
    ):
        # object_meshes: compile the object mesh bank, for scenes with mesh variants (SceneConfig)
        self.world = World(robot, n_slots, cameras, table_size, 0 if quality else max_faces, object_meshes)
        self.model = self.world.model
        self.data = mujoco.MjData(self.model)
        self.quality = quality
        self.scene: SceneSpec | None = None
        self._renderer: Renderer | None = None
        #: Called as ``hook(sim)`` after every ``step`` call (video recorders watch execution here).
        self.step_hooks: list = []
        #: Each controller's state in this sim (``Controller.bind``), keyed by the controller.
        self.bindings: dict = {}

    # --- scenes -----------------------------------------------------------------------------
    def set_scene(self, spec: SceneSpec) -> None:
        """Show ``spec`` exactly as given (no settling)."""
        self.world.apply(self.data, spec)
        self.scene = spec

    def reset_scene(self, rng: np.random.Generator, cfg: SceneConfig, seed: int | None = None) -> SceneSpec:
        """Sample scenes from ``rng`` until one settles; returns it with its settled poses."""
        reasons = []
        for _ in range(cfg.max_attempts):
            spec = sample_scene(rng, cfg, seed=seed)
            self.set_scene(spec)
            report = self.settle(cfg.settle_time, cfg.settle_rest_speed)
            if report.ok:
                poses = [self.world.object_pose(self.data, k) for k in range(len(spec.objects))]
                self.scene = with_poses(spec, poses)
                return self.scene
            reasons.append(report.reason)
        raise RuntimeError(f"no stable scene in {cfg.max_attempts} attempts: {reasons[-3:]}")

    def settle(self, duration: float, rest_speed: float = 0.0) -> SettleReport:
        """Let the placed objects come to rest and check none slid, sank, tipped or kept moving.
        ``rest_speed > 0`` stops early once all objects are slower (see ``SceneConfig``)."""
        assert self.scene is not None
        n_steps = max(1, int(round(duration / self.model.opt.timestep)))
        start = [self.world.object_pose(self.data, k) for k in range(len(self.scene.objects))]
        reason = self.step(n_steps) if rest_speed <= 0 else self._settle_until_rest(n_steps, rest_speed)
        if reason:
            return SettleReport(False, reason)
        for k, (p0, _q0) in enumerate(start):
            p, q = self.world.object_pose(self.data, k)
            name = self.scene.objects[k].name
            if np.hypot(*(p[:2] - p0[:2])) > MAX_SLIDE or p[2] < p0[2] - MAX_SLIDE:
                return SettleReport(False, f"{name} moved {np.linalg.norm(p - p0):.3f} m")
            mat = np.zeros(9)
            mujoco.mju_quat2Mat(mat, q)
            tilt = float(np.arccos(np.clip(mat[8], -1.0, 1.0)))
            if tilt > MAX_TILT:
                return SettleReport(False, f"{name} tipped {np.degrees(tilt):.0f} deg")
            dadr = self.world.slot_dadr[k]
            if np.linalg.norm(self.data.qvel[dadr : dadr + 3]) > MAX_SPEED:
                return SettleReport(False, f"{name} still moving")
        return SettleReport(True)

    def _settle_until_rest(self, n_steps: int, rest_speed: float, chunk: int = 10) -> str:
        dadr = self.world.slot_dadr[: len(self.scene.objects)]
        lin = (dadr[:, None] + np.arange(3)).ravel()
        ang = lin + 3
        done = 0
        while done < n_steps:
            n = min(chunk, n_steps - done)
            reason = self.step(n)
            done += n
            if reason:
                return reason
            v = self.data.qvel
            if (np.abs(v[lin]).max() < rest_speed / 2) and (np.abs(v[ang]).max() < 5 * rest_speed):
                return ""
        return ""

    # --- physics ----------------------------------------------------------------------------
    def step(self, n: int = 1) -> str:
        """Advance ``n`` physics steps; returns ``""`` or why the state became unstable."""
        warn = mujoco.mjtWarning
        bad = (warn.mjWARN_BADQACC, warn.mjWARN_BADQVEL, warn.mjWARN_BADQPOS)
        before = [self.data.warning[int(w)].number for w in bad]
        reason = self.check_state()
        if reason:
            return reason
        mujoco.mj_step(self.model, self.data, n)
        for w, b in zip(bad, before, strict=True):
            if self.data.warning[int(w)].number > b:
                return f"unstable physics: MuJoCo warning {w.name}"
        reason = self.check_state()
        if not reason:
            for hook in list(self.step_hooks):
                hook(self)
        return reason

    def check_state(self) -> str:
        d = self.data
        if not (np.isfinite(d.qpos).all() and np.isfinite(d.qvel).all()):
            return "unstable physics: non-finite qpos/qvel"
        vmax = float(np.abs(d.qvel).max(initial=0.0))
        if vmax > MAX_QVEL:
            return f"unstable physics: joint speed {vmax:.3g} exceeds {MAX_QVEL:g}"
        return ""

    @property
    def max_depth(self) -> float:
        """The far clipping plane (m): background pixels read this depth."""
        return float(self.model.vis.map.zfar * self.model.stat.extent)

    # --- rendering --------------------------------------------------------------------------
    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(
                self.model, self.world.geom_labels, quality=self.quality, split_group=ROBOT_MESH_GROUP
            )
        return self._renderer

    def render(
        self,
        camera: str = "agent",
        rgb: bool = True,
        depth: bool = True,
        seg: bool = False,
        size: tuple[int, int] | None = None,
    ) -> Frame:
        """Render a model camera at its own resolution, or at ``size=(width, height)``."""
        cam = self.model.camera(camera)
        w, h = size or (int(self.model.cam_resolution[cam.id][0]), int(self.model.cam_resolution[cam.id][1]))
        return self.renderer.render(self.data, camera, w, h, rgb=rgb, depth=depth, seg=seg)

    def camera_pose(self, camera: str = "agent") -> tuple[np.ndarray, np.ndarray]:
        """``(K, T_world_cam)`` at the camera's own resolution."""
        return camera_pose(self.model, self.data, camera)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
