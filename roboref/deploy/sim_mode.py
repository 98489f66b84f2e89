"""``roboref deploy mode=sim``: the whole deploy loop on the MuJoCo stand-in, scored.

Each episode is a seeded ``Refer`` env task. The agent sees the agent camera's RGB with
RealSense-like noisy depth (``roboref.envs.sensors``); its point is lifted through that depth and
the sim camera's calibration into the robot's base frame, and ``SimRobot`` behind the
``SafetyLayer`` executes it with the deploy skills (location: pick the object; placement: first
pick the object to move at its oracle point, then put it down at the agent's point). Success is
what happened in the physics: the target object is lifted off the table, or the moved object
rests upright within 3 cm of the target point inside the referred region.

Ground truth beside each record: the lift error (mm) against the exact 3D point under the same
pixel, and with ``compare_controller`` the plain controller's success on the same point (the
controller of ``roboref coeval``, which sees exact depth and no safety layer). Records append to
``episodes.jsonl`` (a rerun resumes), the safety layer's command log to ``log.jsonl``, and the
rates to ``summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from roboref.deploy.cameras import SimCamera
from roboref.deploy.extrinsics import sim_T_base_cam
from roboref.deploy.lifting import DepthConfig
from roboref.deploy.pipeline import Plan, execute, lift_plan, plan
from roboref.deploy.safety import SafetyConfig, SafetyLayer
from roboref.envs.atomic import write_json_atomic
from roboref.results import append_records, read_results, repair_tail
from roboref.stats import rate

LIFTED = 0.03  # m the target must rise for a pick to count
PLACED = 0.03  # m from the target point a placed object may rest


def safety_for(robot: Any, overrides: dict | None) -> SafetyConfig:
    """Limits for a sim cell: the robot's workspace over the table (``SimRobot.safety_limits``),
    with a jump allowance from the ready pose to the farthest table corner."""
    return SafetyConfig.from_dict({**robot.safety_limits(), "max_jump": 0.9, **(overrides or {})})


def _object_pos(sim: Any, slot: int) -> np.ndarray:
    return sim.world.object_pose(sim.data, slot)[0].copy()


def _exact_base_point(u: Any, robot: Any, point) -> np.ndarray:
    """The exact 3D point under ``point`` (renderer depth), in the base frame: the lift's truth."""
    from roboref.envs.camera import point_to_pixel, unproject

    frame, (K, T) = u.frame, u.sim.camera_pose(u.config.camera)
    h, w = frame.depth.shape
    col, row = point_to_pixel(point, w, h)
    p = unproject(np.array([[point[0] * w, point[1] * h]]), frame.depth[row : row + 1, col], K, T)[0]
    T_bw = np.linalg.inv(robot.T_world_base)
    return T_bw[:3, :3] @ p + T_bw[:3, 3]


def run_episode(
    env: Any, agent: Any, robot_name: str, seed: int, cfg: Any, log_path: Path, controller: Any = None
) -> dict:
    """One scored deploy episode on ``env`` (a ``Refer`` env of ``robot_name``); ``controller``
    (made once per run) is the plain controller ``compare_controller`` runs."""
    from roboref.coeval import held_object
    from roboref.deploy.robots.sim import SimRobot
    from roboref.envs.tasks.color_category import interior_point

    obs, _ = env.reset(seed=seed)
    u = env.unwrapped
    task, kind = u.task, u.task.kind
    camera = SimCamera(env, cfg.depth_noise, np.random.default_rng(seed))
    frame = camera.read()
    robot = SimRobot(robot_name, sim=u.sim)
    T_base_cam = sim_T_base_cam(u.sim, u.config.camera, robot.base_body)
    depth_cfg = DepthConfig(**dict(cfg.get("depth") or {}))
    table_z = robot.table_z()
    rec: dict[str, Any] = {"key": f"{robot_name}/{seed}", "seed": seed, "robot": robot_name, "kind": kind}
    t0 = time.perf_counter()
    noisy = {**obs, "depth": frame.depth}
    p = plan(agent, frame, task.instruction, kind, T_base_cam, depth_cfg, observation=noisy, table_z=table_z)
    rec.update(p.to_dict())
    if p.point is not None:
        h, w = task.mask.shape
        rec["pointing"] = bool(task.mask[min(int(p.point[1] * h), h - 1), min(int(p.point[0] * w), w - 1)])
        if p.lifted is not None:
            truth = _exact_base_point(u, robot, p.point)
            rec["lift_error_mm"] = round(1e3 * float(np.linalg.norm(p.lifted.p_base - truth)), 2)
    hold = None
    slot = task.target if kind == "location" else held_object(env)
    grab = None
    if kind == "placement" and not p.refusal:
        if slot < 0:
            p.refusal = "nothing_to_place: no small movable object in the scene"
        else:  # the object to move, picked at its oracle point through the same pipeline
            at = interior_point(u.frame.seg == slot + 1)
            grab = lift_plan(Plan("", "location", at), frame, T_base_cam, depth_cfg, table_z)
    first = grab or p
    if robot_name == "g1" and first.lifted is not None:  # the arm on the target's side
        robot = SimRobot(robot_name, sim=u.sim, arm="left" if first.lifted.p_base[1] > 0 else "right")
    layer = SafetyLayer(robot, safety_for(robot, cfg.get("safety")), log_path)
    layer.connect()
    if grab is not None:
        got = execute(layer, grab, table_z)
        rec["pre_pick"] = {**got.to_dict(), "grasp": None if grab.grasp is None else grab.grasp.to_dict()}
        if got.ok and got.skill.holding:
            hold = got.skill.hold_height
        else:
            p.refusal = f"pre_pick_failed: {got.failure or 'the object was not held'}"
    before = _object_pos(u.sim, slot) if slot >= 0 else None
    out = execute(layer, p, table_z, hold_height=hold)
    rec.update(out.to_dict())
    rec["success"], rec["failure"] = _judge(u, robot, kind, slot, before, p, out, rec)
    rec["latched"] = layer.latched
    rec["wall_time"] = round(time.perf_counter() - t0, 2)
    if cfg.get("compare_controller") and p.point is not None:
        rec["controller_success"] = _controller_success(env, kind, p.point, seed, controller)
    return rec


