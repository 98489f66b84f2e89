"""``roboref coeval``: pointing agents × executors, so perception and control errors separate.

Every episode is a seeded Refer env task (location: pick the referred object; placement: move an
object to the referred free space). Each agent's point is executed by each executor:

- ``teleport``: an ideal executor. A pick succeeds iff the point lands on the target object; a
  place moves the object straight to the 3D point and lets physics settle.
- ``controller``: the robot's own controller (``roboref.envs.control``): real IK and physics.
  Placement episodes first pick the object to be placed at its oracle point.

The ``oracle`` row with the controller measures control alone; each agent with ``teleport``
measures perception alone. Results append to ``coeval.jsonl`` (resumable), the matrix goes to
``coeval.json`` and ``coeval.md``; every agent minus the first on the same episodes, with paired
95 % intervals, to ``coeval_paired.json`` and ``coeval.md``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from omegaconf import DictConfig

from roboref.envs import ROBOTS, env_id
from roboref.envs.atomic import write_json_atomic, write_text_atomic
from roboref.parallel import parallel_map
from roboref.results import append_records, read_results, repair_tail
from roboref.rollout import run_episode
from roboref.seeds import suite_seed
from roboref.stats import paired_difference, wilson
from roboref.workers import Worker

EXECUTORS = ("teleport", "controller")


@dataclass(frozen=True)
class CoevalJob:
    agents: tuple[str, ...]
    executors: tuple[str, ...]
    robot: str
    kind: str
    env_kwargs_json: str
    episodes: tuple[tuple[int, int], ...]  # (index, seed)
    agent_seed: int = 0
    timeout_s: float = 60.0


def held_object(env: Any) -> int:
    """The object to move in a placement episode: the task's, else the smallest movable one."""
    u = env.unwrapped
    if u.task.held >= 0:
        return u.task.held
    objs = [o for o in u.view.objects if o.support < 0 and o.pixels >= 30 and o.radius < 0.07]
    return min(objs, key=lambda o: o.radius).index if objs else -1


def teleport(env: Any, kind: str, point: tuple[float, float], held: int) -> dict:
    """The ideal executor (see module docstring)."""
    from roboref.envs.camera import point_to_pixel, unproject

    u = env.unwrapped
    task, frame, sim = u.task, u.frame, u.sim
    h, w = frame.seg.shape
    col, row = point_to_pixel(point, w, h)
    if kind == "location":
        ok = int(frame.seg[row, col]) == task.target + 1
        return {"success": ok, "failure": "" if ok else "wrong_object"}
    if held < 0:
        return {"success": False, "failure": "nothing_to_place"}
    K, T = sim.camera_pose(u.config.camera)
    p = unproject(np.array([[point[0] * w, point[1] * h]]), frame.depth[row : row + 1, col], K, T)[0]
    adr = sim.world.slot_qadr[held]
    sim.data.qpos[adr : adr + 3] = [p[0], p[1], p[2] + 0.003]
    sim.data.qvel[sim.world.slot_dadr[held] : sim.world.slot_dadr[held] + 6] = 0
    mujoco.mj_forward(sim.model, sim.data)
    unstable = sim.step(250)
    pos, quat = sim.world.object_pose(sim.data, held)
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    upright = mat[8] > np.cos(np.radians(20))
    inside = bool(task.mask[row, col])
    moved = float(np.linalg.norm(pos[:2] - p[:2]))
    ok = inside and not unstable and upright and moved < 0.03
    failure = "" if ok else ("outside_region" if not inside else "unstable")
    return {"success": ok, "failure": failure}


def controller(env: Any, kind: str, point: tuple[float, float], held: int, ctrl: Any) -> dict:
    """The robot's own controller ``ctrl`` (``Worker.controller()``) executes the point."""
    from roboref.envs.control import Action
    from roboref.envs.tasks.color_category import interior_point

    u = env.unwrapped
    if kind == "location":
        res = ctrl.execute(u.sim, Action(pick=tuple(point)), u.frame)
        ok = bool(res.success and res.target_object == u.task.target)
    else:
        if held < 0:
            return {"success": False, "failure": "nothing_to_place"}
        pick = interior_point(u.frame.seg == held + 1)
        res = ctrl.execute(u.sim, Action(pick=pick, place=tuple(point)), u.frame)
        h, w = u.task.mask.shape
        inside = bool(u.task.mask[min(int(point[1] * h), h - 1), min(int(point[0] * w), w - 1)])
        ok = bool(res.success and res.placed and inside)
    failure = res.failure or ("" if ok else "wrong_object" if kind == "location" else "outside_region")
    return {"success": ok, "failure": failure, "execution": res.to_dict()}


