import mujoco
import numpy as np
import pytest

from roboref.assets.objects import CATEGORIES, PALETTE, get_category
from roboref.assets.variants import LEVELS, VARIANTS, get_variant, mesh_bank, variant_parts
from roboref.envs.scene import ObjectSpec
from roboref.envs.tasks.relations.geometry import container_room, support_room
from roboref.envs.world import object_parts, object_props


def test_library_size():
    assert len(CATEGORIES) >= 12
    assert len(PALETTE) >= 10
    assert {"mug", "bowl", "plate", "cup", "bottle", "can", "box", "book", "apple", "banana", "block"} <= set(
        CATEGORIES
    )


def test_unknown_category_lists_known_ones():
    with pytest.raises(ValueError, match="mug"):
        get_category("teapot")


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_parts_fill_the_declared_bounding_box(name):
    """Each category's parts span its declared size: the box the scene sampler reasons with."""
    cat = CATEGORIES[name]
    rng = np.random.default_rng(1)
    for _ in range(3):
        size = cat.sample_size(rng)
        obj = ObjectSpec(name, cat.colors[0], size, (0, 0, 0))
        props = object_props(obj)
        assert props.mass > 0
        spec = mujoco.MjSpec()
        body = spec.worldbody.add_body()
        for p in cat.parts(size):
            body.add_geom(
                type=getattr(mujoco.mjtGeom, f"mjGEOM_{p.type.upper()}"),
                size=list(p.size),
                pos=list(p.pos),
                quat=list(p.quat),
            )
        m = spec.compile()
        d = mujoco.MjData(m)
        mujoco.mj_forward(m, d)
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for g in range(m.ngeom):  # world-aligned AABB of each geom's own AABB corners
            c, h = m.geom_aabb[g][:3], m.geom_aabb[g][3:]
            R = d.geom_xmat[g].reshape(3, 3)
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * h + c
            pts = corners @ R.T + d.geom_xpos[g]
            lo, hi = np.minimum(lo, pts.min(0)), np.maximum(hi, pts.max(0))
        assert lo[2] == pytest.approx(0.0, abs=2e-3), f"{name} must rest on z=0"
        np.testing.assert_allclose(hi - lo, size, atol=0.012, err_msg=name)
        np.testing.assert_allclose((hi + lo)[:2] / 2, 0.0, atol=0.012, err_msg=name)


# --- mesh variants (assets/variants.py) ------------------------------------------------------------


ALL_VARIANTS = [(c, v.name) for c, vs in VARIANTS.items() for v in vs]


def _raster(points2d: np.ndarray, faces: np.ndarray, lo, hi, n: int = 48) -> np.ndarray:
    """Occupancy of the triangles' projection on an ``n`` × ``n`` grid spanning ``lo``..``hi``."""
    grid = (np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="xy"), -1).reshape(-1, 2) + 0.5) / n
    grid = lo + grid * (hi - lo)
    occ = np.zeros(n * n, bool)
    for a, b, c in points2d[faces]:
        m = np.array([b - a, c - a]).T
        if abs(np.linalg.det(m)) < 1e-14:
            continue
        uv = np.linalg.solve(m, (grid - a).T).T
        occ |= (uv >= -1e-9).all(1) & (uv.sum(1) <= 1 + 1e-9)
    return occ.reshape(n, n)


def _silhouettes(category: str, variant: str) -> np.ndarray:
    """Side (x-z) and top (x-y) silhouettes, each stretched to fill its window: the outline's
    shape alone, whatever the size and proportions."""
    v = get_variant(category, variant)
    _, meshes = variant_parts(category, variant, v.sizes()[0])
    verts = np.concatenate([m[0] for m in meshes.values()])
    faces, off = [], 0
    for m in meshes.values():
        faces.append(m[1] + off)
        off += len(m[0])
    faces = np.concatenate(faces)
    lo, hi = verts.min(0), verts.max(0)
    side = _raster(verts[:, [0, 2]], faces, lo[[0, 2]], hi[[0, 2]])
    top = _raster(verts[:, [0, 1]], faces, lo[[0, 1]], hi[[0, 1]])
    return np.stack([side, top])


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_every_category_has_two_mesh_silhouettes(name):
    """With meshes on, a category is not one shape: ≥ 2 variants whose side or top outlines
    (each stretched to its window) differ by more than 5 % of their union."""
    variants = VARIANTS[name]
    assert len(variants) >= 2
    sil = [_silhouettes(name, v.name) for v in variants]
    for i in range(len(sil)):
        for j in range(i + 1, len(sil)):
            iou = [(sil[i][k] & sil[j][k]).sum() / (sil[i][k] | sil[j][k]).sum() for k in range(2)]
            assert min(iou) < 0.95, f"{name}: {variants[i].name} and {variants[j].name} look alike ({iou})"


@pytest.mark.parametrize("category, variant", ALL_VARIANTS)
def test_variant_meshes_are_closed_and_fill_their_size_box(category, variant):
    """Closed, consistently wound meshes (each directed edge once, its reverse once) with positive
    volume, spanning exactly the size box the sampler and the task engine reason with."""
    cat = CATEGORIES[category]
    sizes = get_variant(category, variant).sizes()
    assert len(set(sizes)) == LEVELS
    for size in sizes:
        parts, meshes = variant_parts(category, variant, size)
        assert 1 <= len(parts) <= 4 and all(p.type == "mesh" and p.mesh in meshes for p in parts)
        for _, f in meshes.values():
            edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
            directed = {tuple(e) for e in edges.tolist()}
            assert len(directed) == len(edges), f"{category}/{variant}: an edge is used twice the same way"
            assert all((b, a) in directed for a, b in directed), f"{category}/{variant}: mesh is not closed"
        verts = np.concatenate([m[0] for m in meshes.values()])
        lo, hi = verts.min(0), verts.max(0)
        height = cat.support_top(size) if category == "plate" else size[2]  # a plate stands 1.6× its rim
        np.testing.assert_allclose(hi - lo, [size[0], size[1], height], atol=1e-9)
        np.testing.assert_allclose([(hi + lo)[0] / 2, (hi + lo)[1] / 2, lo[2]], 0.0, atol=1e-9)
        props = object_props(ObjectSpec(category, cat.colors[0], size, (0, 0, 0), variant=variant))
        assert props.mass > 0 and (props.inertia > 0).all()
        assert props.mass < cat.density * np.prod([size[0], size[1], height]) * 1.01


