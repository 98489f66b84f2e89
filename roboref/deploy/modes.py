"""``roboref deploy robot=ur5e|g1 mode=dry-run|shadow|sim|live …``: the four ways to run an agent
towards a robot, from moving nothing to moving hardware.

- ``dry-run``: ``FakeRobot`` behind the safety layer. Prints the plan (the point, the 3D target,
  the poses the skill would command, in order), writes ``plan.png`` (the image with the point)
  and ``plan.json``, and moves nothing.
- ``shadow``: read-only. Only receive interfaces are made (ur_rtde's ``RTDEReceiveInterface``,
  the G1's state subscriber), never a control interface; each camera frame gets a plan, logged
  to ``shadow.jsonl``, so an operator sees what the agent would do.
- ``sim``: the MuJoCo stand-in with noisy sim depth, scored (``roboref.deploy.sim_mode``).
- ``live``: the hardware adapter behind the safety layer, after a typed confirmation, with a
  speed ramp that starts at 10 % of the configured speed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from roboref.deploy.extrinsics import Transform, load_easy_handeye, load_transform
from roboref.deploy.lifting import DepthConfig
from roboref.deploy.pipeline import execute, plan
from roboref.deploy.safety import SafetyConfig, SafetyLayer
from roboref.envs.atomic import write_json_atomic

MODES = ("dry-run", "shadow", "sim", "live")
ROBOTS = ("ur5e", "g1")
CAMERAS = ("sim", "folder", "realsense")


def run(cfg: DictConfig) -> int:
    """The CLI entry point (``configs/deploy.yaml``)."""
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {cfg.mode!r}")
    if cfg.robot not in ROBOTS:
        raise ValueError(f"robot must be one of {ROBOTS}, got {cfg.robot!r}")
    if cfg.camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, got {cfg.camera!r}")
    out = Path(cfg.out)
    if cfg.mode == "sim":
        from roboref.deploy import sim_mode

        summary = sim_mode.run(cfg, cfg.agent, cfg.robot, out)
        _print_sim(summary)
        return 0
    return {"dry-run": dry_run, "shadow": shadow, "live": live}[cfg.mode](cfg, out)


# --- camera, agent and robot for the non-sim modes ----------------------------------------------
class _Scene:
    """Where frames come from, what the agent is asked, and the camera's pose in the base frame."""

    def __init__(self, cfg: DictConfig):
        from roboref.agents import make_agent

        self.cfg, self.env, self.sim_robot = cfg, None, None
        if cfg.camera == "sim":
            import gymnasium as gym

            import roboref.envs  # noqa: F401
            from roboref.deploy.cameras import SimCamera
            from roboref.deploy.extrinsics import sim_T_base_cam
            from roboref.deploy.robots.sim import SimRobot
            from roboref.envs import env_id

            self.env = gym.make(env_id("refer", cfg.robot), image_size=tuple(cfg.image_size))
            self.obs, _ = self.env.reset(seed=int(cfg.seed))
            self.source = SimCamera(self.env, cfg.depth_noise, np.random.default_rng(int(cfg.seed)))
            self.sim_robot = SimRobot(cfg.robot, sim=self.env.unwrapped.sim)
            camera = self.env.unwrapped.config.camera
            self.T_base_cam = sim_T_base_cam(self.env, camera, self.sim_robot.base_body)
            self.instruction = cfg.instruction or self.env.unwrapped.task.instruction
            self.kind = cfg.kind or self.env.unwrapped.task.kind
        else:
            if not cfg.instruction:
                raise ValueError(f"camera={cfg.camera} needs instruction='…' (the sim gives its task's)")
            self.source = _real_camera(cfg)
            self.instruction, self.kind, self.T_base_cam = cfg.instruction, cfg.kind or "location", None
        self.agent = make_agent(cfg.agent, env=self.env, seed=int(cfg.seed))

    def base_cam(self, robot: Any) -> Transform:
        """``T_base_cam``: the sim's, or the extrinsics file's (eye-in-hand composes with the TCP)."""
        if self.T_base_cam is not None:
            return self.T_base_cam
        return extrinsics(self.cfg, robot.state().tcp if robot is not None else None)

    def observation(self, frame) -> dict | None:
        if self.env is None:
            return None
        return {**self.obs, "depth": frame.depth}

    def close(self) -> None:
        self.source.close()
        if self.env is not None:
            self.env.close()


def _real_camera(cfg: DictConfig):
    from roboref.deploy.cameras import FolderCamera, RealSenseCamera

    if cfg.camera == "folder":
        if not cfg.frames:
            raise ValueError("camera=folder needs frames=DIR (rgb/*.png, depth/*.png, camera.yaml)")
        return FolderCamera(cfg.frames, cfg.calibration or None)
    return RealSenseCamera(*cfg.stream)


