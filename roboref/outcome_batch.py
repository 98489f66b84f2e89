"""Fast execution of GRPO groups for the simulator outcome reward (``SimOutcomeReward``).

A GRPO group is G sampled points on one scene (one seed and instruction). The one-at-a-time path
(``roboref.sim_reward.score_item``) resets the env and runs the controller's whole pick (or pick
and place) for every point: ~0.8 s (pick) to 2 s (pick and place) each. Here a group costs one
reset and only the executions that can change a score, with the same scores:

- location: the controller plans its grasp from the object under the point, not from the point,
  so every point on one object executes alike, and a point on another object scores 0 whatever
  that pick does (wrong object). At most one pick runs per group: the target's.
- placement: the pick of the held object is the same for every point: it runs once, its end state
  is kept (an ``MjData`` copy and the controller's binding) and each place point inside the
  referred region runs from it; a point outside the region scores 0 unexecuted.
- after a failed pick the controller backs up and goes home (up to 5 s of sim time): skipped,
  it changes no flag the outcome reads.
- optionally (``Group.place_grid``, off by default) place points in one cell of a grid share one
  execution: an approximation, made for RefPoint, whose action is the cell (``SimOutcomeReward``).

Bad input scores 0 with a reason and a category, which ``SimOutcomeReward`` counts and logs: a
point off the table (background or the robot: ``off_table``), an answer without a point
(``unparsed``), an execution whose physics blew up (NaN or a MuJoCo instability warning in
``MjData``: ``unstable``), a worker process that died (``worker_died``) or ran past the call's
deadline (``timeout``). ``GroupPool`` keeps one process pool for the reward's life; a dead or
stalled worker's groups score 0 and the pool is rebuilt for the next call, so a run never hangs.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import math
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import mujoco
import numpy as np

from roboref.envs import env_id
from roboref.envs.tasks.records import NoTaskError
from roboref.rewards.format import parse_answer
from roboref.rewards.outcome import outcome_reward
from roboref.workers import Worker

#: Categories of zero scores caused by bad input or a broken execution (counted and logged).
BAD_INPUT = ("unparsed", "off_table", "unstable", "worker_died", "timeout")
#: MuJoCo warnings that mean the simulation blew up (as ``Sim.step`` checks them).
_BAD_WARNINGS = (mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQVEL, mujoco.mjtWarning.mjWARN_BADQPOS)
#: Segmentation labels of the background and the robot (``roboref.envs.camera``).
_OFF_TABLE_LABELS = (0, 255)


class RowNotReproduced(Exception):
    """The env, reset with the row's seed, gives another instruction than the row's (other
    ``env_kwargs`` or roboref version)."""


#: Failures that score a whole row 0 with their reason (counted and logged); other errors propagate.
EXPECTED_FAILURES = (NoTaskError, RowNotReproduced)

#: ``(score, reason, category)``: ``category`` is ``""`` for an ordinary outcome, one of
#: ``BAD_INPUT``, or the name of the expected failure that zeroed the row.
Scored = tuple[float, str, str]


@dataclass(frozen=True)
class Group:
    """G completions on one re-created episode."""

    robot: str
    env_kwargs_json: str
    seed: int
    instruction: str
    texts: tuple[str, ...]
    #: > 0: place points in one cell of a ``place_grid`` × ``place_grid`` division of the image
    #: share one execution (RefPoint's action is the cell; see ``SimOutcomeReward``); 0: every
    #: place point executes.
    place_grid: int = 0


def warning_counts(data: mujoco.MjData) -> tuple[int, ...]:
    return tuple(int(data.warning[int(w)].number) for w in _BAD_WARNINGS)


def instability(data: mujoco.MjData, before: tuple[int, ...], execution: dict | None) -> str:
    """Why an execution went unstable (``""`` if it did not): non-finite state, a new MuJoCo
    instability warning since ``before``, or the controller's own ``unstable physics`` stop."""
    if not (np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all() and np.isfinite(data.qacc).all()):
        return "unstable physics: non-finite state in MjData"
    for w, b, a in zip(_BAD_WARNINGS, before, warning_counts(data), strict=True):
        if a > b:
            return f"unstable physics: MuJoCo warning {w.name}"
    msg = (execution or {}).get("message", "")
    if (execution or {}).get("failure") == "unstable" and "unstable physics" in msg:
        return msg[msg.index("unstable physics") :]
    return ""


