"""``IsaacReferEnv``: roboref's pointing task as an Isaac Lab 3.0 direct-workflow env.

Each env references one exported episode; ``step(point)`` scores the point against the exported
ground truth with ``roboref.rewards`` (the same function ``ReferEnv`` uses) and ends the episode.
Imports Isaac Lab: only inside Isaac Sim (launch the app first, as ``roboref.isaac.run`` does).
"""

from __future__ import annotations

from roboref.isaac import require_isaaclab

require_isaaclab()

from collections.abc import Sequence  # noqa: E402

import isaaclab.sim as sim_utils  # noqa: E402
import torch  # noqa: E402
from isaaclab.assets import Articulation  # noqa: E402
from isaaclab.envs import DirectRLEnv  # noqa: E402
from isaaclab.sensors import Camera  # noqa: E402

from roboref.isaac.episode import encode_instruction, score_point  # noqa: E402
from roboref.isaac.refer_env_cfg import IsaacReferEnvCfg  # noqa: E402


class IsaacReferEnv(DirectRLEnv):
    """Observation ``{"policy": {"rgb", "depth", "instruction"}}``; action ``(num_envs, 2)`` points."""

    cfg: IsaacReferEnvCfg

    def __init__(self, cfg: IsaacReferEnvCfg, render_mode: str | None = None, **kwargs):
        self.episode = cfg.from_episode(cfg.usd_path)
        super().__init__(cfg, render_mode, **kwargs)
        codes = torch.as_tensor(encode_instruction(self.episode.task.instruction), device=self.device)
        self.instruction = codes.unsqueeze(0).repeat(self.num_envs, 1)
        self.points = torch.zeros(self.num_envs, 2, device=self.device)

    def _setup_scene(self) -> None:
        self.cfg.scene_usd.func(
            self.cfg.robot.prim_path.replace("env_.*", "env_0").rsplit("/", 1)[0], self.cfg.scene_usd
        )
        self._robot = Articulation(self.cfg.robot)
        self._camera = Camera(self.cfg.camera)
        self.scene.clone_environments(copy_from_source=False)
        self.scene.articulations["robot"] = self._robot
        self.scene.sensors["camera"] = self._camera
        light = sim_utils.DomeLightCfg(intensity=2000.0, color=(0.8, 0.8, 0.8))
        light.func("/World/Light", light)

    def _pre_physics_step(self, actions: torch.Tensor) -> None:
        self.points = actions.clamp(0.0, 1.0).clone()

    def _apply_action(self) -> None:
        """Pointing moves nothing: the robot holds its home pose through its drives."""

    def _get_observations(self) -> dict:
        out = self._camera.data.output
        depth = out["distance_to_image_plane"].torch.clone()
        depth[torch.isinf(depth)] = 0.0
        return {"policy": {"rgb": out["rgb"].torch[..., :3].clone(), "depth": depth, "instruction": self.instruction}}

    def _get_rewards(self) -> torch.Tensor:
        task, preset = self.episode.task, self.cfg.reward
        values = [score_point(task, p, preset)[0] for p in self.points.detach().cpu().numpy()]
        return torch.tensor(values, dtype=torch.float32, device=self.device)

    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        done = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)  # one point per episode
        return done, torch.zeros_like(done)

    def _reset_idx(self, env_ids: Sequence[int] | None) -> None:
        if env_ids is None:
            env_ids = self._robot._ALL_INDICES
        super()._reset_idx(env_ids)
        joint_pos = self._robot.data.default_joint_pos.torch[env_ids]
        joint_vel = self._robot.data.default_joint_vel.torch[env_ids]
        self._robot.write_joint_position_to_sim_index(position=joint_pos, env_ids=env_ids)
        self._robot.write_joint_velocity_to_sim_index(velocity=joint_vel, env_ids=env_ids)


def make_env(cfg: IsaacReferEnvCfg | None = None, usd_path: str | None = None, **kwargs) -> IsaacReferEnv:
    """Gymnasium entry point: ``gym.make("roboref/Isaac-Refer-UR5e-v0", usd_path=FILE)`` or with a
    ready ``cfg`` (Isaac Lab's ``parse_env_cfg`` path). ``env_cfg_entry_point`` is registry metadata."""
    kwargs.pop("env_cfg_entry_point", None)
    cfg = cfg or IsaacReferEnvCfg()
    if usd_path is not None:
        cfg.usd_path = str(usd_path)
    if not cfg.usd_path:
        raise ValueError("give usd_path=FILE.usd (an episode written by `roboref export format=usd robot=ur5e`)")
    return IsaacReferEnv(cfg, **kwargs)