def _ray_tops(obj: ObjectSpec, radius: float, n: int = 24) -> np.ndarray:
    """Heights where vertical rays, dropped on a ring of ``radius`` and the axis, first hit ``obj``."""
    parts, meshes = object_parts(obj)
    spec = mujoco.MjSpec()
    for name, (v, f) in meshes.items():
        spec.add_mesh(name=name, uservert=v.ravel().tolist(), userface=f.ravel().tolist())
    for p in parts:
        spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=p.mesh)
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    a = np.linspace(0, 2 * np.pi, n, endpoint=False) + 0.0123  # off the meshes' seams and vertices
    starts = np.column_stack([radius * np.cos(a), radius * np.sin(a), np.full(n, 1.0)])
    tops = []
    for s in np.vstack([starts, [[0.0011, 0.0007, 1.0]]]):
        gid = np.zeros(1, np.int32)
        dist = mujoco.mj_ray(m, d, s, np.array([0, 0, -1.0]), None, 1, -1, gid)
        tops.append(1.0 - dist if dist >= 0 else -1.0)
    return np.array(tops)


@pytest.mark.parametrize("category", [c for c in VARIANTS if CATEGORIES[c].support_top is not None])
def test_mesh_supports_are_flat_at_their_support_top(category):
    """Plates, books and boxes: flat at ``support_top(size)`` over the room ``on_top_of`` uses."""
    from types import SimpleNamespace

    cat = CATEGORIES[category]
    for v in VARIANTS[category]:
        for size in v.sizes():
            obj = ObjectSpec(category, cat.colors[0], size, (0, 0, 0), variant=v.name)
            room = support_room(SimpleNamespace(category=category, size=np.asarray(size)))
            tops = _ray_tops(obj, room)
            np.testing.assert_allclose(tops, cat.support_top(size), atol=1e-6, err_msg=f"{category}/{v.name}")


@pytest.mark.parametrize("category", [c for c in VARIANTS if CATEGORIES[c].container])
def test_mesh_containers_show_their_floor_within_3_cm_of_the_rim(category):
    """``inside`` counts a container's pixels within 3 cm below its top inside its opening."""
    from types import SimpleNamespace

    cat = CATEGORIES[category]
    for v in VARIANTS[category]:
        for size in v.sizes():
            obj = ObjectSpec(category, cat.colors[0], size, (0, 0, 0), variant=v.name)
            room = container_room(SimpleNamespace(category=category, size=np.asarray(size)))
            tops = _ray_tops(obj, room)
            hit = tops[tops >= 0]  # rays that miss the object are not in its mask either
            assert len(hit) > len(tops) // 2, f"{category}/{v.name}"
            assert (hit >= size[2] - 0.03).all() and (hit <= size[2] + 1e-6).all(), f"{category}/{v.name}"


def test_unknown_variant_and_off_level_size_explain_themselves():
    with pytest.raises(ValueError, match="tapered"):
        get_variant("mug", "teapot")
    with pytest.raises(ValueError, match="mesh sizes"):
        variant_parts("mug", "tapered", (0.1, 0.07, 0.09))


def test_mesh_bank_holds_every_variant_at_every_size():
    bank = mesh_bank()
    for category, variant in ALL_VARIANTS:
        for size in get_variant(category, variant).sizes():
            assert set(variant_parts(category, variant, size)[1]) <= set(bank)


@pytest.mark.parametrize("category", ["mug", "marker"])
def test_mesh_variants_keep_the_front_at_plus_x(category):
    """Object-centric front (orientation relations): a mug's handle, a marker's cap, at +x."""
    for v in VARIANTS[category]:
        _, meshes = variant_parts(category, v.name, v.sizes()[0])
        body, front = list(meshes.values())[:2]
        assert front[0][:, 0].mean() > body[0][:, 0].mean() + 0.01, f"{category}/{v.name}"


def test_props_compiled_together_equal_props_compiled_alone():
    """``World.apply`` compiles a scene's missing objects in one probe model: every value must be
    the one-object probe's, bit for bit (primitives and mesh variants, shared meshes included)."""
    from dataclasses import fields

    from roboref.envs.scene import SceneConfig, sample_scene
    from roboref.envs.world import objects_props

    rng = np.random.default_rng(3)
    objs = []
    for variants in ("primitive", "mixed"):
        cfg = SceneConfig(robot="ur5e", num_objects=(8, 10), object_variants=variants)
        for seed in range(3):
            objs += sample_scene(rng, cfg, seed=seed).objects
    assert any(o.variant for o in objs) and any(not o.variant for o in objs)
    together = objects_props(objs)
    for obj, got in zip(objs, together, strict=True):
        want = object_props(obj)
        for f in fields(want):
            a, b = getattr(want, f.name), getattr(got, f.name)
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (obj, f.name)
            else:
                assert a == b, (obj, f.name)
