import mujoco
import numpy as np
import pytest

from roboref.envs.robots import ROBOTS, get_robot
from roboref.envs.scene import TABLE_HEIGHT
from roboref.envs.world import World


def test_unknown_robot_lists_known_ones():
    with pytest.raises(ValueError) as err:
        get_robot("panda")
    for name in ROBOTS:
        assert name in str(err.value)


@pytest.mark.parametrize("robot", ["ur5e", "g1"])
def test_robot_mounted_at_table_and_holds_home_pose(robot):
    world = World(robot, n_slots=2)
    m = world.model
    data = mujoco.MjData(m)
    from roboref.envs.scene import SceneSpec

    world.apply(data, SceneSpec(robot=robot, objects=()))
    root = m.body("robot/" + get_robot(robot).root_body)
    mount = np.array(get_robot(robot).mount_pos) + [0, 0, TABLE_HEIGHT]
    np.testing.assert_allclose(data.xpos[root.id], mount, atol=1e-6)
    # fixed base: the robot's root is welded to the world (no free joint on the robot)
    robot_joints = [m.joint(j) for j in range(m.njnt) if m.joint(j).name.startswith("robot/")]
    assert all(int(j.type[0]) != int(mujoco.mjtJoint.mjJNT_FREE) for j in robot_joints)
    mujoco.mj_step(m, data, 500)  # one simulated second
    np.testing.assert_allclose(data.xpos[root.id], mount, atol=1e-6)
    assert np.abs(data.qpos[world.robot_qadr] - world.home_qpos).max() < 0.02


def test_ur5e_has_gripper_and_pedestal():
    world = World("ur5e", n_slots=1)
    m = world.model
    assert m.site("robot/gripper/pinch").id >= 0
    assert m.actuator("robot/gripper/fingers_actuator").id >= 0
    ped = m.geom("pedestal")
    assert m.geom_pos[ped.id][2] + m.geom_size[ped.id][1] == pytest.approx(TABLE_HEIGHT)


def test_g1_has_hands():
    m = World("g1", n_slots=1).model
    names = {m.body(i).name for i in range(m.nbody)}
    for side in ("left", "right"):
        fingers = {n for n in names if n.startswith(f"robot/{side}_hand_")}
        assert len(fingers) == 7, fingers  # thumb (3), index (2), middle (2) links


@pytest.mark.parametrize("robot", ["ur5e", "g1"])
def test_every_arm_name_of_the_spec_is_in_the_model(robot):
    """Controllers read these names instead of hard-coding them: each must exist in the world."""
    spec = get_robot(robot)
    m = World(robot, n_slots=1).model
    assert spec.arms and spec.ee_sites == tuple(a.site for a in spec.arms)
    for arm in spec.arms:
        m.site("robot/" + arm.site)
        m.body("robot/" + arm.base_body)
        for j in arm.joints:
            m.joint("robot/" + j)
        for a in arm.hand_actuators:
            m.actuator("robot/" + a)
        bodies = [m.body(i).name for i in range(m.nbody)]
        for group, prefixes in arm.hand_bodies.items():
            assert any(b.startswith("robot/" + p) for b in bodies for p in prefixes), group
    assert spec.arm(spec.arms[0].name) is spec.arms[0]
    with pytest.raises(ValueError, match=robot):
        spec.arm("tail")
