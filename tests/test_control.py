"""Controllers on fixed, hand-built scenes: real physics, real robot models, no mocks.

Each pick / place is checked by the object's final pose in the simulation, and every failure
reason is provoked by a real situation (a plate too wide for the gripper, a neighbour in the
fingers' way, an out-of-reach corner, a point on the floor, a blown-up state, ...).
"""

from __future__ import annotations

import json
import math

import mujoco
import numpy as np
import pytest

from roboref.envs.camera import SEG_TABLE, project
from roboref.envs.control import (
    FAILURE_REASONS,
    Action,
    ControlConfig,
    ExecutionResult,
    grasp_pose,
    make_controller,
    point_hit,
)
from roboref.envs.scene import TABLE_HEIGHT, ObjectSpec, SceneSpec
from roboref.envs.sim import Sim

Z = TABLE_HEIGHT + 0.001


def yaw_quat(yaw: float) -> tuple[float, float, float, float]:
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def show(sim: Sim, objects: tuple[ObjectSpec, ...]):
    """Put a hand-built scene in ``sim``, let it settle, return the agent camera's frame."""
    sim.set_scene(SceneSpec(robot=sim.world.robot.name, objects=objects))
    assert sim.step(150) == ""
    return sim.render("agent", seg=True)


def point_at(sim: Sim, frame, xyz) -> tuple[float, float]:
    """The normalized image point of world point ``xyz`` in the agent camera."""
    K, T = sim.camera_pose("agent")
    uv, _ = project(np.array([xyz]), K, T)
    h, w = frame.depth.shape
    return (float(uv[0, 0] / (2 * K[0, 2])), float(uv[0, 1] / (2 * K[1, 2])))


def object_point(sim: Sim, frame, k: int) -> tuple[float, float]:
    """A point on object ``k``'s top centre, checked against the segmentation."""
    g = grasp_pose(sim.world, sim.data, k)
    p = point_at(sim, frame, (g.center[0], g.center[1], g.top - 0.003))
    h, w = frame.seg.shape
    assert frame.seg[int(p[1] * h), int(p[0] * w)] == k + 1
    return p


def tilt_deg(quat) -> float:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, float))
    return math.degrees(math.acos(np.clip(mat[8], -1, 1)))


@pytest.fixture(scope="module")
def ur5e():
    sim = Sim("ur5e", n_slots=4)
    yield sim, make_controller("ur5e")
    sim.close()


BLOCK = ObjectSpec("block", "red", (0.045, 0.045, 0.045), (-0.15, 0.12, Z), yaw_quat(0.5))
CAN = ObjectSpec("can", "blue", (0.065, 0.065, 0.12), (-0.05, -0.2, Z))
PLATE = ObjectSpec("plate", "white", (0.2, 0.2, 0.014), (0.05, 0.15, Z))


# --- targets ---------------------------------------------------------------------------------


def test_point_unprojects_onto_the_object_it_names(ur5e):
    sim, _ = ur5e
    frame = show(sim, (BLOCK, CAN))
    K, T = sim.camera_pose("agent")
    hit = point_hit(object_point(sim, frame, 1), frame, K, T, sim.max_depth)
    assert hit.slot == 1
    assert math.dist(hit.world[:2], sim.world.object_pose(sim.data, 1)[0][:2]) < 0.02
    table = point_hit(point_at(sim, frame, (0.1, -0.3, TABLE_HEIGHT)), frame, K, T, sim.max_depth)
    assert table.label == SEG_TABLE and abs(table.world[2] - TABLE_HEIGHT) < 0.005


def test_grasp_closes_across_the_narrow_side_of_a_turned_box(ur5e):
    sim, _ = ur5e
    box = ObjectSpec("box", "green", (0.11, 0.05, 0.06), (-0.1, 0.0, Z), yaw_quat(math.radians(30)))
    show(sim, (box,))
    g = grasp_pose(sim.world, sim.data, 0)
    assert g.width == pytest.approx(0.05, abs=0.004)
    closing = np.array([math.cos(g.yaw), math.sin(g.yaw)])
    short_axis = np.array([math.cos(math.radians(120)), math.sin(math.radians(120))])
    assert abs(closing @ short_axis) > 0.99


