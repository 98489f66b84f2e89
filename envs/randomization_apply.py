"""The model-array side of ``envs/randomization.py``: capture nominal values, restore them, draw
and write one scene's parameters. Kept apart so each module stays short; see that module's doc."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np

from roboref.envs import textures as tx
from roboref.envs.camera import intrinsics, set_intrinsics
from roboref.envs.randomization_assets import RAND_DISTRACTORS, RAND_LIGHTS, RAND_OBJECT_TEXTURES, RAND_PREFIX
from roboref.envs.world import HIDDEN_GROUP, VISIBLE_GROUP

if TYPE_CHECKING:
    from roboref.envs.randomization import RandomizationConfig
    from roboref.envs.sim import Sim

#: Fresh object textures drawn per scene (``draw_objects``).
OBJECT_TEXTURES_PER_SCENE = 3
_DISTRACTOR_TYPES = (
    mujoco.mjtGeom.mjGEOM_BOX,
    mujoco.mjtGeom.mjGEOM_CYLINDER,
    mujoco.mjtGeom.mjGEOM_SPHERE,
    mujoco.mjtGeom.mjGEOM_CAPSULE,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID,
)


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) RGB in [0, 1] -> (N, 3) HSV in [0, 1]."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    mx, mn = rgb.max(axis=1), rgb.min(axis=1)
    d = mx - mn
    safe = np.where(d > 0, d, 1.0)
    h = np.where(mx == r, (g - b) / safe % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    h = np.where(d > 0, h, 0.0)
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return np.column_stack([h % 1.0, s, mx])


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """(N, 3) HSV in [0, 1] -> (N, 3) RGB in [0, 1]."""
    h, s, v = hsv[:, 0] % 1.0, hsv[:, 1], hsv[:, 2]
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]])  # (6, 3, N)
    return table[i, :, np.arange(len(h))]


def _surface_colours(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Two colours for a surface texture: browns for wood, else a random hue, light and dark."""
    if kind == "wood":
        base = np.array([rng.uniform(0.05, 0.11), rng.uniform(0.4, 0.75), rng.uniform(0.45, 0.85)])
    else:
        base = np.array([rng.uniform(0, 1), rng.uniform(0.05, 0.6), rng.uniform(0.4, 0.9)])
    dark = base * [1.0, 1.0, rng.uniform(0.45, 0.8)]
    rgb = hsv_to_rgb(np.stack([dark, base]))
    return rgb[0], rgb[1]