def judge(kind: str, target: int, inside: bool, execution: dict | None, unstable: str = "") -> Scored:
    """The outcome of one executed (or refused) point. Location: a pick of another object than
    the target scores 0; placement: a point outside the referred region scores 0, however the
    place went; a blown-up simulation scores 0. Otherwise ``outcome_reward``'s partial credit."""
    if unstable:
        return 0.0, unstable, "unstable"
    if execution is None:
        return 0.0, "not executed", ""
    if kind == "location" and execution.get("target_object") != target:
        return 0.0, "picked the wrong object" if execution.get("grasped") else (execution.get("failure") or ""), ""
    if kind == "placement" and not inside:
        return 0.0, "placed outside the referred region", ""
    score, reason = outcome_reward(execution, kind)
    return score, reason, ""


def inside_mask(mask: np.ndarray, point) -> bool:
    """The referred region holds the point (the pixel rule of ``roboref.coeval.controller``)."""
    h, w = mask.shape
    return bool(mask[min(int(point[1] * h), h - 1), min(int(point[0] * w), w - 1)])


@contextmanager
def configured(ctrl: Any, **overrides: Any) -> Iterator[None]:
    """``ctrl.config`` with ``overrides`` for the block (the controller keeps its binding)."""
    saved = ctrl.config
    ctrl.config = replace(saved, **overrides)
    try:
        yield
    finally:
        ctrl.config = saved


class _Snapshot:
    """A sim's ``MjData`` and a controller binding's fields, to restore exactly."""

    def __init__(self, sim: Any, binding: Any):
        self.data = copy.copy(sim.data)  # mj_copyData: state, warm start, contacts, warnings
        self.fields = dict(vars(binding))

    def restore(self, sim: Any, binding: Any) -> None:
        mujoco.mj_copyData(sim.data, sim.model, self.data)
        vars(binding).update(self.fields)


def _precheck(env: Any, kind: str, text: str, held: int) -> Scored | tuple:
    """A point's score when no execution is needed, else ``(point,)`` to execute."""
    from roboref.envs.control import ControlError, place_pose, point_hit

    u = env.unwrapped
    parsed = parse_answer(text)
    if not parsed.ok:
        return 0.0, parsed.reason, "unparsed"
    point = parsed.points[0]
    K, T = u.sim.camera_pose(u.config.camera)
    K = K.copy()  # rescaled to the frame's size, as ``Controller._targets`` does
    h, w = u.frame.depth.shape
    K[0] *= w / (2 * K[0, 2])
    K[1] *= h / (2 * K[1, 2])
    try:
        hit = point_hit(point, u.frame, K, T, u.sim.max_depth)
    except ControlError as e:  # not a finite point inside the image
        return 0.0, e.reason, "off_table"
    off = "off_table" if hit.label in _OFF_TABLE_LABELS else ""
    if kind == "location":
        if hit.slot < 0:
            return 0.0, "no_object_at_point", off
        if hit.slot != u.task.target:
            return 0.0, "pointed at another object than the target (not executed)", ""
        return (point,)
    if held < 0:
        return 0.0, "nothing_to_place", ""
    if not inside_mask(u.task.mask, point):
        return 0.0, "placed outside the referred region", off
    try:
        place_pose(u.sim.world, hit)
    except ControlError as e:
        return 0.0, e.reason, "off_table"
    return (point,)


def score_group(group: Group, worker: Worker) -> list[Scored]:
    """Every completion of ``group`` scored with ``worker``'s env and controller (see module
    docstring); an expected failure of the row (``EXPECTED_FAILURES``) scores all of them 0."""
    try:
        return _score_group(group, worker)
    except EXPECTED_FAILURES as err:
        return [(0.0, f"{type(err).__name__}: {err}", type(err).__name__)] * len(group.texts)


def _score_group(group: Group, worker: Worker) -> list[Scored]:
    from roboref.coeval import held_object
    from roboref.envs.control import Action
    from roboref.envs.tasks.color_category import interior_point

    env = worker.env(env_id("refer", group.robot), group.env_kwargs_json)
    env.reset(seed=group.seed)
    u = env.unwrapped
    task = u.task
    if group.instruction and task.instruction != group.instruction:
        raise RowNotReproduced("the env does not reproduce this row (different env_kwargs or roboref version?)")
    held = held_object(env) if task.kind == "placement" else -1
    cases = [_precheck(env, task.kind, t, held) for t in group.texts]
    todo = [k for k, c in enumerate(cases) if len(c) == 1]
    if not todo:
        return list(cases)
    ctrl, sim = worker.controller(), u.sim
    b = ctrl.bind(sim)
    before = warning_counts(sim.data)
    if task.kind == "location":  # one pick of the target serves every point on it
        with configured(ctrl, return_home=False):
            res = ctrl.execute(sim, Action(pick=tuple(cases[todo[0]][0])), u.frame).to_dict()
        scored = judge("location", task.target, True, res, instability(sim.data, before, res))
        return [scored if len(c) == 1 else c for c in cases]
    # placement: one pick of the held object, then each place from its end state
    with configured(ctrl, return_home=False):
        pick = ctrl.execute(sim, Action(pick=interior_point(u.frame.seg == held + 1)), u.frame).to_dict()
    unstable = instability(sim.data, before, pick)
    out = list(cases)
    if pick["failure"] or unstable:
        failed = {**pick, "action": "pick_place"}
        for k in todo:
            out[k] = judge("placement", task.target, True, failed, unstable)
        return out
    after_pick, before = _Snapshot(sim, b), warning_counts(sim.data)
    budget = ctrl.config.max_sim_time - pick["sim_time"]  # the one pick-and-place action's budget
    shared: dict[tuple, Scored] = {}
    n = group.place_grid
    for k in todo:
        x, y = cases[k][0]
        key = (min(int(x * n), n - 1), min(int(y * n), n - 1)) if n > 0 else (k,)
        if key not in shared:
            if shared:
                after_pick.restore(sim, b)
            with configured(ctrl, max_sim_time=budget):
                place = ctrl.execute(sim, Action(place=(x, y)), u.frame).to_dict()
            res = {**place, "action": "pick_place", "grasped": pick["grasped"], "lifted": pick["lifted"]}
            shared[key] = judge("placement", task.target, True, res, instability(sim.data, before, res))
        out[k] = shared[key]
    return out