# --- UR5e pick and place ---------------------------------------------------------------------


def test_ur5e_pick_and_place_moves_the_block_onto_the_target(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (BLOCK, CAN))
    target = (0.05, -0.05, TABLE_HEIGHT)
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0), place=point_at(sim, frame, target)), frame)
    assert r.success, r.message
    assert r.failure == "" and r.grasped and r.lifted and r.placed and r.stable and not r.holding
    pos, quat = sim.world.object_pose(sim.data, 0)
    assert math.dist(pos[:2], target[:2]) < 0.03
    assert abs(pos[2] - TABLE_HEIGHT) < 0.005 and tilt_deg(quat) < 5
    can = sim.world.object_pose(sim.data, 1)[0]
    assert math.dist(can[:2], CAN.pos[:2]) < 0.01  # the neighbour was not disturbed
    assert r.distance_to_target < 0.03 and r.wall_time > 0 and r.sim_time > 1
    assert json.loads(json.dumps(r.to_dict()))["success"] is True


def test_ur5e_pick_lifts_and_holds_then_place_releases(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (CAN, BLOCK))
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.success and r.action == "pick" and r.holding, r.message
    z = sim.world.object_pose(sim.data, 0)[0][2]
    assert z - TABLE_HEIGHT > 0.1 and r.lift_height >= 0.05
    sim.step(250)  # held by friction alone: it stays up
    assert sim.world.object_pose(sim.data, 0)[0][2] == pytest.approx(z, abs=0.01)
    target = (-0.2, -0.3, TABLE_HEIGHT)
    r = ctl.execute(sim, Action(place=point_at(sim, frame, target)), frame)
    assert r.success and r.action == "place", r.message
    pos, quat = sim.world.object_pose(sim.data, 0)
    assert math.dist(pos[:2], target[:2]) < 0.03 and tilt_deg(quat) < 5


# --- failure reasons -------------------------------------------------------------------------


def test_pick_on_the_table_is_no_object_at_point(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (BLOCK,))
    r = ctl.execute(sim, Action(pick=point_at(sim, frame, (0.1, -0.3, TABLE_HEIGHT))), frame)
    assert not r.success and r.failure == "no_object_at_point"
    assert "table" in r.message and math.dist(sim.world.object_pose(sim.data, 0)[0], BLOCK.pos) < 0.01


@pytest.mark.parametrize("point", [(math.nan, 0.5), (0.5, 1.5), "floor"])
def test_bad_points_are_out_of_workspace_and_the_robot_goes_home(ur5e, point):
    sim, ctl = ur5e
    frame = show(sim, (BLOCK,))
    if point == "floor":  # off the table: the floor / background
        rows, cols = np.nonzero(frame.seg == 0)
        assert len(rows), "the agent camera sees some floor"
        h, w = frame.seg.shape
        point = ((cols[0] + 0.5) / w, (rows[0] + 0.5) / h)
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0), place=point), frame)
    assert not r.success and r.failure == "out_of_workspace"
    q = sim.data.qpos[sim.world.robot_qadr][:6]
    assert np.allclose(q, sim.world.home_qpos[:6], atol=0.05)


def test_place_with_an_empty_hand_is_not_holding(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (BLOCK,))
    r = ctl.execute(sim, Action(place=point_at(sim, frame, (0.0, 0.0, TABLE_HEIGHT))), frame)
    assert r.failure == "not_holding"


def test_plate_wider_than_the_gripper_is_not_graspable(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (PLATE,))
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.failure == "not_graspable" and "wide" in r.message


def test_fingers_closing_above_a_flat_sheet_is_grasp_failed(ur5e):
    sim, ctl = ur5e
    sheet = ObjectSpec("box", "red", (0.05, 0.05, 0.002), (-0.1, 0.0, Z))  # under the closed fingertips
    frame = show(sim, (sheet,))
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.failure == "grasp_failed" and not r.grasped and not r.holding


