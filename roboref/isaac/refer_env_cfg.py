"""``IsaacReferEnvCfg``: the direct-workflow config of ``roboref/Isaac-Refer-UR5e-v0`` (Isaac Lab 3.0).

The scene is one exported episode (``roboref export format=usd``) referenced under each env; the
robot and the agent camera are the prims the export wrote (``spawn=None``), so Isaac renders the
camera with the intrinsics and pose MuJoCo had. Imports Isaac Lab: only inside Isaac Sim.
"""

from __future__ import annotations

from roboref.isaac import require_isaaclab

require_isaaclab()

import gymnasium as gym  # noqa: E402
import isaaclab.sim as sim_utils  # noqa: E402
import numpy as np  # noqa: E402
from isaaclab.actuators import ImplicitActuatorCfg  # noqa: E402
from isaaclab.assets import ArticulationCfg  # noqa: E402
from isaaclab.envs import DirectRLEnvCfg  # noqa: E402
from isaaclab.scene import InteractiveSceneCfg  # noqa: E402
from isaaclab.sensors import CameraCfg  # noqa: E402
from isaaclab.sim import SimulationCfg  # noqa: E402
from isaaclab.utils import configclass  # noqa: E402

from roboref.envs.pointing import MAX_INSTRUCTION_LENGTH  # noqa: E402
from roboref.isaac.episode import IsaacEpisode, read_episode  # noqa: E402

SCENE = "/World/envs/env_.*/Scene"  # where each env references the exported /World
PHYSICS_DT = 0.002  # MuJoCo's timestep in roboref's worlds
STEPS_PER_ACTION = 10  # ReferEnvConfig.physics_steps_per_action


@configclass
class IsaacReferEnvCfg(DirectRLEnvCfg):
    """One point per episode, as ``roboref/Refer-UR5e-v0``: observation RGB-D + instruction,
    action the normalized point, reward from ``roboref.rewards`` (``reward`` names the preset)."""

    usd_path: str = ""  # an exported episode; ``from_episode`` fills what follows from it
    reward: str = "binary"  # binary | default | roborefer
    decimation = STEPS_PER_ACTION
    episode_length_s = PHYSICS_DT * STEPS_PER_ACTION
    sim: SimulationCfg = SimulationCfg(dt=PHYSICS_DT, render_interval=STEPS_PER_ACTION)
    scene: InteractiveSceneCfg = InteractiveSceneCfg(num_envs=1, env_spacing=4.0, replicate_physics=False)
    scene_usd: sim_utils.UsdFileCfg = sim_utils.UsdFileCfg(usd_path="")
    robot: ArticulationCfg = ArticulationCfg(
        prim_path=f"{SCENE}/Robot",
        spawn=None,
        # stiffness/damping None: keep the drives the export wrote from MuJoCo's actuators
        actuators={"all": ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness=None, damping=None)},
    )
    camera: CameraCfg = CameraCfg(
        prim_path=f"{SCENE}/Cameras/agent",
        spawn=None,
        data_types=["rgb", "distance_to_image_plane"],  # z-depth, as roboref's depth
        width=224,
        height=224,
    )
    action_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
    observation_space = gym.spaces.Dict(
        {
            "rgb": gym.spaces.Box(0, 255, (224, 224, 3), np.uint8),
            "depth": gym.spaces.Box(0.0, np.inf, (224, 224, 1), np.float32),
            "instruction": gym.spaces.Box(0, 255, (MAX_INSTRUCTION_LENGTH,), np.uint8),
        }
    )
    state_space = 0

    def from_episode(self, usd_path: str) -> IsaacEpisode:
        """Point this config at an exported episode: scene file, camera size, robot home pose."""
        ep = read_episode(usd_path)
        if ep.robot != "ur5e":
            raise ValueError(f"{usd_path} holds a {ep.robot!r} episode; roboref/Isaac-Refer-UR5e-v0 needs ur5e")
        w, h = ep.resolution
        self.usd_path = ep.usd_path
        self.scene_usd = sim_utils.UsdFileCfg(usd_path=ep.usd_path)
        self.camera = self.camera.replace(prim_path=f"{SCENE}/{ep.camera}", width=w, height=h)
        self.robot = self.robot.replace(init_state=ArticulationCfg.InitialStateCfg(joint_pos=dict(ep.joint_home)))
        self.observation_space = gym.spaces.Dict(
            {
                "rgb": gym.spaces.Box(0, 255, (h, w, 3), np.uint8),
                "depth": gym.spaces.Box(0.0, np.inf, (h, w, 1), np.float32),
                "instruction": gym.spaces.Box(0, 255, (MAX_INSTRUCTION_LENGTH,), np.uint8),
            }
        )
        return ep
