import numpy as np
import pytest

from roboref.envs.camera import SEG_ROBOT, SEG_TABLE, CameraSpec, project, unproject
from roboref.envs.scene import TABLE_HEIGHT, ObjectSpec, SceneConfig, SceneSpec
from roboref.envs.sim import Sim


@pytest.fixture(scope="module")
def sim():
    s = Sim("ur5e")
    yield s
    s.close()


def test_intrinsics_and_extrinsics_match_mujoco(sim):
    """Projecting each object's top centre lands on that object's pixels in the segmentation."""
    spec = sim.reset_scene(np.random.default_rng(2), SceneConfig(num_objects=(8, 8)))
    frame = sim.render(seg=True)
    K, T = sim.camera_pose("agent")
    hits = 0
    for k, o in enumerate(spec.objects):
        top = np.array(o.pos) + [0, 0, o.size[2] * 0.5]
        uv, z = project(top, K, T)
        col, row = int(uv[0, 0]), int(uv[0, 1])
        assert z[0] > 0
        if 0 <= row < 224 and 0 <= col < 224 and (frame.seg == k + 1).sum() > 100:
            hits += frame.seg[row, col] == k + 1
    assert hits >= 5


def test_camera_spec_pose_agrees_with_model(sim):
    spec = next(c for c in sim.world.cameras if c.name == "agent")
    K, T = sim.camera_pose("agent")
    np.testing.assert_allclose(spec.K, K, atol=1e-9)
    np.testing.assert_allclose(spec.T_world_cam, T, atol=1e-6)
    # OpenCV convention: +z looks from the camera towards its look-at point
    fwd = np.subtract(spec.lookat, spec.pos)
    assert np.dot(T[:3, 2], fwd / np.linalg.norm(fwd)) == pytest.approx(1.0)


def test_project_unproject_round_trip():
    cam = CameraSpec("c", pos=(1.0, 0.3, 1.5), lookat=(0.0, 0.0, 0.7), fovy=50, width=320, height=240)
    rng = np.random.default_rng(0)
    uv = rng.uniform([0, 0], [320, 240], size=(100, 2))
    z = rng.uniform(0.3, 3.0, size=100)
    pts = unproject(uv, z, cam.K, cam.T_world_cam)
    uv2, z2 = project(pts, cam.K, cam.T_world_cam)
    np.testing.assert_allclose(uv2, uv, atol=1e-9)
    np.testing.assert_allclose(z2, z, atol=1e-12)


def test_depth_unprojects_onto_true_surfaces(sim):
    """Every table pixel unprojects onto the table plane and every pixel of a box onto the box
    surface, within 2 mm."""
    box = ObjectSpec("box", "blue", (0.1, 0.08, 0.06), (-0.1, 0.05, TABLE_HEIGHT), (np.cos(0.3), 0.0, 0.0, np.sin(0.3)))
    sim.set_scene(SceneSpec(robot="ur5e", objects=(box,)))
    frame = sim.render(seg=True)
    K, T = sim.camera_pose("agent")
    rows, cols = np.nonzero(frame.seg == SEG_TABLE)
    uv = np.column_stack([cols + 0.5, rows + 0.5])
    pts = unproject(uv, frame.depth[rows, cols], K, T)
    top = pts[np.abs(pts[:, 2] - TABLE_HEIGHT) < 0.01]  # the top face, not the table's edge
    assert len(top) > 0.8 * len(pts)
    assert np.abs(top[:, 2] - TABLE_HEIGHT).max() < 2e-3

    rows, cols = np.nonzero(frame.seg == 1)
    assert len(rows) > 200
    pts = unproject(np.column_stack([cols + 0.5, rows + 0.5]), frame.depth[rows, cols], K, T)
    yaw = 0.6
    R = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    local = (pts - [-0.1, 0.05, TABLE_HEIGHT + 0.03]) @ R  # into the box frame
    half = np.array([0.05, 0.04, 0.03])
    q = np.abs(local) - half
    sdf = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)
    assert np.abs(sdf).max() < 2e-3


def test_segmentation_labels(sim):
    spec = sim.reset_scene(np.random.default_rng(4), SceneConfig(num_objects=(6, 6)))
    frame = sim.render(seg=True)
    labels = set(np.unique(frame.seg).tolist())
    assert SEG_TABLE in labels and SEG_ROBOT in labels
    objects = labels - {0, SEG_TABLE, SEG_ROBOT}
    assert objects <= set(range(1, len(spec.objects) + 1))  # hidden slots never show
    assert len(objects) >= 5
    # segmentation and RGB agree: an object's pixels are drawn in (roughly) its colour
    from roboref.assets.objects import PALETTE

    for k in objects:
        o = spec.objects[k - 1]
        if o.category in (
            "bowl",
            "plate",
            "book",
            "cup",
            "can",
            "marker",
            "jar",
            "apple",
            "orange",
            "bottle",
        ):
            continue  # multi-coloured parts or shading-dominated
        mean = frame.rgb[frame.seg == k].mean(axis=0) / 255.0
        want = np.array(PALETTE[o.color])
        assert np.argmax(mean) == np.argmax(want) or np.ptp(want) < 0.2, o.name


def test_rendering_is_repeatable(sim):
    sim.reset_scene(np.random.default_rng(9), SceneConfig())
    a, b = sim.render(seg=True), sim.render(seg=True)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    assert np.array_equal(a.seg, b.seg)


def test_quality_mode_renders_full_meshes_with_shadows():
    fast, pretty = Sim("ur5e", n_slots=4), Sim("ur5e", n_slots=4, quality=True)
    assert pretty.model.nmeshface > 5 * fast.model.nmeshface  # undecimated robot meshes
    cfg = SceneConfig(num_objects=(4, 4))
    for s in (fast, pretty):
        s.reset_scene(np.random.default_rng(0), cfg)
    a, b = fast.render(depth=False).rgb, pretty.render(depth=False).rgb
    assert a.shape == b.shape and a.std() > 10 and b.std() > 10
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1.0  # shadows/antialiasing differ
    fast.close()
    pretty.close()
