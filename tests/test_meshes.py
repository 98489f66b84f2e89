"""Decimated robot meshes: visual copies reach their face budget and keep their shape; colliding
geoms and body inertias stay those of the plain quadric copies, so physics does not change."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from scipy.spatial import cKDTree

from roboref.envs.meshes import cluster_vertices, decimated, decimated_copies, read_mesh
from roboref.envs.robots import DEFAULT_MAX_FACES, ROBOTS, robotiq_2f85_xml
from roboref.envs.world import World


def _gripper_mesh(name: str):
    path = robotiq_2f85_xml()
    spec = mujoco.MjSpec.from_file(str(path))
    return path.parent / (spec.meshdir or "") / spec.mesh(name).file


def _surface_points(mesh: tuple[np.ndarray, np.ndarray], n: int = 200_000) -> np.ndarray:
    """``n`` points spread over the surface by area (seeded)."""
    v, f = mesh
    tri = v[f]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(f), size=n, p=area / area.sum())
    a, b = rng.random((2, n, 1))
    flip = (a + b) > 1
    a, b = np.where(flip, 1 - a, a), np.where(flip, 1 - b, b)
    t = tri[pick]
    return t[:, 0] + a * (t[:, 1] - t[:, 0]) + b * (t[:, 2] - t[:, 0])


def _surface_gap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """95th percentile distance from a's surface to b's (both sampled)."""
    d = cKDTree(_surface_points(b)).query(_surface_points(a, 20_000))[0]
    return float(np.percentile(d, 95))


def test_quadric_simplification_stalls_on_the_base_mount_and_the_visual_copy_does_not():
    src = _gripper_mesh("base_mount")
    plain, visual = (read_mesh(copy) for copy in decimated_copies(src, 400))
    assert decimated_copies(src, 400)[0] == decimated(src, 400)
    assert len(plain[1]) > 10_000  # the stall that made the visual path necessary
    assert len(visual[1]) <= 1.5 * 400
    original = read_mesh(src)
    extent = np.ptp(original[0], axis=0).max()
    assert np.allclose(visual[0].min(0), original[0].min(0), atol=0.03 * extent)
    assert np.allclose(visual[0].max(0), original[0].max(0), atol=0.03 * extent)
    assert _surface_gap(visual, original) < 0.03 * extent
    assert _surface_gap(original, visual) < 0.03 * extent


def test_meshes_that_decimate_well_share_one_file():
    src = _gripper_mesh("driver")
    assert decimated_copies(src, 400) == (decimated(src, 400), decimated(src, 400))


def test_cluster_vertices_merges_a_cell_and_drops_collapsed_faces():
    verts = np.array([[0.0, 0, 0], [0.01, 0, 0], [1, 0, 0], [0, 1, 0]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [1, 2, 3]])
    v, f = cluster_vertices(verts, faces, cell=0.1)
    assert len(v) == 3 and np.allclose(v[0], [0.005, 0, 0])
    assert len(f) == 1  # [0,1,2] collapsed, [0,2,3] and [1,2,3] became the same face


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_robot_visual_meshes_meet_the_budget_and_physics_keeps_the_plain_copies(robot):
    world = World(robot, n_slots=2)
    plain = World(robot, n_slots=2, max_faces=0)  # the undecimated robot, for the shapes
    m = world.model
    mesh = m.geom_type == mujoco.mjtGeom.mjGEOM_MESH
    collides = (m.geom_contype | m.geom_conaffinity) > 0
    shown = np.flatnonzero(mesh & ~collides)
    faces = m.mesh_facenum[m.geom_dataid[shown]]
    assert faces.max() <= 1.5 * DEFAULT_MAX_FACES, faces.max()
    colliding = np.flatnonzero(mesh & collides)
    for g in colliding:  # the colliding copy is the plain quadric one
        name = m.mesh(m.geom_dataid[g]).name
        assert not name.endswith("_visual")
    # bodies weigh what the plain copies made them weigh: inertia frozen before the visual swap
    if robot == "ur5e":
        body = m.body("robot/gripper/base_mount").id
        ref = _plain_quadric_inertia()
        assert m.body_mass[body] == ref[0] and np.array_equal(m.body_inertia[body], ref[1])
    # every visual geom stays where it was, about as large
    for g in shown:
        name = m.geom(g).name
        if not name:
            continue
        p = mujoco.mj_name2id(plain.model, mujoco.mjtObj.mjOBJ_GEOM, name)
        assert abs(m.geom_rbound[g] - plain.model.geom_rbound[p]) <= 0.1 * plain.model.geom_rbound[p] + 2e-3


def _plain_quadric_inertia() -> tuple[float, np.ndarray]:
    """The 2F-85 base mount's compiled mass and inertia with every mesh the plain quadric copy."""
    path = robotiq_2f85_xml()
    spec = mujoco.MjSpec.from_file(str(path))
    mesh_dir = path.parent / (spec.meshdir or "")
    for mesh in spec.meshes:
        mesh.file = str(decimated(mesh_dir / mesh.file, DEFAULT_MAX_FACES))
    spec.meshdir = ""
    model = spec.compile()
    body = model.body("base_mount").id
    return model.body_mass[body], model.body_inertia[body]
