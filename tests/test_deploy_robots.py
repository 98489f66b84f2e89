"""Robot adapters: the MuJoCo stand-in moving real objects through the skills and the safety layer
(both robots), the fake, URRtdeRobot against a stub with ur_rtde's signatures, the Robotiq and
dashboard protocols against socket servers on 127.0.0.1, and UnitreeG1Robot against an in-process
stub of unitree_sdk2py's channels (the SDK itself does not install on Python 3.11 here)."""

import inspect
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from stubs import rtde_stub, unitree_stub
from stubs.ur_servers import DashboardServer, RobotiqServer

import roboref.envs  # noqa: F401 - registers the envs
from roboref.deploy.robots import (
    ConnectionLostError,
    FakeRobot,
    ProtectiveStopError,
    RobotAdapter,
    RobotError,
    UnreachableError,
    from_ur_pose,
    pose_matrix,
    to_ur_pose,
)
from roboref.deploy.robots.robotiq import DashboardReader, RobotiqGripper
from roboref.deploy.robots.sim import SimRobot
from roboref.deploy.robots.ur_rtde import URRtdeRobot
from roboref.deploy.safety import SafetyConfig, SafetyLatched, SafetyLayer, read_log
from roboref.deploy.skills import grasp_yaw, pick_at, place_at
from roboref.envs.camera import unproject
from roboref.envs.control.targets import grasp_pose

DOWN = np.diag([1.0, -1.0, -1.0])


# --- the sim stand-in, end to end -----------------------------------------------------------------
def _target(sim, robot: str):
    """An object that fits the hand, nearest the middle of the robot's reach."""
    best = None
    for k in range(len(sim.scene.objects)):
        g = grasp_pose(sim.world, sim.data, k)
        p = sim.world.object_pose(sim.data, k)[0]
        if g.width > 0.07:
            continue
        d = np.linalg.norm(p[:2] - ([-0.15, 0.0] if robot == "ur5e" else [-0.3, np.sign(p[1]) * 0.15]))
        if best is None or d < best[0]:
            best = (d, k, g)
    return best[1], best[2]


def _depth_points(sim, T_bw: np.ndarray) -> np.ndarray:
    """Every pixel of the agent camera's depth image lifted to 3D, in the robot's base frame."""
    frame = sim.render("agent", rgb=False, depth=True)
    K, T_wc = sim.camera_pose("agent")
    h, w = frame.depth.shape
    v, u = np.mgrid[0:h, 0:w]
    pts = unproject(np.column_stack([u.ravel() + 0.5, v.ravel() + 0.5]), frame.depth.ravel(), K, T_wc)
    return pts @ T_bw[:3, :3].T + T_bw[:3, 3]


@pytest.mark.parametrize(
    ("env_id", "robot"), [("roboref/PickPlace-UR5e-v0", "ur5e"), ("roboref/PickPlace-G1-v0", "g1")]
)
def test_sim_robot_picks_and_places_a_real_scene_object_through_the_safety_layer(tmp_path, env_id, robot):
    env = gym.make(env_id)
    try:
        env.reset(seed=0)
        sim = env.unwrapped.sim
        k, g = _target(sim, robot)
        side = None if robot == "ur5e" else ("right" if g.center[1] < 0 else "left")
        arm = SimRobot(robot, sim, arm=side)
        arm.connect()
        assert isinstance(arm, RobotAdapter)
        T_bw = np.linalg.inv(arm.T_world_base)
        top = (T_bw @ [g.center[0], g.center[1], g.top, 1.0])[:3]  # the object's top, base frame
        table_z = arm.table_z()
        assert table_z == pytest.approx((T_bw @ [0.0, 0.0, 0.75, 1.0])[2])
        cfg = SafetyConfig.from_dict(arm.safety_limits())
        layer = SafetyLayer(arm, cfg, tmp_path / "log.jsonl")
        p0 = sim.world.object_pose(sim.data, k)[0]
        z0 = p0[2]
        yaw = grasp_yaw(_depth_points(sim, T_bw), top, table_z) if robot == "ur5e" else 0.0  # G1: fingers +x
        picked = pick_at(layer, top, yaw=yaw, table_z=table_z)
        lift = sim.world.object_pose(sim.data, k)[0][2] - z0
        assert picked.holding and lift > 0.05, f"object {k} rose {lift:.3f} m"
        dest = top + [0.0, 0.12 if robot == "ur5e" else -np.sign(top[1]) * 0.08, 0.0]
        dest[2] = table_z
        placed = place_at(layer, dest, picked.hold_height)
        at = (T_bw @ [*sim.world.object_pose(sim.data, k)[0], 1.0])[:3]
        assert not placed.holding
        assert np.linalg.norm(at[:2] - dest[:2]) < 0.03, f"placed at {at.round(3)}, asked {dest.round(3)}"
        assert abs(at[2] - (T_bw @ [*p0, 1.0])[2]) < 0.02, "rests on the table at its old height"
        log = read_log(tmp_path / "log.jsonl")
        assert {r["result"] for r in log} == {"ok"} and len(log) >= 10
        assert max(r["args"].get("speed", 0) for r in log if r["command"] == "move_to_pose") <= 0.1
    finally:
        env.close()


