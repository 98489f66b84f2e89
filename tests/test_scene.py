import math

import mujoco
import numpy as np
import pytest

from roboref.assets.objects import CATEGORIES
from roboref.envs.scene import TABLE_HEIGHT, ObjectSpec, SceneConfig, SceneSpec, sample_scene
from roboref.envs.sim import Sim


@pytest.fixture(scope="module")
def sim():
    s = Sim("ur5e")
    yield s
    s.close()


def test_same_seed_same_scene_different_seed_different():
    cfg = SceneConfig()
    a = sample_scene(np.random.default_rng(7), cfg)
    b = sample_scene(np.random.default_rng(7), cfg)
    c = sample_scene(np.random.default_rng(8), cfg)
    assert a == b
    assert a != c


@pytest.mark.parametrize("seed", range(20))
def test_objects_within_area_and_apart(seed):
    cfg = SceneConfig(robot="g1" if seed % 2 else "ur5e")
    spec = sample_scene(np.random.default_rng(seed), cfg)
    lo, hi = cfg.num_objects
    assert lo <= len(spec.objects) <= hi
    (x0, x1), (y0, y1) = cfg.placement_area
    for i, a in enumerate(spec.objects):
        assert x0 <= a.pos[0] - a.footprint_radius and a.pos[0] + a.footprint_radius <= x1
        assert y0 <= a.pos[1] - a.footprint_radius and a.pos[1] + a.footprint_radius <= y1
        for b in spec.objects[i + 1 :]:
            if a.pos[2] > TABLE_HEIGHT + 0.005 or b.pos[2] > TABLE_HEIGHT + 0.005:
                continue  # a stacked object sits on its support's footprint
            gap = math.dist(a.pos[:2], b.pos[:2]) - a.footprint_radius - b.footprint_radius
            assert gap >= cfg.min_gap - 1e-9


def test_scene_spec_json_round_trip():
    spec = sample_scene(np.random.default_rng(3), SceneConfig(), seed=3)
    assert SceneSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_objects": (40, 40)}, ["num_objects", "30"]),
        ({"num_objects": (25, 25)}, ["do not fit", "num_objects <="]),
        (
            {"num_objects": (15, 15), "table_size": (0.5, 0.5), "area": ((-0.2, 0.2), (-0.2, 0.2))},
            ["do not fit"],
        ),
        ({"num_objects": (0, 3)}, ["num_objects"]),
        ({"categories": ("mug", "teapot")}, ["teapot", "mug", "banana"]),
        ({"colors": ("red", "mauve")}, ["mauve", "palette", "red"]),
        ({"robot": "panda"}, ["panda", "ur5e", "g1"]),
        ({"area": ((-2.0, 0.2), (-0.3, 0.3))}, ["placement area", "table"]),
    ],
)
def test_impossible_configs_explain_themselves(kwargs, words):
    with pytest.raises(ValueError) as err:
        SceneConfig(**kwargs)
    for w in words:
        assert w in str(err.value)


def test_settled_scene_is_at_rest_on_the_table(sim):
    cfg = SceneConfig(num_objects=(12, 12))
    spec = sim.reset_scene(np.random.default_rng(5), cfg)
    assert len(spec.objects) == 12
    before = [sim.world.object_pose(sim.data, k)[0] for k in range(12)]
    for k, o in enumerate(spec.objects):
        tops = [TABLE_HEIGHT] + [
            b.pos[2] + CATEGORIES[b.category].support_top(b.size)
            for b in spec.objects
            if CATEGORIES[b.category].support_top is not None
        ]
        assert min(abs(o.pos[2] - t) for t in tops) < 3e-3  # resting on the table or a support
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, np.array(o.quat))
        assert mat[8] > math.cos(math.radians(12))  # upright
        np.testing.assert_allclose(before[k], o.pos, atol=1e-9)
    assert sim.step(500) == ""  # one more simulated second: nothing moves
    for k in range(12):
        p = sim.world.object_pose(sim.data, k)[0]
        assert np.linalg.norm(p - before[k]) < 3e-3, spec.objects[k].name


def test_overhanging_object_is_rejected(sim):
    """An object half off the table edge falls: settling must say so, not accept it."""
    box = ObjectSpec("book", "red", (0.2, 0.14, 0.03), (0.58, 0.0, TABLE_HEIGHT + 0.001))
    sim.set_scene(SceneSpec(robot="ur5e", objects=(box,)))
    report = sim.settle(0.5)
    assert not report.ok
    assert "red book" in report.reason


