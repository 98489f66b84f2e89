"""Domain randomization written straight into the compiled model's arrays, and its presets.

A sim-trained pointer that only saw flat-shaded renders from one camera fails on anything else
(issue 16). A ``Randomizer`` changes, per scene: object colours (HSV jitter) and procedural
textures on objects, table, floor and an optional backdrop; lights (position, direction, diffuse,
ambient, how many); the observed camera (pose, fov, focal lengths, principal point); distractors
on the floor off the table; and dynamics (friction, mass) for the controllers. Nothing recompiles:
it rewrites ``geom_*``, ``mat_*``, ``tex_data`` (re-uploaded), ``light_*`` and ``cam_*`` of the
model the env compiled once, and restores the nominal values first, so episodes do not compound.

Seeding: each scene draws from a child of the env's episode generator
(``rng.bit_generator.spawn``), so the scene and task stream is untouched and the same seed gives
the same bits. Segmentation ids never change (only colours and materials do), so ground-truth
masks stay exact; the task engine sees the true (jittered) camera. The observation reports the
true ``K``/``T`` too, or, with ``calibration_error=True``, the nominal ones (an uncorrected
calibration error of exactly the drawn size). Presets: ``none`` (default; the env never builds a
Randomizer, bit for bit as before), ``light``, ``strong``, and ``heldout`` (textures and light
colours training never uses: the shifted suite's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

from roboref.envs import textures as tx
from roboref.envs.camera import extrinsics, intrinsics, set_intrinsics
from roboref.envs.randomization_apply import SceneRandomizer
from roboref.envs.randomization_assets import RAND_DISTRACTORS, RAND_LIGHTS
from roboref.envs.sensors import DepthNoiseConfig, _from_any, apply_depth_noise

if TYPE_CHECKING:
    from roboref.envs.scene import SceneConfig, SceneSpec
    from roboref.envs.sim import Sim


@dataclass(frozen=True)
class RandomizationConfig:
    """What to randomize and how far (± amplitudes, uniform; all 0 / off = ``none``)."""

    # appearance
    color_hue: float = 0.0  # ± hue shift (fraction of the colour circle) per object
    color_saturation: float = 0.0  # ± relative saturation change per object
    color_value: float = 0.0  # ± relative brightness change per object
    object_textures: float = 0.0  # probability that an object gets a procedural texture
    texture_contrast: float = 0.35  # object textures darken the colour by at most this much
    surface_textures: bool = False  # procedural textures on the table top and the floor
    texture_kinds: tuple[str, ...] = tx.TRAIN_KINDS
    # lighting
    light_pos: float = 0.0  # ± m per axis on the main light
    light_dir: float = 0.0  # ± per direction component (then normalized)
    light_diffuse: float = 0.0  # ± relative diffuse of every light
    light_ambient: float = 0.0  # ± absolute ambient (main light and headlight)
    extra_lights: tuple[int, int] = (0, 0)  # how many extra lights, uniform in [lo, hi]
    light_tint: float = 0.0  # ± per-channel colour of the lights (0: white light)
    # camera (the observed one)
    camera_pos: float = 0.0  # ± m per axis
    camera_rot: float = 0.0  # ± degrees about a random axis
    camera_fov: float = 0.0  # ± degrees of fovy
    focal_error: float = 0.0  # ± relative fx and fy (independent)
    principal_error: float = 0.0  # ± pixels of cx and cy
    calibration_error: bool = False  # observation reports the nominal K, T instead of the true ones
    # background
    distractors: tuple[int, int] = (0, 0)  # clutter on the floor off the table, uniform count
    backdrop: bool = False  # a textured wall behind the robot
    # dynamics
    friction: float = 0.0  # ± relative sliding friction of objects and table
    mass: float = 0.0  # ± relative mass (and inertia) of objects

    def __post_init__(self):
        amplitudes = ("color_hue", "color_saturation", "color_value", "light_pos", "light_dir", "light_diffuse")
        amplitudes += ("light_ambient", "light_tint", "camera_pos", "camera_rot", "camera_fov", "principal_error")
        for name in (*amplitudes, "focal_error", "friction", "mass", "object_textures", "texture_contrast"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise ValueError(f"randomization {name} must be a finite number >= 0, got {v!r}")
        for name, top in (("object_textures", 1.0), ("texture_contrast", 1.0), ("color_hue", 0.5)):
            if getattr(self, name) > top:
                raise ValueError(f"randomization {name} must be in [0, {top}], got {getattr(self, name)}")
        for name in ("color_saturation", "color_value", "light_diffuse", "focal_error", "friction", "mass"):
            if getattr(self, name) >= 1:
                v = getattr(self, name)
                raise ValueError(f"randomization {name} is a relative change and must be < 1, got {v}")
        if self.camera_rot > 45 or self.camera_pos > 0.3:
            raise ValueError("randomization camera_rot must be <= 45 degrees and camera_pos <= 0.3 m")
        if self.camera_fov >= 90:
            raise ValueError(f"randomization camera_fov must be < 90 degrees, got {self.camera_fov}")
        tx.check_kinds(tuple(self.texture_kinds))
        for name, top in (("extra_lights", RAND_LIGHTS), ("distractors", RAND_DISTRACTORS)):
            lo, hi = getattr(self, name)
            if not (0 <= lo <= hi <= top):
                raise ValueError(f"randomization {name} must be (lo, hi) with 0 <= lo <= hi <= {top}, got {(lo, hi)}")

    @property
    def is_none(self) -> bool:
        return self == RandomizationConfig()

    @property
    def randomizes_intrinsics(self) -> bool:
        return self.camera_fov > 0 or self.focal_error > 0 or self.principal_error > 0

    @classmethod
    def from_any(cls, value: Any) -> RandomizationConfig:
        """A preset name, a dict (``{"preset": name, field: value, …}``), a config, or ``None``."""
        return _from_any(cls, value, PRESETS, "randomization")

    def to_dict(self) -> dict:
        return asdict(self)


_LIGHT = RandomizationConfig(
    color_hue=0.015,
    color_saturation=0.1,
    color_value=0.12,
    object_textures=0.3,
    texture_contrast=0.3,
    surface_textures=True,
    light_pos=0.1,
    light_dir=0.2,
    light_diffuse=0.2,
    light_ambient=0.08,
    extra_lights=(0, 1),
    camera_pos=0.01,
    camera_rot=3.0,
    camera_fov=2.0,
    focal_error=0.01,
    principal_error=2.0,
    friction=0.05,
    mass=0.02,
)
_STRONG = replace(
    _LIGHT,
    color_hue=0.03,
    color_saturation=0.2,
    color_value=0.25,
    object_textures=0.6,
    texture_contrast=0.45,
    light_pos=0.3,
    light_dir=0.35,
    light_diffuse=0.35,
    light_ambient=0.15,
    extra_lights=(0, 2),  # each extra light costs ~8 % of an RGB-D frame (llvmpipe lights per vertex)
    camera_pos=0.025,
    camera_rot=7.0,
    camera_fov=5.0,
    focal_error=0.02,
    principal_error=4.0,
    distractors=(0, RAND_DISTRACTORS),
    backdrop=True,
    friction=0.1,
    mass=0.05,
)
PRESETS: dict[str, RandomizationConfig] = {
    "none": RandomizationConfig(),
    "light": _LIGHT,
    "strong": _STRONG,
    # never used in training: held-out texture kinds and coloured light (the shifted suite)
    "heldout": replace(_STRONG, texture_kinds=tx.HELDOUT_KINDS, light_tint=0.25, distractors=(2, RAND_DISTRACTORS)),
}


class Randomizer:
    """One env's randomization and depth sensor: ``reset_scene`` (in place of ``Sim.reset_scene``)
    draws and applies a scene's parameters; ``observation`` makes the observed depth and camera."""

    def __init__(self, sim: Sim, camera: str, config: Any = None, depth_noise: Any = None):
        self.config = RandomizationConfig.from_any(config)
        self.sensor = DepthNoiseConfig.from_any(depth_noise)
        self.sim, self.camera = sim, camera
        m = sim.model
        self.cam_id = m.camera(camera).id
        fovy = float(m.cam_fovy[self.cam_id])
        if fovy - self.config.camera_fov <= 0 or fovy + self.config.camera_fov >= 170:
            raise ValueError(
                f"randomization camera_fov={self.config.camera_fov} takes camera {camera!r} (fovy {fovy}) "
                "outside (0, 170) degrees"
            )
        self.scene = SceneRandomizer(sim, self.cam_id, self.config)
        self.params: dict = {}
        self._sensor_rng: np.random.Generator | None = None

    def reset_scene(self, rng: np.random.Generator, scene_config: SceneConfig, seed: int | None = None) -> SceneSpec:
        """``sim.reset_scene`` with this scene's randomization; draws from a child of ``rng``."""
        child = child_generator(rng)
        self.scene.restore()
        params = self.scene.draw_global(child) if not self.config.is_none else {}
        scene = self.sim.reset_scene(rng, scene_config, seed=seed)
        if not self.config.is_none:
            params.update(self.scene.draw_objects(child, len(scene.objects)))
            mujoco.mj_forward(self.sim.model, self.sim.data)
        self._sensor_rng = child_generator(child)
        self.params = params
        return scene

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """``(K, T_world_cam)`` the observation reports: true, or nominal under ``calibration_error``."""
        if self.config.calibration_error:
            s = self.scene
            w, h = (int(v) for v in self.sim.model.cam_resolution[self.cam_id])
            mat = np.zeros(9)
            mujoco.mju_quat2Mat(mat, s.nominal_cam_quat)
            return intrinsics(s.nominal_fovy, w, h), extrinsics(s.nominal_cam_pos, mat.reshape(3, 3))
        return self.sim.camera_pose(self.camera)

    def observation(self, obs: dict) -> dict:
        """Noisy (or no) depth and the reported camera, in place of the exact ones."""
        if not self.sensor.is_exact:
            if self._sensor_rng is None:
                raise RuntimeError("reset the env before asking for an observation")
            obs["depth"] = apply_depth_noise(obs["depth"], self._sensor_rng, self.sensor)
        if self.config.calibration_error:
            K, T = self.camera_pose()
            obs["intrinsics"], obs["extrinsics"] = K.astype(np.float32), T.astype(np.float32)
        return obs

    def info(self) -> dict:
        """``info["randomization"]`` (the drawn parameters) and ``info["depth_mode"]``."""
        return {"randomization": self.params, "depth_mode": self.sensor.mode}


def child_generator(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator derived from ``rng`` without advancing its stream."""
    try:
        return np.random.Generator(rng.bit_generator.spawn(1)[0])
    except (AttributeError, TypeError, ValueError):  # a bit generator without a seed sequence
        return np.random.default_rng(int(rng.integers(2**63)))


def make_randomizer(sim: Sim, camera: str, randomization: Any, depth_noise: Any) -> Randomizer | None:
    """The env's ``Randomizer``, or ``None`` when nothing is randomized (the bit-exact default)."""
    r = Randomizer(sim, camera, randomization, depth_noise)
    return None if (r.config.is_none and r.sensor.is_exact) else r


__all__ = [
    "PRESETS",
    "RandomizationConfig",
    "Randomizer",
    "child_generator",
    "make_randomizer",
    "set_intrinsics",
]