def test_sim_robot_refuses_the_unreachable_and_protective_stops_on_the_table():
    arm = SimRobot("ur5e")
    arm.connect()
    far = pose_matrix([1.5, 0.0, 0.3], arm.specs.tool_rotation(0.0))
    assert not arm.reachable(far)
    with pytest.raises(UnreachableError):
        arm.move_to_pose(far, 0.1, 0.5, 10.0)
    for q in arm.specs.ready_path:
        arm.move_joints(q, 1.0, 1.0, 10.0)
    here = arm.state().tcp
    assert here[2, 3] > 0.2 and arm.reachable(here)
    into_table = pose_matrix([here[0, 3], here[1, 3], -0.05], here[:3, :3])  # 5 cm into the table top
    with pytest.raises(ProtectiveStopError, match="table"):
        arm.move_to_pose(into_table, 0.1, 0.5, 20.0)
    assert arm.state().safety == "protective_stop"
    with pytest.raises(ProtectiveStopError):
        arm.move_joints(arm.specs.ready_path[-1], 0.5, 1.0, 10.0)
    arm.operator_clear()
    arm.move_joints(arm.specs.ready_path[-1], 0.5, 1.0, 10.0)
    assert arm.state().tcp[2, 3] > 0.2


def test_sim_robot_gripper_width_is_metric():
    arm = SimRobot("ur5e")
    arm.connect()
    assert arm.state().gripper_width == pytest.approx(0.085, abs=0.003)
    assert arm.gripper(0.04, 0.1, 40.0) == pytest.approx(0.04, abs=0.005)
    assert arm.gripper(0.0, 0.1, 40.0) < 0.003


# --- fake ------------------------------------------------------------------------------------------
def test_fake_records_and_injects():
    fake = FakeRobot()
    with pytest.raises(ConnectionLostError):
        fake.gripper(0.01, 0.1, 20.0)
    fake.connect()
    fake.move_joints(fake.joints + 0.1, 0.5, 1.0, 5.0)
    fake.inject_protective_stop(after=1)
    fake.gripper(0.02, 0.1, 20.0)
    with pytest.raises(ProtectiveStopError):
        fake.move_to_pose(pose_matrix([0.1, -0.3, 0.3], DOWN), 0.1, 0.5, 5.0)
    assert [c[0] for c in fake.commands] == ["gripper", "move_joints", "gripper", "move_to_pose"]
    assert fake.state().safety == "protective_stop"


# --- UR over ur_rtde (stub) -----------------------------------------------------------------------
@pytest.fixture
def ur():
    rtde_stub.CONTROLLERS.clear()
    kw = dict(control_cls=rtde_stub.StubRTDEControlInterface, receive_cls=rtde_stub.StubRTDEReceiveInterface)
    yield lambda **extra: URRtdeRobot("10.0.0.2", retry_delay=0.0, poll=0.0, **kw, **extra)
    rtde_stub.CONTROLLERS.clear()


