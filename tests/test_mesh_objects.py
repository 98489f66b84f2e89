"""Mesh-variant objects in a compiled world: they rest, hold things, segment true to their
geometry, and the same seed still gives the same bits (``object_variants="mesh"``)."""

import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import roboref.envs  # noqa: F401  (registers the env ids)
from roboref.assets.objects import CATEGORIES
from roboref.assets.variants import VARIANTS
from roboref.envs.camera import extrinsics, intrinsics
from roboref.envs.scene import TABLE_HEIGHT, ObjectSpec, SceneSpec
from roboref.envs.sim import Sim

ALL = [(c, v) for c, vs in VARIANTS.items() for v in vs]


@pytest.fixture(scope="module")
def sim():
    s = Sim("ur5e", n_slots=2, object_meshes=True)
    yield s
    s.close()


def _obj(category: str, variant, level: int = 0, xy=(0.15, 0.05), z=0.0, yaw=0.6) -> ObjectSpec:
    cat = CATEGORIES[category]
    size = variant.sizes()[level] if variant is not None else cat.sample_size(np.random.default_rng(level))
    quat = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    name = variant.name if variant is not None else ""
    return ObjectSpec(category, cat.colors[0], size, (xy[0], xy[1], TABLE_HEIGHT + 0.001 + z), quat, name)


def _tilt(q) -> float:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(q, float))
    return math.degrees(math.acos(min(1.0, mat[8])))


@pytest.mark.parametrize("category, variant", ALL, ids=[f"{c}-{v.name}" for c, v in ALL])
def test_mesh_object_rests_on_the_table(sim, category, variant):
    """Dropped from 1 mm, it settles on its bottom: no sinking, sliding or tipping."""
    for level in (0, 3):
        obj = _obj(category, variant, level)
        sim.set_scene(SceneSpec("ur5e", (obj,)))
        report = sim.settle(0.5)
        assert report.ok, report.reason
        pos, quat = sim.world.object_pose(sim.data, 0)
        assert pos[2] == pytest.approx(TABLE_HEIGHT, abs=1.5e-3)
        assert math.dist(pos[:2], obj.pos[:2]) < 0.01
        assert _tilt(quat) < 3.0


SUPPORTS = [(c, v) for c, v in ALL if CATEGORIES[c].support_top is not None]


@pytest.mark.parametrize("category, variant", SUPPORTS, ids=[f"{c}-{v.name}" for c, v in SUPPORTS])
@pytest.mark.parametrize("item", ["block", "apple-mesh"])
def test_mesh_support_holds_another_object(sim, category, variant, item):
    """An object set on a mesh plate/book/box rests at ``support_top`` over it (the relations'
    ``on_top_of`` and the stacker rely on that height)."""
    base = _obj(category, variant, 1)
    top = CATEGORIES[category].support_top(base.size)
    name = item.split("-")[0]
    small = _obj(name, VARIANTS[name][0] if item.endswith("mesh") else None, 2, xy=base.pos[:2], z=top, yaw=0.2)
    sim.set_scene(SceneSpec("ur5e", (base, small)))
    report = sim.settle(0.6)
    assert report.ok, report.reason
    pos, quat = sim.world.object_pose(sim.data, 1)
    assert pos[2] == pytest.approx(TABLE_HEIGHT + top, abs=2.5e-3)
    assert math.dist(pos[:2], base.pos[:2]) < 0.01
    assert _tilt(quat) < 4.0
    base_pos, _ = sim.world.object_pose(sim.data, 0)
    assert base_pos[2] == pytest.approx(TABLE_HEIGHT, abs=1.5e-3)