def test_unreachable_place_is_ik_failed(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (BLOCK,))
    far = point_at(sim, frame, (0.3, -0.5, TABLE_HEIGHT))  # far table corner, 1.05 m from the base
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0), place=far), frame)
    assert r.failure == "ik_failed" and r.grasped and not r.placed
    assert not r.holding  # recovery opened the hand


def test_neighbour_in_the_fingers_way_is_a_collision(ur5e):
    sim, ctl = ur5e
    block = ObjectSpec("block", "red", (0.04, 0.04, 0.04), (-0.1, 0.0, Z))
    tower = ObjectSpec("box", "gray", (0.06, 0.06, 0.14), (-0.1, 0.075, Z))
    frame = show(sim, (block, tower))
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.failure == "collision" and "object 1" in r.message and not r.grasped


def test_heavy_object_slips_out_and_is_dropped(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (CAN,))
    body = sim.world.slot_body[0]
    sim.model.body_mass[body] *= 150  # a can of lead: friction cannot hold it
    sim.model.body_inertia[body] *= 150
    qpos = sim.data.qpos.copy()
    mujoco.mj_setConst(sim.model, sim.data)  # mass-dependent constants (resets qpos)
    sim.data.qpos[:] = qpos
    mujoco.mj_forward(sim.model, sim.data)
    try:
        r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    finally:
        sim.set_scene(SceneSpec(robot="ur5e", objects=(CAN,)))  # restores the mass
    assert r.failure == "dropped" and r.grasped and not r.lifted  # closed on it, it stayed down
    assert r.message.startswith("lift:")


def test_blown_up_state_is_unstable(ur5e):
    sim, ctl = ur5e
    frame = show(sim, (BLOCK,))
    sim.data.qvel[sim.world.slot_dadr[0]] = 1e5
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.failure == "unstable" and "speed" in r.message


def test_sim_time_budget_is_timeout():
    sim = Sim("ur5e", n_slots=1)
    frame = show(sim, (BLOCK,))
    ctl = make_controller("ur5e", max_sim_time=0.5)
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.failure == "timeout" and r.sim_time < 10
    sim.close()


def test_every_failure_reason_is_a_known_value():
    assert len(set(FAILURE_REASONS)) == len(FAILURE_REASONS)
    with pytest.raises(ValueError, match="unknown failure"):
        ExecutionResult(robot="ur5e", action="pick", success=False, failure="oops")
    r = ExecutionResult(robot="ur5e", action="pick", success=False, failure="dropped", object_pos=(1, 2, 3))
    assert json.loads(r.to_json())["object_pos"] == [1.0, 2.0, 3.0]


# --- G1 with Dex3 hands ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def g1():
    sim = Sim("g1", n_slots=2)
    yield sim
    sim.close()


@pytest.mark.parametrize("y, arm", [(-0.15, "right"), (0.15, "left")])
def test_g1_physical_pick_and_place_with_the_arm_on_the_target_side(g1, y, arm):
    sim = g1
    ctl = make_controller("g1")
    block = ObjectSpec("block", "red", (0.045, 0.045, 0.045), (-0.3, y, Z))
    frame = show(sim, (block,))
    target = (-0.25, 2 * y, TABLE_HEIGHT)
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0), place=point_at(sim, frame, target)), frame)
    assert r.success and not r.assisted_grasp, r.message
    assert ctl.bind(sim).arm.site == f"robot/{arm}_grasp"
    pos, quat = sim.world.object_pose(sim.data, 0)
    assert math.dist(pos[:2], target[:2]) < 0.04 and tilt_deg(quat) < 10
    assert ctl.bind(sim).hold is None  # physical: the assist never engaged


def test_g1_physical_pick_of_a_wide_object(g1):
    """The thumb swings back to open: an 8.5 cm jar fits between thumb and fingers (no welds)."""
    sim = g1
    ctl = make_controller("g1")
    jar = ObjectSpec("jar", "green", (0.085, 0.085, 0.12), (-0.28, -0.12, Z))
    frame = show(sim, (jar,))
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.success and r.grasped and r.lifted and not r.assisted_grasp, r.message
    assert r.lift_height >= 0.05 and ctl.bind(sim).hold is None
    assert ctl.max_grasp_width >= 0.085


