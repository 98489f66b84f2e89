import mujoco
import numpy as np
import pytest

from roboref.assets.objects import CATEGORIES, PALETTE, get_category
from roboref.envs.scene import ObjectSpec
from roboref.envs.world import object_props


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
