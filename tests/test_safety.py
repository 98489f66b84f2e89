"""The safety layer refuses, clamps, detects the joint wrap, latches on stops and lost links, and logs
every command with the state before and after. Driven through ``FakeRobot`` (a recording fake of a
robot, no hardware)."""

import json
import math
import threading

import numpy as np
import pytest

from roboref.deploy.robots import (
    PROTECTIVE_STOP,
    ConnectionLostError,
    FakeRobot,
    ProtectiveStopError,
    RobotError,
    UnreachableError,
    pose_matrix,
)
from roboref.deploy.safety import SafetyConfig, SafetyLatched, SafetyLayer, SafetyViolation, read_log

DOWN = np.diag([1.0, -1.0, -1.0])  # tool z pointing down


@pytest.fixture
def rig(tmp_path):
    robot = FakeRobot()
    robot.connect()
    cfg = SafetyConfig(workspace_min=(-0.6, -0.7, 0.0), workspace_max=(0.6, 0.0, 0.6), table_min_z=0.02)
    return robot, SafetyLayer(robot, cfg, tmp_path / "log.jsonl"), tmp_path / "log.jsonl"


def sent(robot, name=None):
    return [c for c in robot.commands if name is None or c[0] == name]


def test_a_good_move_goes_through_and_is_logged_with_state_before_and_after(rig):
    robot, layer, log = rig
    T = pose_matrix([0.1, -0.4, 0.3], DOWN)
    layer.move_to_pose(T)
    assert len(sent(robot, "move_to_pose")) == 1
    assert np.allclose(robot.tcp, T)
    (rec,) = read_log(log)
    assert rec["command"] == "move_to_pose" and rec["result"] == "ok"
    assert rec["before"]["tcp_xyz"] == pytest.approx([0.0, -0.45, 0.35])
    assert rec["after"]["tcp_xyz"] == pytest.approx([0.1, -0.4, 0.3])


@pytest.mark.parametrize(
    ("T", "limit"),
    [
        (pose_matrix([np.nan, -0.4, 0.3], DOWN), "finite"),
        (pose_matrix([0.1, -0.4, np.inf], DOWN), "finite"),
        (pose_matrix([0.7, -0.4, 0.3], DOWN), "workspace_x"),
        (pose_matrix([0.1, 0.1, 0.3], DOWN), "workspace_y"),
        (pose_matrix([0.1, -0.4, 0.01], DOWN), "table_min_z"),
        (pose_matrix([0.1, -0.4, 0.3], np.diag([1.0, 2.0, -1.0])), "rigid"),
        (pose_matrix([0.1, -0.4, 0.3], np.eye(3)), "cone_angle"),  # tool pointing up
    ],
)
def test_bad_targets_raise_with_the_limit_and_nothing_is_sent(rig, T, limit):
    robot, layer, log = rig
    with pytest.raises(SafetyViolation) as e:
        layer.move_to_pose(T)
    assert e.value.limit == limit
    assert not sent(robot, "move_to_pose")
    rec = read_log(log)[-1]
    assert rec["result"] == "refused" and rec["limit"] == limit


def test_table_limit_reports_the_value_and_the_bound(rig):
    _, layer, _ = rig
    with pytest.raises(SafetyViolation) as e:
        layer.move_to_pose(pose_matrix([0.1, -0.4, 0.01], DOWN))
    assert (e.value.value, e.value.bound) == (0.01, 0.02)
    assert "0.01" in str(e.value) and "0.02" in str(e.value)


def test_too_large_a_jump_and_an_unreachable_target_are_refused(rig):
    robot, layer, _ = rig
    robot.inject_unreachable(lambda T: T[0, 3] > 0.2)
    with pytest.raises(SafetyViolation) as e:
        layer.move_to_pose(pose_matrix([0.25, -0.4, 0.3], DOWN))
    assert e.value.limit == "reachable"
    layer.config = SafetyConfig(
        workspace_min=(-0.6, -0.7, 0.0), workspace_max=(0.6, 0.0, 0.6), table_min_z=0.02, max_jump=0.1
    )
    with pytest.raises(SafetyViolation) as e:
        layer.move_to_pose(pose_matrix([-0.2, -0.45, 0.35], DOWN))
    assert e.value.limit == "max_jump" and e.value.value == pytest.approx(0.2)
    assert not sent(robot, "move_to_pose")