def _projected_mask(sim: Sim, slot: int, K, T, w: int, h: int) -> np.ndarray:
    """Pixels whose centres fall in a projected triangle of the slot's mesh geoms (MuJoCo's own
    compiled vertices, posed as the simulation has them)."""
    from roboref.envs.camera import project

    m, d = sim.model, sim.data
    mask = np.zeros((h, w), bool)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    for g in sim.world.slot_geoms[slot]:
        if m.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH or m.geom_group[g] == 5:
            continue
        mid = m.geom_dataid[g]
        v = m.mesh_vert[m.mesh_vertadr[mid] : m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
        f = m.mesh_face[m.mesh_faceadr[mid] : m.mesh_faceadr[mid] + m.mesh_facenum[mid]]
        world = v @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g]
        uv, _ = project(world, K, T)
        for a, b, c in uv[f]:
            c0, r0 = np.floor(np.minimum(np.minimum(a, b), c)).astype(int).clip(0, [w, h])
            c1, r1 = (np.ceil(np.maximum(np.maximum(a, b), c)).astype(int) + 1).clip(0, [w, h])
            if c1 <= c0 or r1 <= r0:
                continue
            p = np.stack([cols[r0:r1, c0:c1], rows[r0:r1, c0:c1]], -1) - a
            e1, e2 = b - a, c - a
            det = e1[0] * e2[1] - e1[1] * e2[0]
            if abs(det) < 1e-12:
                continue
            s = (p[..., 0] * e2[1] - p[..., 1] * e2[0]) / det
            t = (e1[0] * p[..., 1] - e1[1] * p[..., 0]) / det
            mask[r0:r1, c0:c1] |= (s >= 0) & (t >= 0) & (s + t <= 1)
    return mask


@pytest.mark.parametrize("category", sorted(VARIANTS))
def test_mesh_object_mask_matches_its_projected_geometry(sim, category):
    """The segmentation label of a mesh object covers exactly its projected triangles."""
    w = h = 448
    for variant in VARIANTS[category]:
        sim.set_scene(SceneSpec("ur5e", (_obj(category, variant, 2),)))
        frame = sim.render("agent", seg=True, size=(w, h))
        cam = sim.model.camera("agent").id
        K = intrinsics(float(sim.model.cam_fovy[cam]), w, h)
        T = extrinsics(sim.data.cam_xpos[cam], sim.data.cam_xmat[cam])
        want = _projected_mask(sim, 0, K, T, w, h)
        got = frame.seg == 1
        iou = (want & got).sum() / (want | got).sum()
        assert want.sum() > 200 and iou > 0.93, f"{category}/{variant.name}: IoU {iou:.3f}"


def test_mesh_env_same_seed_same_bits():
    """``object_variants="mesh"``: seeded resets give the same scene, task and images."""
    envs = [gym.make("roboref/Refer-UR5e-v0", object_variants="mesh", num_objects=(6, 9)) for _ in range(2)]
    try:
        a, info_a = envs[0].reset(seed=5)
        envs[0].reset(seed=6)
        b, info_b = envs[1].reset(seed=5)
        c, _ = envs[0].reset(seed=5)
        for obs in (b, c):
            assert obs["instruction"] == a["instruction"]
            assert np.array_equal(obs["rgb"], a["rgb"]) and np.array_equal(obs["depth"], a["depth"])
        scene = envs[0].unwrapped.sim.scene
        assert all(o.variant for o in scene.objects)
    finally:
        for e in envs:
            e.close()


def test_default_env_compiles_no_mesh_bank():
    env = gym.make("roboref/Refer-UR5e-v0")
    try:
        env.reset(seed=0)
        assert env.unwrapped.sim.world.mesh_ids == {}
        assert not any(o.variant for o in env.unwrapped.sim.scene.objects)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ["roboref/Refer-UR5e-v0", "roboref/PickPlace-UR5e-v0"])
def test_unknown_object_variants_lists_the_allowed_ones(env_id):
    with pytest.raises(ValueError, match="primitive.*mesh.*mixed"):
        gym.make(env_id, object_variants="fancy")


def test_colour_free_mesh_props_cache_paints_what_a_probe_compiles(sim):
    """``World.props`` reuses a mesh object's geometry across colours; the paint must be exactly
    what compiling that colour gives."""
    from dataclasses import replace

    from roboref.envs.world import object_props

    v = VARIANTS["mug"][1]
    red = _obj("mug", v, 1)
    sim.world.props(red)
    for color in ("blue", "white", "green"):
        obj = replace(red, color=color)
        want, got = object_props(obj), sim.world.props(obj)
        assert got.geom_rgba.dtype == want.geom_rgba.dtype
        assert np.array_equal(got.geom_rgba, want.geom_rgba) and np.array_equal(got.geom_pos, want.geom_pos)
        assert got.mass == want.mass