def _judge(u: Any, robot: Any, kind: str, slot: int, before, p: Plan, out, rec: dict) -> tuple[bool, str]:
    if not out.ok:
        return False, out.failure
    if slot < 0:
        return False, "no_object"
    pos, quat = u.sim.world.object_pose(u.sim.data, slot)
    if kind == "location":
        ok = bool(pos[2] - before[2] > LIFTED and out.skill.holding)
        return ok, "" if ok else "not_lifted"
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    T_wb = robot.T_world_base
    goal = T_wb[:3, :3] @ p.lifted.p_base + T_wb[:3, 3]
    dist = float(np.linalg.norm(pos[:2] - goal[:2]))
    rec["place_error_mm"] = round(1e3 * dist, 1)
    ok = bool(rec.get("pointing") and mat[8] > np.cos(np.radians(20)) and dist < PLACED)
    return ok, "" if ok else ("outside_region" if not rec.get("pointing") else "not_placed")


def _controller_success(env: Any, kind: str, point, seed: int, ctrl: Any = None) -> bool:
    """The plain controller (exact depth, no safety layer) on the same scene and point."""
    from roboref.coeval import controller, held_object

    env.reset(seed=seed)
    ctrl = ctrl if ctrl is not None else _plain_controller(env)
    held = held_object(env) if kind == "placement" else -1
    return bool(controller(env, kind, point, held, ctrl)["success"])


def _plain_controller(env: Any) -> Any:
    from roboref.envs.control import make_controller

    u = env.unwrapped
    return make_controller(u.config.robot, camera=u.config.camera)


def summarize(records: list[dict]) -> dict:
    """Rates per robot and kind, lift error percentiles, and failure counts."""
    out: dict[str, Any] = {"episodes": len(records)}
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(f"{r['robot']}/{r['kind']}", []).append(r)
        groups.setdefault(f"{r['robot']}/all", []).append(r)
    for key, rs in sorted(groups.items()):
        cell: dict[str, Any] = {
            "success": rate(r["success"] for r in rs),
            "pointing": rate(r.get("pointing", False) for r in rs),
        }
        ctrl = [r["controller_success"] for r in rs if "controller_success" in r]
        if ctrl:
            cell["controller_success"] = rate(ctrl)
        errs = [r["lift_error_mm"] for r in rs if "lift_error_mm" in r]
        if errs:
            cell["lift_error_mm"] = {
                "median": float(np.median(errs)),
                "p95": float(np.percentile(errs, 95)),
                "n": len(errs),
            }
        fails: dict[str, int] = {}
        for r in rs:
            if not r["success"]:
                reason = (r.get("failure") or "unknown").split(":")[0]
                fails[reason] = fails.get(reason, 0) + 1
        cell["failures"] = fails
        out[key] = cell
    return out


def run(cfg: Any, agent_name: str, robot_name: str, out: Path) -> dict:
    """``cfg.episodes`` seeded episodes from ``cfg.seed``, resumable; returns the summary."""
    import gymnasium as gym

    import roboref.envs  # noqa: F401
    from roboref.agents import make_agent
    from roboref.envs import env_id

    out.mkdir(parents=True, exist_ok=True)
    results = out / "episodes.jsonl"
    repair_tail(results)
    done = {r["key"]: r for r in read_results(results)} if results.exists() else {}
    env_kwargs = {"image_size": tuple(cfg.image_size), "kinds": tuple(cfg.kinds), "num_steps": tuple(cfg.num_steps)}
    env = gym.make(env_id("refer", robot_name), **env_kwargs)
    agent = make_agent(agent_name, env=env, seed=int(cfg.seed))
    controller = _plain_controller(env) if cfg.get("compare_controller") else None
    seeds = [int(cfg.seed_base) + int(cfg.seed) * 100_000 + i for i in range(int(cfg.episodes))]
    try:
        with open(results, "a") as fh:
            for i, seed in enumerate(seeds):
                if f"{robot_name}/{seed}" in done:
                    continue
                rec = run_episode(env, agent, robot_name, seed, cfg, out / "log.jsonl", controller)
                append_records(fh, [rec])
                done[rec["key"]] = rec
                print(
                    f"[deploy sim {robot_name}] {i + 1}/{len(seeds)} seed {seed} {rec['kind']}: "
                    f"{'success' if rec['success'] else rec['failure'][:80]}",
                    flush=True,
                )
    finally:
        env.close()
    summary = summarize([done[f"{robot_name}/{s}"] for s in seeds])
    summary.update(robot=robot_name, agent=agent_name, depth_noise=json.loads(json.dumps(cfg.depth_noise, default=str)))
    write_json_atomic(out / "summary.json", summary)
    return summary