def test_speeds_accelerations_and_force_are_clamped_to_the_config(rig):
    robot, layer, log = rig
    layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN), speed=1.0, accel=5.0)
    (_, kw) = sent(robot, "move_to_pose")[0]
    assert kw["speed"] == 0.1 and kw["accel"] == 0.5
    assert read_log(log)[-1]["clamped"] == {"tcp_speed": [1.0, 0.1], "tcp_accel": [5.0, 0.5]}
    layer.gripper(0.02, 0.1, force=500.0)
    assert sent(robot, "gripper")[-1][1]["force"] == 60.0
    layer.move_joints(robot.joints + 0.1, speed=3.0)
    assert sent(robot, "move_joints")[-1][1]["speed"] == 0.5


def test_the_tcp_speed_hard_cap_cannot_be_configured_away():
    with pytest.raises(ValueError, match="hard cap"):
        SafetyConfig(tcp_speed=0.3)
    assert SafetyConfig().tcp_speed == 0.1


def test_joint_wrap_refuses_the_long_way_round_a_wrist(rig):
    robot, layer, log = rig
    robot.joints[5] = 6.0  # wrist 3 near +2π
    q = robot.joints.copy()
    q[5] = -0.2  # the same angle as 6.08, reached by turning back 6.2 rad
    with pytest.raises(SafetyViolation) as e:
        layer.move_joints(q)
    assert e.value.limit == "joint_wrap[wrist_3]"
    assert e.value.value == pytest.approx(-6.2)
    assert "short way turns +0.083" in str(e.value)
    assert not sent(robot, "move_joints")
    q[5] = 6.1  # the short way
    layer.move_joints(q)
    assert len(sent(robot, "move_joints")) == 1


def test_joint_targets_outside_limits_or_not_finite_are_refused(rig):
    robot, layer, _ = rig
    q = robot.joints.copy()
    q[2] = 7.0
    with pytest.raises(SafetyViolation, match="joint_limit"):
        layer.move_joints(q)
    q[2] = np.nan
    with pytest.raises(SafetyViolation, match="finite"):
        layer.move_joints(q)
    with pytest.raises(SafetyViolation, match="gripper_range"):
        layer.gripper(0.2)
    assert not sent(robot, "move_joints") and not sent(robot, "gripper")


def test_a_protective_stop_latches_until_an_operator_clears_it_and_resets(rig):
    robot, layer, log = rig
    robot.inject_protective_stop()
    with pytest.raises(ProtectiveStopError):
        layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN))
    assert layer.latched and robot.safety == PROTECTIVE_STOP
    assert sent(robot, "stop"), "the layer sends a stop"
    n = len(sent(robot))
    with pytest.raises(SafetyLatched):
        layer.move_to_pose(pose_matrix([0.1, -0.4, 0.25], DOWN))
    with pytest.raises(SafetyLatched):
        layer.gripper(0.0)
    assert len(sent(robot)) == n, "nothing is sent while latched"
    with pytest.raises(SafetyLatched, match="still reports"):
        layer.reset("alice")  # the robot is still stopped: clearing it is done on the robot
    robot.operator_clear()
    layer.reset("alice")
    layer.move_to_pose(pose_matrix([0.1, -0.4, 0.25], DOWN))
    results = [(r["command"], r["result"]) for r in read_log(log)]
    assert results == [
        ("move_to_pose", "error"),
        ("move_to_pose", "refused"),
        ("gripper", "refused"),
        ("reset", "refused"),
        ("reset", "ok"),
        ("move_to_pose", "ok"),
    ]