def test_ur_move_checks_limits_stops_servo_then_moves_with_explicit_speed(ur):
    robot = ur()
    robot.connect()
    ctl = rtde_stub.controller("10.0.0.2")
    T = pose_matrix([0.1, -0.4, 0.3], DOWN)
    robot.move_to_pose(T, 0.08, 0.4, 5.0)
    names = [c[0] for c in ctl.calls]
    i = names.index("moveL")
    assert names[i - 2 : i] == ["isPoseWithinSafetyLimits", "servoStop"]
    assert ctl.calls[i][2:] == (0.08, 0.4, True)
    assert np.allclose(robot.state().tcp, T)
    robot.move_joints(np.zeros(6), 0.3, 0.6, 5.0)
    names = [c[0] for c in ctl.calls]
    assert names[-3:] == ["isJointsWithinSafetyLimits", "servoStop", "moveJ"]
    with pytest.raises(UnreachableError):
        robot.move_to_pose(pose_matrix([1.2, 0.0, 0.3], DOWN), 0.1, 0.5, 5.0)
    assert [c[0] for c in ctl.calls].count("moveL") == 1


def test_ur_connect_retries_then_says_what_to_check(ur):
    rtde_stub.controller("10.0.0.2").fail_connects = 2
    robot = ur(retries=3)
    robot.connect()
    rtde_stub.CONTROLLERS.clear()
    rtde_stub.controller("10.0.0.2").fail_connects = 10
    with pytest.raises(ConnectionLostError, match="after 3 attempts.*Remote Control"):
        ur(retries=3).connect()


def test_ur_protective_stop_mid_move_latches_and_is_never_unlocked(ur, tmp_path):
    robot = ur()
    robot.connect()
    ctl = rtde_stub.controller("10.0.0.2")
    ctl.protective_stop_after = 1
    layer = SafetyLayer(robot, SafetyConfig(), tmp_path / "log.jsonl")
    with pytest.raises(ProtectiveStopError, match="pendant"):
        layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN))
    assert layer.latched and robot.state().safety == "protective_stop"
    with pytest.raises(SafetyLatched):
        layer.reset("op")
    assert not any("unlock" in str(c).lower() for c in ctl.calls)
    ctl.protective_stopped = False  # cleared on the pendant
    layer.reset("op")
    layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN))


def test_ur_connection_lost_mid_move_stops_and_raises(ur):
    robot = ur()
    robot.connect()
    ctl = rtde_stub.controller("10.0.0.2")
    ctl.disconnect_after = 1
    with pytest.raises(ConnectionLostError, match="during moveL"):
        robot.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN), 0.1, 0.5, 5.0)
    assert ctl.calls[-1][0] == "stopL"
    assert robot.state().safety == "disconnected"


def test_ur_shadow_mode_never_makes_a_control_interface(ur):
    robot = ur(read_only=True)
    robot.connect()
    ctl = rtde_stub.controller("10.0.0.2")
    assert [c[0] for c in ctl.calls] == ["RTDEReceiveInterface"]
    assert robot.state().safety == "normal"
    with pytest.raises(RobotError, match="read-only"):
        robot.move_joints(np.zeros(6), 0.1, 0.1, 1.0)


def test_ur_pose_conversion_round_trips():
    p = [0.1, -0.4, 0.3, 2.9, 0.3, -0.1]
    assert np.allclose(to_ur_pose(from_ur_pose(p)), p)


def _real_signature(cls, name: str) -> list[tuple[str, str | None]]:
    """(name, default) pairs from a pybind11 docstring's (last) signature line."""
    doc = getattr(cls, name).__doc__
    lines = [ln for ln in doc.splitlines() if re.match(rf"^(\d+\. )?{name}\(self", ln)]
    sig = lines[-1].split("(", 1)[1].rsplit(") ->", 1)[0]
    out = []
    for part in re.split(r",\s*(?![^\[]*\])", sig)[1:]:
        pname, _, default = part.partition("=")
        out.append((pname.split(":")[0].strip(), default.strip() or None))
    return out