def test_g1_approach_yaw_search_avoids_a_neighbour_under_the_thumb(g1, monkeypatch):
    """A box stands where the open thumb comes down at the default yaw (fingers pointing away
    from the shoulder): the default yaw's planned open hand comes within ``CLEARANCE`` of it (it
    used to land on it and fail the pick, before the 0.35 rad squeeze sometimes still held the
    can); with the yaw search the hand turns and picks the can physically without pushing the box."""
    from roboref.envs.control import g1 as g1_module

    sim = g1
    can = ObjectSpec("can", "blue", (0.063, 0.063, 0.115), (-0.28, -0.12, Z))
    box = ObjectSpec("box", "gray", (0.06, 0.06, 0.10), (-0.38, -0.12, Z))
    frame = show(sim, (can, box))
    r = make_controller("g1").execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.success and r.grasped and r.lifted and not r.assisted_grasp, r.message
    assert math.dist(sim.world.object_pose(sim.data, 1)[0][:2], box.pos[:2]) < 0.005  # not pushed

    monkeypatch.setattr(g1_module, "YAW_OFFSETS", ())  # the default yaw only
    clearances = []
    measure = g1_module.G1Controller.grasp_clearance

    def record(self, *args):
        clearances.append(measure(self, *args))
        return clearances[-1]

    monkeypatch.setattr(g1_module.G1Controller, "grasp_clearance", record)
    frame = show(sim, (can, box))
    make_controller("g1").execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert clearances and max(clearances) < g1_module.CLEARANCE  # every default-yaw plan is too close


def test_g1_assisted_grasp_is_explicit_and_reported(g1):
    sim = g1
    ctl = make_controller("g1", assisted_grasp=True)
    can = ObjectSpec("can", "blue", (0.063, 0.063, 0.115), (-0.25, -0.1, Z))
    frame = show(sim, (can,))
    target = (-0.35, -0.3, TABLE_HEIGHT)
    r = ctl.execute(sim, Action(pick=object_point(sim, frame, 0), place=point_at(sim, frame, target)), frame)
    assert r.success and r.assisted_grasp and r.to_dict()["assisted_grasp"] is True, r.message
    assert math.dist(sim.world.object_pose(sim.data, 0)[0][:2], target[:2]) < 0.04
    assert ctl.bind(sim).hold is None and sim.model.body_gravcomp[sim.world.slot_body[0]] == 0  # released
    assert make_controller("g1").config.assisted_grasp is False  # off by default


def test_g1_far_object_is_ik_failed(g1):
    sim = g1
    block = ObjectSpec("block", "red", (0.045, 0.045, 0.045), (0.2, -0.35, Z))  # 0.9 m from the pelvis
    frame = show(sim, (block,))
    r = make_controller("g1").execute(sim, Action(pick=object_point(sim, frame, 0)), frame)
    assert r.failure == "ik_failed"


def test_g1_carry_via_points_pass_within_the_carry_tolerance():
    """A carry's up and over waypoints are in free space, ``carry_clearance`` above everything:
    missing one by millimetres must not end the place. This seeded coeval placement (oracle
    point) found no carry IK solution within the 2 mm grasp tolerance (residual 0.2 cm); with
    the default ``carry_tolerance`` the object is placed where the point said."""
    import gymnasium as gym

    from roboref.coeval import held_object
    from roboref.envs.control.ik import POS_TOL
    from roboref.envs.tasks.color_category import interior_point

    env = gym.make("roboref/Refer-G1-v0", kinds=["placement"], num_steps=[1, 3], image_size=[224, 224])
    results = {}
    for tol in (POS_TOL, ControlConfig().carry_tolerance):
        env.reset(seed=3100166)
        u = env.unwrapped
        held = held_object(env)
        point = tuple(u.task.point)
        pick = interior_point(u.frame.seg == held + 1)
        ctl = make_controller("g1", carry_tolerance=tol)
        results[tol] = ctl.execute(u.sim, Action(pick=pick, place=point), u.frame)
    env.close()
    strict, default = results[POS_TOL], results[ControlConfig().carry_tolerance]
    assert strict.failure == "ik_failed" and "carry" in strict.message
    assert default.success and default.placed, default.message
    assert default.distance_to_target < ControlConfig().place_radius