def run_job(job: CoevalJob, worker: Worker | None = None) -> list[dict]:
    """Each agent's point on each episode, executed by each executor (the same scene, reset,
    for every pairing). ``worker`` as in ``roboref.evaluate.run_job``."""
    if worker is None:
        with Worker() as own:
            return run_job(job, own)
    env = worker.env(env_id("refer", job.robot), job.env_kwargs_json)
    agents = {name: worker.agent(name, job.agent_seed) for name in job.agents}
    out = []
    for index, seed in job.episodes:
        points = {
            name: run_episode(env, agent, seed, timeout_s=job.timeout_s, step=False).turns[0].point
            for name, agent in agents.items()
        }
        held = held_object(env) if job.kind == "placement" else -1
        for name, point in points.items():
            for ex in job.executors:
                env.reset(seed=seed)  # the same scene, untouched, for every pairing
                t0 = time.perf_counter()
                rec = {
                    "key": f"{job.kind}/{job.robot}/{index}/{name}/{ex}",
                    "kind": job.kind,
                    "robot": job.robot,
                    "index": index,
                    "seed": seed,
                    "agent": name,
                    "executor": ex,
                    "point": None if point is None else [float(v) for v in point],
                }
                if point is None:
                    rec.update(success=False, failure="no_point", pointing=False)
                else:
                    h, w = env.unwrapped.task.mask.shape
                    col, row = min(int(point[0] * w), w - 1), min(int(point[1] * h), h - 1)
                    rec["pointing"] = bool(env.unwrapped.task.mask[row, col])
                    if ex == "teleport":
                        rec.update(teleport(env, job.kind, point, held))
                    else:
                        rec.update(controller(env, job.kind, point, held, worker.controller()))
                rec["wall_time"] = round(time.perf_counter() - t0, 3)
                out.append(rec)
    return out


def matrix(records: list[dict]) -> dict:
    """``{robot: {kind: {agent: {executor: rate}}}}`` with Wilson intervals."""
    cells: dict = {}
    for r in records:
        cells.setdefault((r["robot"], r["kind"], r["agent"], r["executor"]), []).append(r)
    out: dict = {}
    for (robot, kind, agent, ex), rs in sorted(cells.items()):
        s = sum(bool(r["success"]) for r in rs)
        out.setdefault(robot, {}).setdefault(kind, {}).setdefault(agent, {})[ex] = {
            "n": len(rs),
            "rate": s / len(rs),
            "ci95": wilson(s, len(rs)),
            "pointing": sum(bool(r["pointing"]) for r in rs) / len(rs),
        }
    return out


def markdown(m: dict) -> str:
    lines = []
    for robot, kinds in m.items():
        for kind, agents in kinds.items():
            exs = sorted({e for a in agents.values() for e in a})
            lines += [
                f"### {robot} · {kind}",
                "",
                "| agent | pointing % | " + " | ".join(exs) + " |",
                "|---|---:|" + "---:|" * len(exs),
            ]
            for agent, row in agents.items():
                point = next(iter(row.values()))["pointing"]
                cells = []
                for e in exs:
                    c = row.get(e)
                    cells.append(
                        "-"
                        if c is None
                        else f"{100 * c['rate']:.0f} [{100 * c['ci95'][0]:.0f}, {100 * c['ci95'][1]:.0f}] (n={c['n']})"
                    )
                lines.append(f"| {agent} | {100 * point:.0f} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def paired(records: list[dict], base: str) -> list[dict]:
    """Every other agent minus ``base`` on the same episodes, per executor: per robot and kind,
    per robot, and over all (``stats.paired_difference``: points and its 95 % interval)."""
    by: dict = {}
    for r in records:
        by.setdefault((r["agent"], r["executor"]), {})[(r["robot"], r["kind"], r["index"])] = bool(r["success"])
    out = []
    for (agent, ex), res in sorted(by.items()):
        ref = by.get((base, ex))
        if agent == base or ref is None:
            continue
        keys = sorted(set(res) & set(ref))
        cells = {(rb, kd) for rb, kd, _ in keys}
        scopes = [(rb, kd) for rb, kd in sorted(cells)] + [(rb, "all") for rb in sorted({c[0] for c in cells})]
        for robot, kind in [*scopes, ("all", "all")]:
            ks = [k for k in keys if robot in ("all", k[0]) and kind in ("all", k[1])]
            if ks:
                d, lo, hi = paired_difference([ref[k] for k in ks], [res[k] for k in ks])
                out.append(
                    {
                        "agent": agent,
                        "base": base,
                        "executor": ex,
                        "robot": robot,
                        "kind": kind,
                        "n": len(ks),
                        "diff": d,
                        "ci95": (lo, hi),
                    }
                )
    return out


def paired_markdown(rows: list[dict]) -> str:
    if not rows:
        return ""
    lines = [
        f"### paired differences to {rows[0]['base']} (points, 95 % interval)",
        "",
        "| agent | executor | robot | kind | n | difference |",
        "|---|---|---|---|---:|---:|",
    ]
    for r in rows:
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['agent']} | {r['executor']} | {r['robot']} | {r['kind']} | {r['n']} | "
            f"{100 * r['diff']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] |"
        )
    return "\n".join(lines) + "\n"