@pytest.mark.parametrize(
    ("module", "real", "stub", "methods"),
    [
        (
            "rtde_control",
            "RTDEControlInterface",
            rtde_stub.StubRTDEControlInterface,
            ["moveL", "moveJ", "moveJ_IK", "servoStop", "stopL", "stopJ", "isPoseWithinSafetyLimits",
             "isJointsWithinSafetyLimits", "getInverseKinematicsHasSolution", "getAsyncOperationProgress",
             "isConnected", "disconnect", "reconnect", "stopScript"],
        ),
        (
            "rtde_receive",
            "RTDEReceiveInterface",
            rtde_stub.StubRTDEReceiveInterface,
            ["getActualQ", "getActualTCPPose", "isProtectiveStopped", "isEmergencyStopped", "isConnected",
             "getTimestamp", "disconnect", "reconnect"],
        ),
    ],
)  # fmt: skip
def test_the_rtde_stub_keeps_ur_rtde_signatures(module, real, stub, methods):
    mod = pytest.importorskip(module)
    cls = getattr(mod, real)
    for name in [*methods, "__init__"]:
        want = _real_signature(cls, name)
        params = list(inspect.signature(getattr(stub, name)).parameters.values())[1:]
        got = [(p.name, None if p.default is inspect.Parameter.empty else p.default) for p in params]
        assert [n for n, _ in got] == [n for n, _ in want], name
        for (n, d), (_, w) in zip(got, want, strict=True):
            if w is not None and not w.startswith("<"):
                assert repr(d) == w or str(d) == w, f"{name}.{n}: {d!r} != {w}"


# --- Robotiq and dashboard over sockets -----------------------------------------------------------
@pytest.fixture
def gripper_server():
    server = RobotiqServer(object_at=150)
    yield server
    server.close()


def test_robotiq_activates_moves_in_metres_and_feels_an_object(gripper_server):
    g = RobotiqGripper("127.0.0.1", gripper_server.port, timeout=1.0, poll=0.0)
    g.connect()
    assert gripper_server.received[:3] == ["GET STA", "SET ACT 0", "GET STA"]
    assert "SET ACT 1" in gripper_server.received and g.get("STA") == 3
    width, held = g.move(0.06, 0.05, 100.0)
    assert width == pytest.approx(0.06, abs=0.0005) and not held
    width, held = g.move(0.0, 0.05, 235.0)
    assert held and g.object_detected()
    assert width == pytest.approx(g.pos_to_width(150), abs=1e-9)
    assert any(line.startswith("SET POS 230 SPE 59 FOR 255 GTO 1") for line in gripper_server.received)
    g.close()


def test_robotiq_errors_are_clear(gripper_server):
    g = RobotiqGripper("127.0.0.1", gripper_server.port, timeout=0.5, poll=0.0)
    g.connect(activate=False)
    with pytest.raises(RobotError, match="not active"):
        g.move(0.02, 0.05, 50.0)
    with pytest.raises(RobotError, match="answered '\\?'"):
        g.get("XYZ")
    gripper_server.drop_connections()
    with pytest.raises(ConnectionLostError):
        g.get("STA")
    with pytest.raises(ConnectionLostError, match="cannot connect"):
        RobotiqGripper("127.0.0.1", 1, timeout=0.2).connect()


def test_dashboard_reader_is_read_only():
    server = DashboardServer(safety="PROTECTIVE_STOP")
    try:
        d = DashboardReader("127.0.0.1", server.port, timeout=1.0)
        d.connect()
        assert d.safety_status() == "PROTECTIVE_STOP" and d.robot_mode() == "RUNNING" and d.remote_control()
        with pytest.raises(ValueError, match="not a read-only query"):
            d.query("unlock protective stop")
        assert "unlock protective stop" not in server.received
        d.close()
    finally:
        server.close()


def test_ur_state_reads_the_gripper_over_its_socket(ur, gripper_server):
    robot = ur(gripper=RobotiqGripper("127.0.0.1", gripper_server.port, timeout=1.0, poll=0.0))
    robot.connect()
    assert robot.gripper(0.0, 0.1, 50.0) == pytest.approx(robot.gripper_dev.pos_to_width(150))
    s = robot.state()
    assert s.holding and s.gripper_width == pytest.approx(robot.gripper_dev.pos_to_width(150))
    robot.close()