# --- PickPlace envs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pick_env():
    import gymnasium as gym

    env = gym.make("roboref/PickPlace-UR5e-v0", num_objects=(4, 6), tasks_per_episode=2)
    yield env
    env.close()


def test_pickplace_env_oracle_pick_succeeds_and_info_is_json(pick_env):
    env = pick_env.unwrapped
    for seed in range(6):  # a seed whose target fits the gripper
        obs, info = pick_env.reset(seed=seed)
        target = env.sim.scene.objects[env.task.target]
        if max(target.size[:2]) < 0.07 and target.category not in ("book", "plate", "bowl"):
            break
    assert pick_env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = pick_env.step(np.array(env.task.point, np.float32))
    assert info["success"] and info["execution"]["lifted"], info["execution"]["message"]
    assert info["reward_terms"]["grasp"] == 1.0 and info["reward_terms"]["point"] == 1.0
    assert not terminated and not truncated  # a second task follows on the same scene
    assert info["execution_return"]["placed"]  # the object was put back where it was
    json.dumps(info)
    assert set(info) >= {"success", "reward_terms", "task", "execution"}
    obs, reward, terminated, truncated, info = pick_env.step(np.array([0.02, 0.02], np.float32))
    assert terminated and not info["success"]
    assert info["execution"]["failure"] == "no_object_at_point"  # the image corner shows floor
    assert "background" in info["execution"]["message"]
    with pytest.raises(RuntimeError, match="reset"):
        pick_env.step(np.array([0.5, 0.5], np.float32))


def test_g1_place_tasks_ask_only_for_places_within_the_arms_reach():
    """PickPlace draws place regions inside the controller's ``reach_area`` (the G1 has one, the
    UR5e reaches its whole workspace): every pixel of a G1 place task's mask lies on table within
    it, while the pick tasks still cover the whole workspace."""
    import gymnasium as gym

    from roboref.envs.camera import unproject
    from roboref.envs.control import G1Controller

    env = gym.make("roboref/PickPlace-G1-v0", mode="pick_place", tasks_per_episode=1)
    u = env.unwrapped
    assert u.place_area() == G1Controller.reach_area
    checked = 0
    for seed in range(6):
        _, info = env.reset(seed=seed)
        _, _, term, trunc, info = env.step(np.asarray(info["task"]["point"][:2], np.float32))
        if term or trunc or not info["success"]:
            continue
        rows, cols = np.nonzero(u.task.mask)
        K, T = u.sim.camera_pose(u.config.camera)
        xyz = unproject(np.column_stack([cols + 0.5, rows + 0.5]), u.frame.depth[rows, cols], K, T)
        (x0, x1), (y0, y1) = G1Controller.reach_area
        on_table = np.abs(xyz[:, 2] - TABLE_HEIGHT) < 0.01
        inside = (xyz[:, 0] >= x0) & (xyz[:, 0] <= x1) & (xyz[:, 1] >= y0) & (xyz[:, 1] <= y1)
        assert inside[on_table].all() and on_table.mean() > 0.5
        checked += 1
    env.close()
    assert checked >= 2
    ur5e_env = gym.make("roboref/PickPlace-UR5e-v0", mode="pick_place")
    assert ur5e_env.unwrapped.place_area() == ur5e_env.unwrapped.scene_config.placement_area
    ur5e_env.close()