def extrinsics(cfg: DictConfig, T_base_tcp: np.ndarray | None = None) -> Transform:
    """The camera's pose in the base frame from ``cfg.extrinsics``: an easy_handeye YAML
    (eye-on-hand composes ``T_base_tcp · T_tcp_cam``) or a 4×4 JSON/npy ``T_base_cam``."""
    if not cfg.extrinsics:
        raise ValueError("a real camera needs extrinsics=FILE (easy_handeye YAML, or a 4x4 T_base_cam JSON/npy)")
    path = Path(cfg.extrinsics)
    if path.suffix.lower() in (".yaml", ".yml"):
        he = load_easy_handeye(path)
        return he.T_base_cam(None if T_base_tcp is None else Transform("base", "tcp", T_base_tcp))
    return load_transform(path)


def hardware(cfg: DictConfig, read_only: bool):
    """The robot's hardware adapter (vendor SDKs are imported here, behind their extras)."""
    if cfg.robot == "ur5e":
        from roboref.deploy.robots.robotiq import RobotiqGripper
        from roboref.deploy.robots.ur_rtde import URRtdeRobot

        if not cfg.host:
            raise ValueError("robot=ur5e needs host=IP (the controller's address)")
        gripper = None if read_only else RobotiqGripper(cfg.host)
        return URRtdeRobot(cfg.host, gripper=gripper, read_only=read_only)
    from roboref.deploy.robots.unitree_g1 import UnitreeG1Robot

    return UnitreeG1Robot(arm=cfg.arm, simulated=bool(cfg.dds_simulated), network_interface=cfg.network_interface)


def _safety(cfg: DictConfig) -> SafetyConfig:
    return SafetyConfig.from_dict(OmegaConf.to_container(cfg.safety, resolve=True) if cfg.safety else None)


# --- modes ---------------------------------------------------------------------------------------
def dry_run(cfg: DictConfig, out: Path) -> int:
    """Plan on one frame, run the skill on ``FakeRobot`` behind the safety layer, show it all."""
    from roboref.deploy.robots.fake import FakeRobot
    from roboref.deploy.robots.sim import SimRobot
    from roboref.deploy.skills import go_ready

    out.mkdir(parents=True, exist_ok=True)
    scene = _Scene(cfg)
    try:
        frame = scene.source.read()
        depth = DepthConfig(**dict(cfg.depth or {}))
        sim = scene.sim_robot
        table_z = sim.table_z() if sim is not None else (cfg.safety or {}).get("table_min_z")
        p = plan(
            scene.agent,
            frame,
            scene.instruction,
            scene.kind,
            scene.base_cam(sim),
            depth,
            scene.observation(frame),
            table_z,
        )
        if sim is not None:
            if cfg.robot == "g1" and p.lifted is not None:  # the arm on the target's side
                sim = SimRobot("g1", sim=sim.sim, arm="left" if p.lifted.p_base[1] > 0 else "right")
            # A fake has no kinematics: start it where the stand-in stands after its ready path
            # (run in the sim), so the safety layer's jump and cone checks see real poses.
            sim.connect()
            go_ready(sim)
            st = sim.state()
            fake = FakeRobot(specs=replace(sim.specs, ready_path=()), joints=st.joints, tcp=st.tcp)
            limits = _sim_safety(cfg, sim)
        else:
            fake, limits = FakeRobot(), _safety(cfg)
        layer = SafetyLayer(fake, limits, out / "log.jsonl")
        layer.connect()
        result = execute(layer, p, table_z, hold_height=0.05 if p.kind == "placement" else None)
        poses = [c for c in fake.commands if c[0] in ("move_to_pose", "move_joints", "gripper")]
        report = {"mode": "dry-run", "robot": cfg.robot, "plan": p.to_dict(), "outcome": result.to_dict()}
        report["commands"] = [{"command": name, **args} for name, args in poses]
        write_json_atomic(out / "plan.json", report)
        _draw(frame.rgb, p, out / "plan.png")
        _print_plan(report, out)
    finally:
        scene.close()
    return 0


def _sim_safety(cfg: DictConfig, robot: Any) -> SafetyConfig:
    from roboref.deploy.sim_mode import safety_for

    return safety_for(robot, OmegaConf.to_container(cfg.safety, resolve=True) if cfg.safety else None)


def shadow(cfg: DictConfig, out: Path) -> int:
    """Plans on ``cfg.frames_max`` camera frames with a read-only robot connection; moves nothing."""
    out.mkdir(parents=True, exist_ok=True)
    scene = _Scene(cfg)
    robot = scene.sim_robot if scene.sim_robot is not None else hardware(cfg, read_only=True)
    robot.connect()
    depth = DepthConfig(**dict(cfg.depth or {}))
    try:
        with open(out / "shadow.jsonl", "a") as fh:
            for i in range(int(cfg.frames_max)):
                try:
                    frame = scene.source.read()
                except StopIteration:
                    break
                p = plan(
                    scene.agent,
                    frame,
                    scene.instruction,
                    scene.kind,
                    scene.base_cam(robot),
                    depth,
                    scene.observation(frame),
                )
                rec = {"frame": i, "stamp": frame.stamp, "state": robot.state().to_dict(), **p.to_dict()}
                fh.write(json.dumps(rec, default=_json) + "\n")
                fh.flush()
                _draw(frame.rgb, p, out / f"shadow_{i:04d}.png")
                target = "refused: " + p.refusal if p.refusal else f"target {np.round(p.lifted.p_base, 3).tolist()} m"
                print(f"[shadow] frame {i}: point {p.point} -> {target}", flush=True)
    finally:
        robot.close()
        scene.close()
    return 0


