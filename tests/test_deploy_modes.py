"""roboref deploy's modes: dry-run moves nothing, sim runs the whole loop and the object moves,
live refuses without its typed confirmation, and refusals move nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from omegaconf import OmegaConf

import roboref.envs  # noqa: F401
from roboref.agents import make_agent
from roboref.cli import compose, main
from roboref.deploy import modes, sim_mode
from roboref.deploy.calibration import camera_from_sim, save_camera
from roboref.deploy.cameras import CameraFrame, FolderCamera, SimCamera
from roboref.deploy.extrinsics import Transform, sim_T_base_cam
from roboref.deploy.grasp import depth_grasp
from roboref.deploy.pipeline import Plan, execute, lift_plan
from roboref.deploy.robots.fake import FakeRobot
from roboref.deploy.robots.sim import SimRobot
from roboref.deploy.safety import SafetyLayer, read_log


def test_dry_run_prints_and_draws_the_plan_and_moves_nothing(tmp_path, capsys):
    assert main(["deploy", "robot=ur5e", "mode=dry-run", "agent=oracle", f"out={tmp_path}"]) == 0
    report = json.loads((tmp_path / "plan.json").read_text())
    plan = report["plan"]
    assert plan["point"] is not None and plan["refusal"] == "" and report["outcome"]["executed"]
    moves = [c for c in report["commands"] if c["command"] == "move_to_pose"]
    assert len(moves) >= 3  # above, down, up
    above, down = np.asarray(moves[0]["T"]), np.asarray(moves[1]["T"])
    assert above[2, 3] > down[2, 3] + 0.05 and np.allclose(above[:2, 3], down[:2, 3], atol=1e-6)
    # the grasp is where the lifted point is (a few cm at most: the object's centre vs its surface)
    assert np.linalg.norm(down[:2, 3] - np.asarray(plan["lifted"]["p_base"])[:2]) < 0.06
    from PIL import Image

    assert Image.open(tmp_path / "plan.png").size == (224, 224)
    assert "nothing moved" in capsys.readouterr().out
    assert all(r["result"] == "ok" for r in read_log(tmp_path / "log.jsonl"))


def _location_env(robot: str):
    return gym.make(f"roboref/Refer-{'UR5e' if robot == 'ur5e' else 'G1'}-v0", kinds=("location",), num_steps=(1, 2))


@pytest.mark.parametrize("robot", ["ur5e", "g1"])
def test_sim_mode_oracle_point_goes_through_noisy_depth_and_the_object_really_moves(tmp_path, robot):
    cfg = compose("deploy", [f"robot={robot}", "mode=sim", "compare_controller=false"])
    env = _location_env(robot)
    agent = make_agent("oracle", env=env)
    try:
        for seed in (4000001, 4000002, 4000014, 4000015):  # a few seeds: grasps fail now and then
            rec = sim_mode.run_episode(env, agent, robot, seed, cfg, tmp_path / "log.jsonl")
            if rec["success"]:
                break
        assert rec["success"], rec["failure"]
        slot = env.unwrapped.task.target
        z = env.unwrapped.sim.world.object_pose(env.unwrapped.sim.data, slot)[0][2]
        assert z > 0.75 + 0.03  # held above the table, in the physics
        assert rec["lift_error_mm"] < 15 and rec["grasp"]["pixels"] > 10
    finally:
        env.close()
    log = read_log(tmp_path / "log.jsonl")
    moves = [r for r in log if r["command"] in ("move_to_pose", "move_joints", "gripper")]
    assert any(r["command"] == "gripper" for r in moves)
    assert all("before" in r and "after" in r for r in moves if r["result"] == "ok")


def test_sim_mode_writes_log_and_summary_and_resumes(tmp_path):
    args = ["deploy", "robot=ur5e", "mode=sim", "agent=oracle", "episodes=2", "kinds=[location]", f"out={tmp_path}"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    cell = summary["ur5e/location"]
    assert summary["episodes"] == 2 and cell["success"]["n"] == 2 and cell["controller_success"]["n"] == 2
    assert cell["lift_error_mm"]["n"] >= 1 and (tmp_path / "log.jsonl").stat().st_size > 0
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    assert main(args) == 0  # resumes: nothing run twice
    assert (tmp_path / "episodes.jsonl").read_text().splitlines() == lines


def test_no_depth_around_the_point_is_refused_and_nothing_moves():
    env = _location_env("ur5e")
    try:
        env.reset(seed=3)
        frame = SimCamera(env, None).read()
        empty = CameraFrame(frame.rgb, np.zeros_like(frame.depth), frame.camera, 0.0)
        fake = FakeRobot()
        layer = SafetyLayer(fake)
        layer.connect()
        p = lift_plan(Plan("x", "location", (0.5, 0.5)), empty, Transform("base", "agent", np.eye(4)), table_z=0.0)
        assert p.refusal.startswith("no_depth") and p.lifted is None
        out = execute(layer, p, table_z=0.0)
        assert not out.ok and out.failure.startswith("no_depth") and fake.commands == []
    finally:
        env.close()


def test_depth_grasp_finds_the_object_under_the_point_in_noisy_depth():
    env = _location_env("ur5e")
    try:
        env.reset(seed=4000002)
        u = env.unwrapped
        robot = SimRobot("ur5e", sim=u.sim)
        frame = SimCamera(env, "realsense", np.random.default_rng(0)).read()
        T = sim_T_base_cam(u.sim, u.config.camera, robot.base_body)
        table_z = 0.75 - robot.T_world_base[2, 3]
        from roboref.envs.tasks.color_category import interior_point

        slot = u.task.target
        g = depth_grasp(interior_point(u.frame.seg == slot + 1), frame.depth, frame.camera, T, table_z)
        pos = u.sim.world.object_pose(u.sim.data, slot)[0]
        T_bw = np.linalg.inv(robot.T_world_base)
        centre = T_bw[:3, :3] @ pos + T_bw[:3, 3]
        assert np.linalg.norm(g.center[:2] - centre[:2]) < 0.025  # the object's centre, from depth alone
        assert g.center[2] > table_z + 0.008
        with pytest.raises(Exception, match="nothing stands above the table"):
            flat = np.where(frame.depth > 0, frame.depth, 0).astype(np.float32)
            flat[:] = np.median(frame.depth[frame.depth > 0])  # a wall facing the camera, nothing on a table
            depth_grasp((0.5, 0.5), flat, frame.camera, T, table_z=10.0)
    finally:
        env.close()


def test_live_needs_the_typed_confirmation_and_a_real_camera(tmp_path):
    cfg = compose("deploy", ["robot=ur5e", "mode=live", "camera=folder", f"frames={tmp_path}", "instruction=x"])
    assert modes.live(cfg, tmp_path, ask=lambda prompt: "yes") == 1  # wrong words: nothing made or moved
    assert not (tmp_path / "log.jsonl").exists()
    with pytest.raises(ValueError, match="real camera"):
        modes.live(OmegaConf.merge(cfg, {"camera": "sim"}), tmp_path, ask=lambda prompt: "move ur5e")
    assert modes.speed_ramp(0) == pytest.approx(0.1)
    assert [round(modes.speed_ramp(i), 2) for i in range(5)] == [0.1, 0.4, 0.7, 1.0, 1.0]


def test_bad_mode_robot_and_camera_get_clear_errors(capsys):
    assert main(["deploy", "mode=fly"]) == 2
    assert "mode must be one of" in capsys.readouterr().err
    assert main(["deploy", "robot=spot"]) == 2
    assert "robot must be one of" in capsys.readouterr().err
    assert main(["deploy", "camera=folder", "instruction=x"]) == 2
    assert "frames=DIR" in capsys.readouterr().err


def test_folder_camera_reads_recorded_frames_with_their_calibration(tmp_path):
    import imageio.v3 as iio

    env = _location_env("ur5e")
    try:
        obs, _ = env.reset(seed=1)
    finally:
        env.close()
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    iio.imwrite(tmp_path / "rgb" / "000.png", obs["rgb"])
    depth = np.where(obs["depth"] < 10.0, obs["depth"], 0.0)  # a sensor reads "no data" far away
    iio.imwrite(tmp_path / "depth" / "000.png", np.round(depth * 1000).astype(np.uint16))
    save_camera(replace(camera_from_sim(obs), depth_scale=0.001), tmp_path / "camera.json")
    cam = FolderCamera(tmp_path)
    frame = cam.read()
    assert np.array_equal(frame.rgb, obs["rgb"])
    assert np.abs(frame.depth - depth).max() < 0.0006  # millimetre PNG, scaled by depth_scale
    with pytest.raises(StopIteration):
        cam.read()


def test_shadow_plans_every_frame_and_sends_no_command(tmp_path):
    cfg = compose("deploy", ["robot=ur5e", "mode=shadow", "agent=oracle", "frames_max=2", f"out={tmp_path}"])
    assert modes.run(cfg) == 0
    recs = [json.loads(line) for line in (tmp_path / "shadow.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in recs] == [0, 1] and all(r["lifted"] for r in recs)
    assert recs[0]["state"]["joints"] == recs[1]["state"]["joints"]  # nothing moved the arm
    assert not (tmp_path / "log.jsonl").exists()  # no command went through a safety layer
    assert (tmp_path / "shadow_0001.png").exists()