def test_pickplace_env_pick_then_place_episode():
    import gymnasium as gym

    env = gym.make("roboref/PickPlace-UR5e-v0", mode="pick_place", num_objects=(4, 6))
    u = env.unwrapped
    for seed in range(10):
        env.reset(seed=seed)
        obs, r, term, trunc, info = env.step(np.array(u.task.point, np.float32))
        if info["success"] and u.task.kind == "placement":
            break
    held = u.scene.objects[u.task.held]
    assert u.task.kind == "placement" and held.category in obs["instruction"]
    assert u.task.spec["held"] == u.task.held  # the task engine's placement program for the held object
    obs, r, term, trunc, info = env.step(np.array(u.task.point, np.float32))
    assert info["success"] and info["execution"]["placed"] and term and not trunc, info["execution"]["message"]
    env.close()


def test_pickplace_env_rejects_bad_options():
    import gymnasium as gym

    with pytest.raises(ValueError, match="mode"):
        gym.make("roboref/PickPlace-G1-v0", mode="juggle")
    with pytest.raises(ValueError, match="unknown env option"):
        gym.make("roboref/PickPlace-UR5e-v0", colour="red")


# --- names from the RobotSpec, state per sim ---------------------------------------------------


def test_controller_takes_its_names_from_the_robot_spec(ur5e):
    """A spec copy whose arm names another site (the flange's) is what the controller drives."""
    from dataclasses import replace

    from roboref.envs.control import UR5eController
    from roboref.envs.robots import get_robot

    sim, _ = ur5e
    spec = get_robot("ur5e")
    flange = replace(spec, arms=(replace(spec.arms[0], site="attachment_site"),))
    b = UR5eController(spec=flange).bind(sim)
    assert b.arm.site == "robot/attachment_site" and b.arm.ik.site == "robot/attachment_site"
    assert make_controller("ur5e").bind(sim).arm.site == "robot/gripper/pinch"


@pytest.mark.parametrize(
    "robot, arm, field, name",
    [
        ("ur5e", 0, "site", "gripper/no_such_site"),
        ("ur5e", 0, "hand_actuators", ("gripper/no_such_actuator",)),
        ("g1", 0, "joints", ("waist_yaw_joint", "right_no_such_joint")),
        ("g1", 0, "palm_body", "right_no_such_link"),
    ],
)
def test_a_name_missing_from_the_model_is_a_clear_error(robot, arm, field, name):
    from dataclasses import replace

    from roboref.envs.control import CONTROLLERS
    from roboref.envs.robots import get_robot

    spec = get_robot(robot)
    arms = list(spec.arms)
    arms[arm] = replace(arms[arm], **{field: name})
    sim = Sim(robot, n_slots=1)
    try:
        with pytest.raises(ValueError, match=rf"robot '{robot}'.*arms\[{arm}\]\.{field}"):
            CONTROLLERS[robot](spec=replace(spec, arms=tuple(arms))).bind(sim)
    finally:
        sim.close()


def test_a_controller_keeps_one_state_per_sim():
    """Holding an object in one sim survives acting in another sim (the state used to be keyed
    on ``id(sim.world)`` and thrown away whenever the controller met another world)."""
    first, second = Sim("ur5e", n_slots=1), Sim("ur5e", n_slots=1)
    ctl = make_controller("ur5e")
    frame = show(first, (BLOCK,))
    r = ctl.execute(first, Action(pick=object_point(first, frame, 0)), frame)
    assert r.success and r.holding, r.message
    other = show(second, (CAN,))
    r = ctl.execute(second, Action(place=point_at(second, other, (0.0, 0.0, TABLE_HEIGHT))), other)
    assert r.failure == "not_holding"  # nothing is held in the second sim
    target = (0.05, -0.05, TABLE_HEIGHT)
    r = ctl.execute(first, Action(place=point_at(first, frame, target)), frame)
    assert r.success and r.action == "place", r.message  # still held in the first sim
    assert math.dist(first.world.object_pose(first.data, 0)[0][:2], target[:2]) < 0.03
    # the state is explicit: one binding per sim, kept on the sim
    assert ctl.bind(first) is first.bindings[ctl] and ctl.bind(second) is second.bindings[ctl]
    assert ctl.bind(first) is not ctl.bind(second)
    with pytest.raises(ValueError, match="g1"):
        make_controller("g1").bind(first)
    first.close()
    second.close()