def _groups_job(job: tuple[int, Group]) -> tuple[int, list[Scored]]:
    """Pool job: ``(index, scores)`` of one group with this process's ``Worker``."""
    from roboref import parallel

    if parallel._STATE is None:  # a pool process made by GroupPool always has one
        raise RuntimeError("outcome pool worker without a Worker state")
    # through _with_state: it keeps the Worker's close ahead of EGL's own exit handler (closing
    # the renderer after it printed an EGL_BAD_DISPLAY traceback when the pool shut down)
    return parallel._with_state(_score_job, job)


def _score_job(job: tuple[int, Group], worker: Worker) -> tuple[int, list[Scored]]:
    k, group = job
    return k, score_group(group, worker)


class GroupPool:
    """Scores groups inline (one worker) or on a process pool kept for the pool's life.

    ``timeout_s`` bounds each call: per round of ``workers`` groups. Groups of a worker that
    died score 0 (``worker_died``), groups not done by the deadline score 0 (``timeout``); either
    way the pool's processes are ended and a new pool is made on the next call."""

    def __init__(self, workers: int = 1, timeout_s: float = 300.0):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.workers, self.timeout_s = workers, float(timeout_s)
        self._worker: Worker | None = None
        self._pool: cf.ProcessPoolExecutor | None = None

    def map(self, groups: list[Group]) -> list[list[Scored]]:
        """Scores of each group, in order."""
        if not groups:
            return []
        if self.workers == 1:
            if self._worker is None:
                self._worker = Worker()
            return [score_group(g, self._worker) for g in groups]
        return self._map_processes(groups)

    def pids(self) -> list[int]:
        """The pool's worker process ids (empty before the first call or after a failure)."""
        return [p.pid for p in (self._pool._processes or {}).values()] if self._pool is not None else []

    def _map_processes(self, groups: list[Group]) -> list[list[Scored]]:
        from roboref import threads_per_process
        from roboref.parallel import init_worker

        for attempt in (0, 1):
            if self._pool is None:
                self._pool = cf.ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=init_worker,
                    initargs=(os.getpid(), threads_per_process(self.workers), Worker),
                )
            try:
                futures = {self._pool.submit(_groups_job, (k, g)): k for k, g in enumerate(groups)}
                break
            except BrokenProcessPool:  # a worker died between calls: nothing was lost
                self._end_pool()
                if attempt:
                    raise
        deadline = self.timeout_s * math.ceil(len(groups) / self.workers)
        done, pending = cf.wait(futures, timeout=deadline)
        out: list[list[Scored] | None] = [None] * len(groups)
        broken = bool(pending)
        for fut in done:
            k = futures[fut]
            err = fut.exception()
            if isinstance(err, BrokenProcessPool):
                broken = True
                reason = f"worker process died ({err})"
                out[k] = [(0.0, reason, "worker_died")] * len(groups[k].texts)
            elif err is not None:
                raise err
            else:
                out[k] = fut.result()[1]
        for fut in pending:
            k = futures[fut]
            out[k] = [(0.0, f"timeout: not scored within {deadline:.0f} s", "timeout")] * len(groups[k].texts)
        if broken:
            self._end_pool()
        return out  # type: ignore[return-value]

    def _end_pool(self) -> None:
        """End the pool's processes now (a stalled one would otherwise block shutdown)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for p in list((pool._processes or {}).values()):  # no public API to end workers before 3.14
            if p.is_alive():
                p.kill()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """End the pool (or the inline worker's env)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