class SceneRandomizer:
    """Nominal copies of every array it writes, ``restore``, and the two draw-and-apply halves:
    ``draw_global`` (before the scene is sampled and settled: lights, camera, surfaces, backdrop,
    distractors) and ``draw_objects`` (after: object colours and textures, friction, mass, which
    ``World.apply`` rewrites or settling should not see)."""

    def __init__(self, sim: Sim, cam_id: int, config: RandomizationConfig):
        self.sim, self.cam_id, self.cfg = sim, cam_id, config
        m, world = sim.model, sim.world
        self.tex = {name: m.texture(f"{RAND_PREFIX}tex_{name}").id for name in ("table", "floor", "backdrop")}
        self.mat = {name: m.material(f"{RAND_PREFIX}mat_{name}").id for name in ("table", "floor", "backdrop")}
        self.obj_tex = [m.texture(f"{RAND_PREFIX}tex_obj{i}").id for i in range(RAND_OBJECT_TEXTURES)]
        self.obj_mat = [m.material(f"{RAND_PREFIX}mat_obj{i}").id for i in range(RAND_OBJECT_TEXTURES)]
        self.sun = m.light("sun").id
        self.lights = [m.light(f"{RAND_PREFIX}light{i}").id for i in range(RAND_LIGHTS)]
        self.distractors = np.array([m.geom(f"{RAND_PREFIX}distractor{i}").id for i in range(RAND_DISTRACTORS)])
        self.backdrop = m.geom(f"{RAND_PREFIX}backdrop").id
        self.table, self.floor = m.geom("table").id, m.geom("floor").id
        self.slot_geoms = world.slot_geoms.reshape(-1)
        self.friction_geoms = np.concatenate([self.slot_geoms, world.table_geoms])
        geoms = np.concatenate([self.slot_geoms, [self.table, self.floor, self.backdrop], self.distractors])
        self._geoms = geoms
        self._nominal = {
            "geom_rgba": m.geom_rgba[geoms].copy(),
            "geom_matid": m.geom_matid[geoms].copy(),
            "geom_group": m.geom_group[geoms].copy(),
            "geom_friction": m.geom_friction[self.friction_geoms].copy(),
            "light": {k: getattr(m, k).copy() for k in ("light_pos", "light_dir", "light_diffuse", "light_ambient")},
            "light_active": m.light_active.copy(),
            "headlight": (m.vis.headlight.ambient.copy(), m.vis.headlight.diffuse.copy()),
        }
        self.nominal_cam_pos = m.cam_pos[cam_id].copy()
        self.nominal_cam_quat = m.cam_quat[cam_id].copy()
        self.nominal_fovy = float(m.cam_fovy[cam_id])
        self._nominal_cam = (m.cam_sensorsize[cam_id].copy(), m.cam_intrinsic[cam_id].copy())

    # --- restore ----------------------------------------------------------------------------
    def restore(self) -> None:
        m, n = self.sim.model, self._nominal
        m.geom_rgba[self._geoms] = n["geom_rgba"]
        m.geom_matid[self._geoms] = n["geom_matid"]
        m.geom_group[self._geoms] = n["geom_group"]
        m.geom_friction[self.friction_geoms] = n["geom_friction"]
        for k, v in n["light"].items():
            getattr(m, k)[:] = v
        m.light_active[:] = n["light_active"]
        m.vis.headlight.ambient[:], m.vis.headlight.diffuse[:] = n["headlight"]
        c = self.cam_id
        m.cam_pos[c], m.cam_quat[c] = self.nominal_cam_pos, self.nominal_cam_quat
        m.cam_sensorsize[c], m.cam_intrinsic[c] = self._nominal_cam

    # --- before the scene -------------------------------------------------------------------
    def draw_global(self, rng: np.random.Generator) -> dict:
        params = {"lights": self._lights(rng), "camera": self._camera(rng)}
        cfg = self.cfg
        surfaces = {}
        if cfg.surface_textures:
            for name, geom in (("table", self.table), ("floor", self.floor)):
                surfaces[name] = self._surface(rng, name, geom)
        if cfg.backdrop:
            surfaces["backdrop"] = self._surface(rng, "backdrop", self.backdrop)
            self.sim.model.geom_group[self.backdrop] = VISIBLE_GROUP
        params["surfaces"] = surfaces
        params["distractors"] = self._distractors(rng)
        return params

    def _uniform(self, rng: np.random.Generator, amp: float, size=None):
        return rng.uniform(-amp, amp, size)

    def _tint(self, rng: np.random.Generator) -> np.ndarray:
        if self.cfg.light_tint <= 0:
            return np.ones(3)
        t = 1 + self._uniform(rng, self.cfg.light_tint, 3)
        return t / t.mean()

    def _lights(self, rng: np.random.Generator) -> dict:
        m, cfg, s = self.sim.model, self.cfg, self.sun
        m.light_pos[s] += self._uniform(rng, cfg.light_pos, 3)
        d = m.light_dir[s] + self._uniform(rng, cfg.light_dir, 3)
        d[2] = min(d[2], -0.2)  # keep it shining down on the table
        m.light_dir[s] = d / np.linalg.norm(d)
        scale = (1 + rng.uniform(-1, 1) * cfg.light_diffuse) * self._tint(rng)
        m.light_diffuse[s] = np.clip(m.light_diffuse[s] * scale, 0, 1)
        amb = self._uniform(rng, cfg.light_ambient)
        m.light_ambient[s] = np.clip(m.light_ambient[s] + amb, 0, 1)
        hl = m.vis.headlight
        hl.ambient[:] = np.clip(hl.ambient + amb, 0, 1)
        hl.diffuse[:] = np.clip(hl.diffuse * (1 + rng.uniform(-1, 1) * cfg.light_diffuse), 0, 1)
        lo, hi = cfg.extra_lights
        n = int(rng.integers(lo, hi + 1))
        extra = []
        for i in self.lights[:n]:
            pos = np.array([rng.uniform(-1.2, 1.2), rng.uniform(-1.2, 1.2), rng.uniform(1.6, 3.0)])
            d = np.array([0.0, 0.0, 0.85]) - pos + rng.uniform(-0.3, 0.3, 3)
            m.light_pos[i], m.light_dir[i] = pos, d / np.linalg.norm(d)
            m.light_diffuse[i] = np.clip(rng.uniform(0.1, 0.35) * self._tint(rng), 0, 1)
            m.light_active[i] = True
            extra.append({"pos": pos.round(4).tolist(), "diffuse": m.light_diffuse[i].round(4).tolist()})
        return {
            "sun_pos": m.light_pos[s].round(4).tolist(),
            "sun_dir": m.light_dir[s].round(4).tolist(),
            "sun_diffuse": m.light_diffuse[s].round(4).tolist(),
            "ambient": float(round(amb, 4)),
            "headlight_diffuse": hl.diffuse.round(4).tolist(),
            "extra": extra,
        }

    def _camera(self, rng: np.random.Generator) -> dict:
        m, cfg, c = self.sim.model, self.cfg, self.cam_id
        offset = self._uniform(rng, cfg.camera_pos, 3)
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        angle = float(self._uniform(rng, cfg.camera_rot))
        q = np.zeros(4)
        mujoco.mju_axisAngle2Quat(q, axis, np.radians(angle))
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, q, self.nominal_cam_quat)  # rotate in the world frame about the camera
        m.cam_pos[c] = self.nominal_cam_pos + offset
        m.cam_quat[c] = quat
        out = {"pos_offset": offset.round(5).tolist(), "rot_axis": axis.round(5).tolist(), "rot_deg": round(angle, 4)}
        if cfg.randomizes_intrinsics:
            w, h = (int(v) for v in m.cam_resolution[c])
            fovy = self.nominal_fovy + float(self._uniform(rng, cfg.camera_fov))
            K = intrinsics(fovy, w, h)
            K[0, 0] *= 1 + self._uniform(rng, cfg.focal_error)
            K[1, 1] *= 1 + self._uniform(rng, cfg.focal_error)
            K[:2, 2] += self._uniform(rng, cfg.principal_error, 2)
            set_intrinsics(m, c, K, w, h)
            out.update(fovy=round(fovy, 4), K=K.round(4).tolist())
        return out

    def _texture(self, rng: np.random.Generator, texid: int, kind: str, low, high) -> None:
        m = self.sim.model
        n = int(m.tex_width[texid])
        adr = int(m.tex_adr[texid])
        m.tex_data[adr : adr + n * n * 3] = tx.texture(rng, kind, n, low, high).reshape(-1)
        self.sim.renderer.upload_texture(texid)

    def _surface(self, rng: np.random.Generator, name: str, geom: int) -> dict:
        m = self.sim.model
        kind = str(rng.choice(self.cfg.texture_kinds))
        low, high = _surface_colours(rng, kind)
        self._texture(rng, self.tex[name], kind, low, high)
        repeat = {"table": (1.5, 4.0), "floor": (0.8, 2.5), "backdrop": (0.4, 1.2)}[name]
        r = rng.uniform(*repeat)
        m.mat_texrepeat[self.mat[name]] = [r, r]
        m.geom_matid[geom] = self.mat[name]
        m.geom_rgba[geom] = [1.0, 1.0, 1.0, 1.0]
        return {"kind": kind, "colors": [low.round(3).tolist(), high.round(3).tolist()], "repeat": round(float(r), 3)}

    def _distractors(self, rng: np.random.Generator) -> list[dict]:
        m = self.sim.model
        lo, hi = self.cfg.distractors
        n = int(rng.integers(lo, hi + 1))
        out = []
        for g in self.distractors[:n]:
            while True:  # on the floor, off the table (and its margin) and the robot's side
                x, y = rng.uniform(-1.5, 0.4), rng.uniform(-1.6, 1.6)
                if not (abs(x) < 0.75 and abs(y) < 0.95):
                    break
            gtype = _DISTRACTOR_TYPES[int(rng.integers(len(_DISTRACTOR_TYPES)))]
            size = rng.uniform(0.03, 0.12, 3)
            m.geom_type[g] = int(gtype)
            m.geom_size[g] = size
            m.geom_rbound[g] = float(np.linalg.norm(size)) * 1.5
            m.geom_aabb[g] = [0, 0, 0, *(size * 1.5)]
            m.geom_pos[g] = [x, y, size[2] if gtype != mujoco.mjtGeom.mjGEOM_CAPSULE else size[0] + size[1]]
            m.geom_quat[g] = [np.cos(a := rng.uniform(0, np.pi)), 0, 0, np.sin(a)]
            hsv = np.array([[rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.3, 0.95)]])
            m.geom_rgba[g] = [*hsv_to_rgb(hsv)[0], 1.0]
            m.geom_group[g] = VISIBLE_GROUP
            out.append({"type": int(gtype), "pos": [round(x, 4), round(y, 4)], "size": size.round(4).tolist()})
        m.geom_group[self.distractors[n:]] = HIDDEN_GROUP
        return out

    # --- after the scene --------------------------------------------------------------------
    def draw_objects(self, rng: np.random.Generator, n_objects: int) -> dict:
        """Per-object colour jitter, textures, friction and mass for the scene's ``n_objects``."""
        m, cfg, world = self.sim.model, self.cfg, self.sim.world
        n = world.n_slots  # drawn for every slot: the draws do not depend on the scene's content
        dh = self._uniform(rng, cfg.color_hue, n)
        ds = 1 + self._uniform(rng, cfg.color_saturation, n)
        dv = 1 + self._uniform(rng, cfg.color_value, n)
        textured = rng.random(n) < cfg.object_textures
        # Uploading a texture is most of the cost (llvmpipe builds mipmaps): a few fresh textures
        # per scene, shared by the textured objects through their own materials (own scale).
        n_tex = min(OBJECT_TEXTURES_PER_SCENE, int(textured[:n_objects].sum()))
        kinds = [str(k) for k in rng.choice(cfg.texture_kinds, OBJECT_TEXTURES_PER_SCENE)]
        which = rng.integers(0, max(n_tex, 1), n)
        low = np.full(3, 1 - cfg.texture_contrast)
        for j in range(n_tex):
            self._texture(rng, self.obj_tex[j], kinds[j], low, np.ones(3))
        repeat = rng.uniform(8, 20, n)
        applied = np.zeros(n, bool)
        friction = 1 + self._uniform(rng, cfg.friction, n + 1)
        mass = 1 + self._uniform(rng, cfg.mass, n)
        for k in range(n_objects):
            g = world.slot_geoms[k]
            g = g[m.geom_group[g] == VISIBLE_GROUP]
            hsv = rgb_to_hsv(m.geom_rgba[g, :3].astype(float))
            hsv[:, 0] += dh[k]
            hsv[:, 1] = np.clip(hsv[:, 1] * ds[k], 0, 1)
            hsv[:, 2] = np.clip(hsv[:, 2] * dv[k], 0, 1)
            m.geom_rgba[g, :3] = hsv_to_rgb(hsv)
            if textured[k] and (m.geom_matid[g] < 0).all():
                mat = self.obj_mat[k % RAND_OBJECT_TEXTURES]
                m.mat_texid[mat, mujoco.mjtTextureRole.mjTEXROLE_RGB] = self.obj_tex[which[k]]
                m.mat_texrepeat[mat] = [repeat[k], repeat[k]]
                m.geom_matid[g] = mat
                applied[k] = True
            m.geom_friction[world.slot_geoms[k], 0] *= friction[k]
        m.geom_friction[world.table_geoms, 0] *= friction[n]
        body = world.slot_body[:n_objects]
        if cfg.mass > 0 and n_objects:
            m.body_mass[body] *= mass[:n_objects]
            m.body_inertia[body] *= mass[:n_objects, None]
            _set_const_keeping_state(m, self.sim.data)
        return {
            "objects": [
                {
                    "hue": round(float(dh[k]), 4),
                    "saturation": round(float(ds[k]), 4),
                    "value": round(float(dv[k]), 4),
                    "texture": kinds[which[k]] if applied[k] else None,
                    "friction": round(float(friction[k]), 4),
                    "mass": round(float(mass[k]), 4),
                }
                for k in range(n_objects)
            ],
            "table_friction": round(float(friction[n]), 4),
        }


def _set_const_keeping_state(m: mujoco.MjModel, d: mujoco.MjData) -> None:
    """``mj_setConst`` after mass changes, keeping the settled state (it resets ``qpos``)."""
    keys = ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "mocap_pos", "mocap_quat")
    saved = {k: getattr(d, k).copy() for k in keys}
    time = d.time
    mujoco.mj_setConst(m, d)
    for k, v in saved.items():
        getattr(d, k)[:] = v
    d.time = time