def coeval_env_kwargs(cfg: DictConfig, robot: str, kind: str) -> dict:
    """The Refer env options of one robot and kind. With ``reachable_places``, placement regions
    are drawn where the robot's controller places (``Controller.place_area``): a region the arm
    cannot reach turns a task no point solves into a control failure (on the G1, 88 of 200)."""
    from roboref.envs.control import CONTROLLERS
    from roboref.envs.robots import get_robot

    kwargs = {"kinds": [kind], "num_steps": list(cfg.num_steps), "image_size": list(cfg.image_size)}
    if kind == "placement" and cfg.get("reachable_places", False) and robot in CONTROLLERS:
        area = CONTROLLERS[robot].place_area(get_robot(robot).workspace)
        kwargs["place_area"] = [list(a) for a in area]
    return kwargs


def run(cfg: DictConfig) -> int:
    from roboref.agents import check_agent_name
    from roboref.envs.control import CONTROLLERS

    agents = list(cfg.agents)
    for a in agents:
        check_agent_name(a)
    bad = [e for e in cfg.executors if e not in EXECUTORS]
    if bad:
        raise ValueError(f"unknown executor(s) {bad}; executors: {', '.join(EXECUTORS)}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "coeval.jsonl"
    repair_tail(path)
    done = {r["key"] for r in read_results(path)}
    jobs = []
    for robot in cfg.robots:
        if robot not in ROBOTS:
            raise ValueError(f"unknown robot {robot!r}; robots: {', '.join(ROBOTS)}")
        exs = tuple(e for e in cfg.executors if e != "controller" or robot in CONTROLLERS)
        if len(exs) < len(cfg.executors):
            print(f"note: no controller for {robot} in this installation; only {exs} run for it")
        for k, kind in enumerate(("location", "placement")):
            env_kwargs = coeval_env_kwargs(cfg, robot, kind)
            eps = tuple(
                (i, suite_seed(cfg.seed_base, k, i))
                for i in range(int(cfg.episodes))
                if not all(f"{kind}/{robot}/{i}/{a}/{e}" in done for a in agents for e in exs)
            )
            for start in range(0, len(eps), int(cfg.chunk)):
                jobs.append(
                    CoevalJob(
                        tuple(agents),
                        exs,
                        robot,
                        kind,
                        json.dumps(env_kwargs, sort_keys=True),
                        eps[start : start + int(cfg.chunk)],
                        int(cfg.seed),
                        float(cfg.get("agent_timeout_s", 60.0)),
                    )
                )
    print(f"coeval: {sum(len(j.episodes) for j in jobs)} episode(s) to run", flush=True)
    from tqdm import tqdm

    with open(path, "a") as fh, tqdm(total=sum(len(j.episodes) for j in jobs), unit="ep") as bar:
        for recs in parallel_map(run_job, jobs, int(cfg.workers), cfg.ray.address, out / ".ray", state=Worker):
            append_records(fh, [r for r in recs if r["key"] not in done])
            bar.update(len({r["index"] for r in recs}))
    records = read_results(path)
    m = matrix(records)
    pairs = paired(records, agents[0])
    write_json_atomic(out / "coeval.json", m)
    write_json_atomic(out / "coeval_paired.json", pairs)
    text = markdown(m) + ("\n" + paired_markdown(pairs) if pairs else "")
    write_text_atomic(out / "coeval.md", text)
    print(text)
    return 0