def test_a_connection_lost_mid_move_stops_latches_and_keeps_the_record(rig):
    robot, layer, log = rig
    robot.inject_disconnect(after=1, mid_move=True)
    layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN))
    with pytest.raises(ConnectionLostError):
        layer.move_to_pose(pose_matrix([0.1, -0.2, 0.3], DOWN))
    assert layer.latched and "connection lost" in layer.latch_reason
    assert robot.tcp[1, 3] == pytest.approx(-0.3), "the fake stopped half-way"
    assert sent(robot, "stop")
    rec = [r for r in read_log(log) if r["command"] == "move_to_pose"][-1]
    assert rec["result"] == "error" and "ConnectionLostError" in rec["error"]
    assert rec["before"]["tcp_xyz"][1] == pytest.approx(-0.4)
    assert rec["after"]["safety"] == "disconnected"
    with pytest.raises(SafetyLatched):
        layer.move_to_pose(pose_matrix([0.1, -0.2, 0.3], DOWN))
    robot.connect()  # the link is back, but the latch holds until an operator resets it
    with pytest.raises(SafetyLatched):
        layer.move_to_pose(pose_matrix([0.1, -0.2, 0.3], DOWN))
    layer.reset("bob")
    layer.move_to_pose(pose_matrix([0.1, -0.2, 0.3], DOWN))


def test_an_unreachable_error_from_the_robot_is_logged_and_does_not_latch(rig):
    robot, layer, log = rig

    def plan_fails(T, speed, accel, timeout, linear=True):
        raise UnreachableError("no path")  # the end pose is reachable, the way there is not

    robot.move_to_pose = plan_fails
    with pytest.raises(UnreachableError):
        layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN))
    assert not layer.latched
    assert read_log(log)[-1]["result"] == "error"


def test_a_stop_reported_before_a_command_latches_and_sends_nothing(rig):
    robot, layer, _ = rig
    robot.safety = PROTECTIVE_STOP
    with pytest.raises(SafetyLatched):
        layer.move_to_pose(pose_matrix([0.1, -0.4, 0.3], DOWN))
    assert layer.latched and not sent(robot, "move_to_pose")


def test_config_from_a_dict_and_yaml_with_clear_errors(tmp_path):
    cfg = SafetyConfig.from_dict({"table_min_z": 0.01, "cone_angle_deg": 30, "workspace_min": [-1, -1, 0]})
    assert cfg.cone_angle == pytest.approx(math.radians(30)) and cfg.workspace_min == (-1.0, -1.0, 0.0)
    with pytest.raises(ValueError, match="unknown keys \\['tcp_sped'\\]"):
        SafetyConfig.from_dict({"tcp_sped": 0.1})
    with pytest.raises(ValueError, match="workspace_min"):
        SafetyConfig.from_dict({"workspace_min": [0, 0, 0], "workspace_max": [0, 1, 1]})
    path = tmp_path / "safety.yaml"
    path.write_text("tcp_speed: 0.05\ngripper_force_max: 20\n")
    assert SafetyConfig.from_yaml(path).tcp_speed == 0.05


def test_log_lines_stay_whole_with_concurrent_writers(tmp_path):
    log = tmp_path / "log.jsonl"
    layers = []
    for _ in range(4):
        r = FakeRobot()
        r.connect()
        layers.append(SafetyLayer(r, SafetyConfig(), log))

    def work(layer):
        for i in range(25):
            layer.gripper(0.01 + i * 0.001)

    threads = [threading.Thread(target=work, args=(la,)) for la in layers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = log.read_text().splitlines()
    assert len(lines) == 100
    assert all(json.loads(line)["command"] == "gripper" for line in lines)


def test_the_watchdog_stops_and_latches_a_command_that_overruns_its_time(tmp_path):
    import time

    class SlowFake(FakeRobot):  # a robot that ignores the timeout it is given
        def move_to_pose(self, T, speed, accel, timeout, linear=True):
            time.sleep(timeout + 0.3)
            super().move_to_pose(T, speed, accel, timeout, linear)

    robot = SlowFake()
    robot.connect()
    cfg = SafetyConfig(tcp_speed=0.25, tcp_accel=10.0, watchdog=0.1)
    layer = SafetyLayer(robot, cfg, tmp_path / "log.jsonl")
    with pytest.raises(RobotError, match="watchdog"):
        layer.move_to_pose(pose_matrix([0.0, -0.4, 0.35], DOWN))
    assert layer.latched and sent(robot, "stop")
    assert read_log(tmp_path / "log.jsonl")[-1]["error"].startswith("RobotError: watchdog")