def live(cfg: DictConfig, out: Path, ask=input) -> int:
    """The hardware adapter, behind the safety layer, after the operator types the robot's name."""
    out.mkdir(parents=True, exist_ok=True)
    if cfg.camera == "sim":
        raise ValueError("mode=live moves hardware: it needs a real camera (camera=realsense or camera=folder)")
    word = f"move {cfg.robot}"
    print(f"mode=live will move the real {cfg.robot}. Workspace and limits: {dict(cfg.safety or {})}")
    if not sys.stdin.isatty() and ask is input:
        raise ValueError("mode=live needs an operator at a terminal to confirm")
    if ask(f"type '{word}' to continue: ").strip() != word:
        print("not confirmed; nothing moved")
        return 1
    scene = _Scene(cfg)
    layer = SafetyLayer(hardware(cfg, read_only=False), _safety(cfg), out / "log.jsonl")
    layer.connect()
    depth = DepthConfig(**dict(cfg.depth or {}))
    try:
        for i in range(int(cfg.episodes)):
            frac = speed_ramp(i, float(cfg.ramp_start), float(cfg.ramp_step))
            frame = scene.source.read()
            p = plan(scene.agent, frame, scene.instruction, scene.kind, scene.base_cam(layer), depth)
            res = execute(layer, p, speed=frac * layer.config.tcp_speed)
            print(f"[live] {i}: speed {frac:.0%}, point {p.point}: {'done' if res.ok else res.failure}", flush=True)
            if layer.latched:
                print(f"[live] safety layer latched: {layer.latch_reason}; an operator must reset it")
                return 1
    finally:
        layer.close()
        scene.close()
    return 0


def speed_ramp(i: int, start: float = 0.1, step: float = 0.3) -> float:
    """The fraction of the configured speed for the ``i``-th live execution: ``start`` first."""
    if not 0 < start <= 1 or step < 0:
        raise ValueError(f"ramp_start must be in (0, 1] and ramp_step >= 0, got {start}, {step}")
    return min(1.0, start + i * step)


# --- output --------------------------------------------------------------------------------------
def _draw(rgb: np.ndarray, p, path: Path) -> None:
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.ascontiguousarray(rgb))
    if p.point is not None:
        d = ImageDraw.Draw(img)
        x, y = p.point[0] * img.width, p.point[1] * img.height
        r = max(3, img.width // 60)
        d.ellipse([x - r, y - r, x + r, y + r], outline=(255, 0, 0) if p.refusal else (0, 255, 0), width=2)
    img.save(path)


def _json(v: Any) -> Any:
    return v.tolist() if isinstance(v, np.ndarray) else str(v)


def _print_plan(report: dict, out: Path) -> None:
    p = report["plan"]
    print(f"instruction: {p['instruction']}  ({p['kind']})")
    print(f"point: {p['point']}  text: {p['text'][:80]!r}")
    if p["lifted"]:
        lp = p["lifted"]
        print(
            f"pixel {np.round(lp['pixel'], 1).tolist()}, depth {lp['depth']:.3f} m "
            f"-> base {np.round(lp['p_base'], 3).tolist()}"
        )
    if p["refusal"]:
        print(f"refused: {p['refusal']}")
    for c in report["commands"]:
        if c["command"] == "move_to_pose":
            print(f"  move_to_pose xyz {np.round(np.asarray(c['T'])[:3, 3], 3).tolist()} speed {c['speed']}")
        else:
            print(f"  {c['command']} { ({k: v for k, v in c.items() if k != 'command'}) }")
    print(f"outcome: {report['outcome']}; nothing moved (FakeRobot). plan.png and plan.json in {out}")


def _print_sim(summary: dict) -> None:
    from roboref.stats import format_rate

    print("| robot/kind | success | pointing | controller | lift error median / p95 (mm) |")
    print("|---|---|---|---|---|")
    for key, cell in summary.items():
        if not isinstance(cell, dict) or "success" not in cell:
            continue
        lift = cell.get("lift_error_mm")
        ctrl = format_rate(cell["controller_success"]) if "controller_success" in cell else "—"
        err = f"{lift['median']:.1f} / {lift['p95']:.1f}" if lift else "—"
        print(f"| {key} | {format_rate(cell['success'])} | {format_rate(cell['pointing'])} | {ctrl} | {err} |")