# --- vendor imports stay lazy ---------------------------------------------------------------------
def test_importing_roboref_and_the_adapters_needs_no_vendor_package():
    code = (
        "import sys, roboref, roboref.deploy.robots, roboref.deploy.safety, roboref.deploy.skills\n"
        "import roboref.deploy.robots.ur_rtde, roboref.deploy.robots.robotiq\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rtde_control', 'rtde_receive', 'unitree_sdk2py')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unitree_stub_crc_matches_the_sdk():
    """Golden values from unitree_sdk2py's own compiled CRC (utils/lib/crc_amd64.so) on the same
    messages, computed once on this machine."""
    cmd = unitree_stub.LowCmd_()
    assert unitree_stub.CRC().Crc(cmd) == 4262932383
    cmd.motor_cmd[29].q, cmd.motor_cmd[22].q, cmd.motor_cmd[22].kp, cmd.motor_cmd[22].kd = 0.5, -1.25, 60.0, 1.5
    cmd.mode_machine = 5
    assert unitree_stub.CRC().Crc(cmd) == 3471662971


# --- Unitree G1 over the (stubbed) SDK channels ---------------------------------------------------
@pytest.fixture
def g1():
    from roboref.deploy.robots.unitree_g1 import UnitreeG1Robot

    unitree_stub.reset_bus()
    bot = unitree_stub.StubG1(domain=1).start(0.002)

    def make(**kw):
        kw = {"simulated": True, "sdk": unitree_stub.stub_sdk(), "control_dt": 0.005, "ramp_time": 0.05, **kw}
        return UnitreeG1Robot(state_timeout=0.2, connect_timeout=0.5, **kw)

    yield bot, make
    bot.stop()
    unitree_stub.reset_bus()


def test_g1_ramps_the_arm_sdk_weight_and_signs_every_command(g1):
    bot, make = g1
    robot = make()
    assert robot.domain == 1 and make(simulated=False).domain == 0
    robot.connect()
    try:
        assert isinstance(robot, RobotAdapter)
        ramp = bot.weights[: bot.weights.index(1.0) + 1]
        assert len(ramp) >= 5 and ramp[0] < 0.5 and np.all(np.diff(ramp) >= 0)
        q = robot.state().joints
        goal = q.copy()
        goal[6] += 0.3  # the elbow (waist 3 + shoulder 3 first)
        robot.move_joints(goal, 2.0, 4.0, 5.0)
        assert np.allclose(robot.state().joints, goal, atol=0.03)
        assert bot.q[25] == pytest.approx(goal[6], abs=0.03), "right elbow is motor 25"
    finally:
        robot.close()
    assert bot.weights[-1] == 0.0, "close hands the arm back (weight ramped to 0)"
    assert bot.bad_crc == 0 and len(bot.weights) > 20


def test_g1_stub_rejects_a_bad_crc(g1):
    bot, _ = g1
    cmd = unitree_stub.LowCmd_()
    cmd.motor_cmd[29].q = 1.0
    cmd.crc = unitree_stub.CRC().Crc(cmd) ^ 1
    pub = unitree_stub.ChannelPublisher("rt/arm_sdk", unitree_stub.LowCmd_)
    pub.Init()
    pub.Write(cmd)
    assert bot.bad_crc == 1 and not bot.weights


def test_g1_on_the_wrong_dds_domain_says_so(g1):
    _, make = g1
    with pytest.raises(ConnectionLostError, match="DDS domain 0.*the real robot"):
        make(simulated=False).connect()


def test_g1_dex3_commands_in_the_sdk_motor_order(g1):
    from roboref.deploy.robots.dex3 import to_motor_order, width_to_q

    bot, make = g1
    robot = make(arm="left")
    robot.connect()
    try:
        width = robot.gripper(0.0, 1.0, 10.0)
        cmd = bot.hand_cmds["left"][-1]
        want = to_motor_order("left", width_to_q("left", 0.0))
        assert [m.q for m in cmd.motor_cmd] == pytest.approx(list(want))
        assert [m.mode for m in cmd.motor_cmd] == [i | 0x10 for i in range(7)]
        assert width == pytest.approx(0.0, abs=1e-6) and not bot.hand_cmds["right"]
        # left hand: middle before index in the SDK's order
        assert want[3] == width_to_q("left", 0.0)[5]
    finally:
        robot.close()


def test_g1_link_lost_mid_move_stops_and_latches_the_layer(g1, tmp_path):
    bot, make = g1
    robot = make()
    robot.connect()
    layer = SafetyLayer(robot, SafetyConfig(max_joint_jump=3.0), tmp_path / "log.jsonl")
    try:
        bot.drop_after = len(bot.weights) + 5
        goal = robot.state().joints
        goal[6] += 0.8
        with pytest.raises(ConnectionLostError, match="during a move"):
            layer.move_joints(goal, 0.5)
        assert layer.latched
        rec = read_log(tmp_path / "log.jsonl")[-1]
        assert rec["result"] == "error" and rec["after"]["safety"] == "disconnected"
    finally:
        robot.close()


def test_g1_kinematics_match_the_sim_stand_in(g1):
    import mujoco

    _, make = g1
    real = make()
    sim = SimRobot("g1")
    assert real.specs.joint_names == sim.specs.joint_names
    for q in real.specs.ready_path:
        sim.sim.data.qpos[sim.b.arm.qadr] = q
        mujoco.mj_forward(sim.sim.model, sim.sim.data)
        assert np.allclose(real._fk(q), sim.state().tcp, atol=1e-6)
    assert len(real.specs.ready_path) == 2
    T = real._fk(real.specs.ready_path[-1])
    assert T[2, 3] == pytest.approx(0.75 + 0.2 - 0.79, abs=0.003), "palm 20 cm over the table (pelvis frame)"


def test_g1_goes_ready_and_moves_the_palm_in_a_straight_line(g1):
    bot, make = g1
    robot = make()
    robot.connect()
    try:
        for q in robot.specs.ready_path:
            robot.move_joints(q, 3.0, 6.0, 10.0)
        start = robot.state().tcp
        goal = start.copy()
        goal[2, 3] -= 0.04
        robot.move_to_pose(goal, 0.2, 1.0, 10.0)
        end = robot.state().tcp
        assert np.linalg.norm(end[:3, 3] - goal[:3, 3]) < 0.01
        assert bot.bad_crc == 0
    finally:
        robot.close()


def test_g1_shadow_mode_only_listens(g1):
    bot, make = g1
    robot = make(read_only=True)
    robot.connect()
    assert robot.state().safety == "normal" and robot.state().joints.shape == (10,)
    with pytest.raises(RobotError, match="read-only"):
        robot.gripper(0.0, 0.1, 5.0)
    robot.close()
    assert not bot.weights and not bot.hand_cmds["right"]
    fake = FakeRobot(specs=robot.specs)  # a dry run with the G1's specs
    assert fake.state().joints.shape == (10,)


@pytest.mark.hardware
def test_ur_hardware_state_read_only():
    """On a real UR5e: ROBOREF_UR_HOST=<ip> pytest -m hardware (reads only, moves nothing)."""
    import os

    host = os.environ.get("ROBOREF_UR_HOST")
    if not host:
        pytest.skip("set ROBOREF_UR_HOST to the robot's address")
    robot = URRtdeRobot(host, read_only=True)
    robot.connect()
    try:
        s = robot.state()
        assert s.safety in ("normal", "protective_stop", "emergency_stop") and s.joints.shape == (6,)
        assert np.isfinite(s.tcp).all()
    finally:
        robot.close()


@pytest.mark.hardware
def test_g1_hardware_state_read_only():
    """On a real G1 (DDS domain 0): ROBOREF_G1_IFACE=<nic> pytest -m hardware (listens only)."""
    import os

    from roboref.deploy.robots.unitree_g1 import UnitreeG1Robot

    iface = os.environ.get("ROBOREF_G1_IFACE")
    if not iface:
        pytest.skip("set ROBOREF_G1_IFACE to the network interface wired to the robot")
    robot = UnitreeG1Robot(read_only=True, network_interface=iface)
    robot.connect()
    try:
        assert robot.state().safety == "normal"
    finally:
        robot.close()


def test_grasp_yaw_closes_across_the_narrow_side():
    from roboref.deploy.skills import grasp_yaw

    rng = np.random.default_rng(0)
    a = np.radians(30.0)
    local = rng.uniform([-0.05, -0.015, 0.0], [0.05, 0.015, 0.04], (400, 3))  # 10 × 3 cm box top view
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    box = local @ R.T + [0.3, -0.2, 0.0]
    table = np.column_stack([rng.uniform(0.2, 0.4, 200), rng.uniform(-0.3, -0.1, 200), np.zeros(200)])
    yaw = grasp_yaw(np.vstack([box, table]), [0.3, -0.2, 0.04], table_z=0.0)
    assert np.degrees(yaw) == pytest.approx(-60.0, abs=5.0)  # across the 3 cm side, nearest yaw 0
    assert grasp_yaw(np.vstack([box, table]), [0.3, -0.2, 0.04], table_z=0.0, nominal=2.0) == pytest.approx(yaw + np.pi)
    assert grasp_yaw(table, [0.3, -0.2, 0.0], table_z=0.0, nominal=0.7) == 0.7  # nothing above the table