def test_settling_is_deterministic(sim):
    cfg = SceneConfig()
    a = sim.reset_scene(np.random.default_rng(11), cfg)
    sim.reset_scene(np.random.default_rng(12), cfg)  # something else in between
    b = sim.reset_scene(np.random.default_rng(11), cfg)
    assert a == b


def test_build_shows_a_scene_spec_exactly():
    from roboref.envs.world import build

    spec = sample_scene(np.random.default_rng(21), SceneConfig(num_objects=(5, 5)))
    world, data = build(spec)
    assert world.n_slots == 5
    for k, o in enumerate(spec.objects):
        pos, quat = world.object_pose(data, k)
        np.testing.assert_allclose(pos, o.pos)
        np.testing.assert_allclose(quat, o.quat)
        body = world.slot_body[k]
        assert world.model.body_mass[body] > 0


def test_stacked_objects_rest_on_their_support(sim):
    cfg = SceneConfig(num_objects=(6, 8), stack_prob=1.0)
    stacked = 0
    for seed in range(10):
        spec = sim.reset_scene(np.random.default_rng(seed), cfg)
        for o in spec.objects:
            if o.pos[2] > TABLE_HEIGHT + 0.005:
                stacked += 1
                base = min(spec.objects, key=lambda b: math.dist(b.pos[:2], o.pos[:2]) if b is not o else 9)
                assert CATEGORIES[base.category].support_top is not None
                top = base.pos[2] + CATEGORIES[base.category].support_top(base.size)
                assert o.pos[2] == pytest.approx(top, abs=4e-3)
    assert stacked >= 5


# --- object_variants: mesh-built shapes (assets/variants.py) ----------------------------------------


def test_object_variants_is_checked_and_primitive_by_default():
    assert SceneConfig().object_variants == "primitive"
    with pytest.raises(ValueError, match="primitive.*mesh.*mixed"):
        SceneConfig(object_variants="meshes")


def test_primitive_scenes_and_their_records_are_as_before():
    """The default draws no variant and writes no ``variant`` key, so records stay the same."""
    spec = sample_scene(np.random.default_rng(4), SceneConfig(), seed=4)
    assert all(o.variant == "" for o in spec.objects)
    assert all("variant" not in o for o in spec.to_dict()["objects"])
    assert "variant" not in spec.objects[0].to_dict()


@pytest.mark.parametrize("mode", ["mesh", "mixed"])
def test_variant_scenes_are_seeded_and_round_trip(mode):
    from roboref.assets.variants import VARIANTS

    cfg = SceneConfig(object_variants=mode, num_objects=(12, 15))
    a = sample_scene(np.random.default_rng(9), cfg, seed=9)
    assert a == sample_scene(np.random.default_rng(9), cfg, seed=9)
    assert a != sample_scene(np.random.default_rng(10), cfg, seed=10)
    assert SceneSpec.from_json(a.to_json()) == a
    shapes = [o.variant for s in range(10) for o in sample_scene(np.random.default_rng(s), cfg).objects]
    if mode == "mesh":
        assert all(shapes)
    else:
        assert "" in shapes and any(shapes)
    for s in range(10):
        for o in sample_scene(np.random.default_rng(s), cfg).objects:
            if o.variant:
                v = next(v for v in VARIANTS[o.category] if v.name == o.variant)
                assert o.size in v.sizes()


def test_a_world_without_the_mesh_bank_refuses_mesh_objects(sim):
    spec = sample_scene(np.random.default_rng(1), SceneConfig(object_variants="mesh", num_objects=(3, 3)))
    with pytest.raises(ValueError, match="mesh bank"):
        sim.set_scene(spec)


def test_mesh_scenes_settle_and_stack_on_mesh_supports():
    """Seeded mesh scenes settle on the table; stacked objects rest at their support's top."""
    sim = Sim("ur5e", object_meshes=True)
    try:
        cfg = SceneConfig(num_objects=(6, 8), stack_prob=1.0, object_variants="mesh")
        stacked = 0
        for seed in range(16):
            spec = sim.reset_scene(np.random.default_rng(seed), cfg)
            for o in spec.objects:
                if o.pos[2] > TABLE_HEIGHT + 0.005:
                    stacked += 1
                    base = min(spec.objects, key=lambda b: math.dist(b.pos[:2], o.pos[:2]) if b is not o else 9)
                    assert base.variant and CATEGORIES[base.category].support_top is not None
                    top = base.pos[2] + CATEGORIES[base.category].support_top(base.size)
                    assert o.pos[2] == pytest.approx(top, abs=4e-3)
                else:
                    assert o.pos[2] == pytest.approx(TABLE_HEIGHT, abs=2e-3)
        assert stacked >= 6
    finally:
        sim.close()
