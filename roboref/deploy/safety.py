"""``SafetyLayer``: every command to a robot passes limits from config, is logged, and a stop latches.

The layer wraps any ``RobotAdapter`` and is one itself, so skills cannot tell it apart from the
robot. Before a command it checks the target (finite, rigid, inside the workspace box, above the
table, within the orientation cone, reachable, no larger jump than allowed, no long way round a
wrist joint) and clamps speeds, accelerations and the gripper force to the configured limits; a
violation raises ``SafetyViolation`` naming the limit and the value, and nothing is sent. A
protective stop, an emergency stop, a dropped connection or a timed-out move stops the robot and
latches the layer: it refuses everything but ``stop`` until an operator calls ``reset`` (which
itself refuses while the robot still reports a stop; the layer never unlocks one). Each command
goes to ``log.jsonl`` with the robot's state before and after, one flushed line per command.

The box is convex, so a straight tool-space move (``linear=True``) between two poses inside it
stays inside; a joint-space move's path is bounded only by ``max_jump`` / ``max_joint_jump``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from roboref.deploy.robots.base import (
    NORMAL,
    ConnectionLostError,
    ProtectiveStopError,
    RobotAdapter,
    RobotError,
    RobotSpecs,
    RobotState,
    UnreachableError,
    check_transform,
)

#: Hard caps no config can raise: TCP speed (m/s) and joint speed (rad/s).
TCP_SPEED_CAP = 0.25
JOINT_SPEED_CAP = 1.0


class SafetyViolation(Exception):
    """A command refused before anything was sent: ``limit`` is the limit's name, ``bound`` its
    configured value, ``value`` what the command asked for."""

    def __init__(self, limit: str, value: Any, bound: Any, detail: str = ""):
        self.limit, self.value, self.bound = limit, value, bound
        msg = f"safety limit {limit!r}: value {_short(value)} against limit {_short(bound)}. {detail}"
        super().__init__(msg.strip())


class SafetyLatched(SafetyViolation):
    """The layer is latched (after a stop or a lost connection) until an operator ``reset``."""


@dataclass(frozen=True)
class SafetyConfig:
    """Limits in the robot's base frame (metres, seconds, radians, newtons). The defaults are a
    conservative start; measure the workspace box and the table height on your cell."""

    workspace_min: tuple[float, float, float] = (-0.8, -0.8, -0.1)
    workspace_max: tuple[float, float, float] = (0.8, 0.8, 0.8)
    table_min_z: float = 0.0
    tcp_speed: float = 0.1
    tcp_accel: float = 0.5
    joint_speed: float = 0.5
    joint_accel: float = 1.0
    max_jump: float = 0.5  # largest TCP displacement per command
    max_joint_jump: float = 2.5  # largest joint change per command
    cone_axis: tuple[float, float, float] = (0.0, 0.0, -1.0)  # base-frame direction of the approach
    cone_angle: float = math.radians(60.0)  # the tool's approach axis stays within this of it
    gripper_force_max: float = 60.0
    watchdog: float = 2.0  # extra seconds a move may take beyond its expected time
    wrap_limit: float = math.pi  # a wrist turning further than this is the long way round

    def __post_init__(self):
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or not (lo < hi).all():
            raise ValueError(f"SafetyConfig: workspace_min {self.workspace_min} must be below workspace_max")
        if not 0 < self.tcp_speed <= TCP_SPEED_CAP:
            raise ValueError(f"SafetyConfig: tcp_speed {self.tcp_speed} m/s must be in (0, {TCP_SPEED_CAP}] (hard cap)")
        if not 0 < self.joint_speed <= JOINT_SPEED_CAP:
            raise ValueError(f"SafetyConfig: joint_speed {self.joint_speed} must be in (0, {JOINT_SPEED_CAP}] rad/s")
        for name in ("tcp_accel", "joint_accel", "max_jump", "max_joint_jump", "gripper_force_max", "watchdog"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SafetyConfig: {name} must be positive, got {getattr(self, name)}")
        if not 0 < self.cone_angle <= math.pi or not 0 < self.wrap_limit <= 2 * math.pi:
            raise ValueError("SafetyConfig: cone_angle must be in (0, π] and wrap_limit in (0, 2π]")

    @classmethod
    def from_dict(cls, d: dict | None) -> SafetyConfig:
        """From a plain dict (e.g. a hydra/yaml section); unknown keys are an error, angles in
        degrees may be given as ``cone_angle_deg`` / ``wrap_limit_deg``."""
        d = dict(d or {})
        for key in ("cone_angle", "wrap_limit"):
            if f"{key}_deg" in d:
                d[key] = math.radians(float(d.pop(f"{key}_deg")))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"SafetyConfig: unknown keys {unknown}; known: {sorted(known)}")
        for k in ("workspace_min", "workspace_max", "cone_axis"):
            if k in d:
                d[k] = tuple(float(v) for v in d[k])
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SafetyConfig:
        import yaml

        with open(path) as f:
            return cls.from_dict(yaml.safe_load(f) or {})


class SafetyLayer:
    """A ``RobotAdapter`` that checks, clamps, logs and latches (module docstring)."""

    def __init__(self, robot: RobotAdapter, config: SafetyConfig | None = None, log_path: str | Path | None = None):
        self.robot = robot
        self.config = config or SafetyConfig()
        self.log_path = Path(log_path) if log_path is not None else None
        self.latch_reason = ""
        self._seq = 0

    @property
    def specs(self) -> RobotSpecs:
        return self.robot.specs

    @property
    def latched(self) -> bool:
        return bool(self.latch_reason)

    # --- pass-through -------------------------------------------------------------------------
    def connect(self) -> None:
        self._run("connect", {}, lambda: None, self.robot.connect, latch_check=False)

    def close(self) -> None:
        self.robot.close()
        self._log({"command": "close", "result": "ok"})

    def state(self) -> RobotState:
        s = self.robot.state()
        if s.safety != NORMAL and not self.latched:
            self._latch(f"robot reports {s.safety}")
        return s

    def reachable(self, T: np.ndarray) -> bool:
        return self.robot.reachable(T)

    def stop(self) -> None:
        """Always allowed, latched or not."""
        self.robot.stop()
        self._log({"command": "stop", "result": "ok"})

    def reset(self, operator: str) -> None:
        """An operator clears the latch, once the robot itself is connected and out of any stop
        (the protective stop is unlocked on the robot, never from here)."""
        s = self.robot.state()
        if s.safety != NORMAL:
            self._log({"command": "reset", "operator": operator, "result": "refused", "before": s.to_dict()})
            raise SafetyLatched("reset", s.safety, NORMAL, "the robot still reports it: clear it on the robot first")
        self._log({"command": "reset", "operator": operator, "result": "ok", "cleared": self.latch_reason})
        self.latch_reason = ""

    # --- guarded commands ---------------------------------------------------------------------
    def move_to_pose(
        self,
        T: np.ndarray,
        speed: float | None = None,
        accel: float | None = None,
        timeout: float | None = None,
        linear: bool = True,
    ) -> None:
        cfg = self.config
        args: dict[str, Any] = {"T": np.asarray(T, float).round(6).tolist(), "linear": linear}
        clamps: dict[str, Any] = {}
        state: dict[str, RobotState] = {}

        def check() -> None:
            args["speed"] = speed_ = self._clamp("tcp_speed", speed, cfg.tcp_speed, clamps)
            args["accel"] = accel_ = self._clamp("tcp_accel", accel, cfg.tcp_accel, clamps)
            now = state["before"] = self._fresh_state()
            P = self._check_pose(T)
            jump = float(np.linalg.norm(P[:3, 3] - now.tcp[:3, 3]))
            if jump > cfg.max_jump:
                raise SafetyViolation("max_jump", round(jump, 4), cfg.max_jump, "m of TCP travel in one command")
            if not self.robot.reachable(P):
                raise SafetyViolation("reachable", False, True, f"no IK solution for {P[:3, 3].round(3).tolist()}")
            args["timeout"] = self._timeout(timeout, jump / speed_ + speed_ / accel_)

        def send() -> None:
            self.robot.move_to_pose(np.asarray(T, float), args["speed"], args["accel"], args["timeout"], linear=linear)

        self._run("move_to_pose", args, check, send, clamps=clamps, state=state)

    def move_joints(
        self, q: np.ndarray, speed: float | None = None, accel: float | None = None, timeout: float | None = None
    ) -> None:
        cfg = self.config
        args: dict[str, Any] = {"q": np.asarray(q, float).round(6).tolist()}
        clamps: dict[str, Any] = {}
        state: dict[str, RobotState] = {}

        def check() -> None:
            args["speed"] = speed_ = self._clamp("joint_speed", speed, cfg.joint_speed, clamps)
            args["accel"] = accel_ = self._clamp("joint_accel", accel, cfg.joint_accel, clamps)
            now = state["before"] = self._fresh_state()
            target = self._check_joints(q, now.joints)
            travel = float(np.abs(target - now.joints).max())
            args["timeout"] = self._timeout(timeout, travel / speed_ + speed_ / accel_)

        def send() -> None:
            self.robot.move_joints(np.asarray(q, float), args["speed"], args["accel"], args["timeout"])

        self._run("move_joints", args, check, send, clamps=clamps, state=state)

    def gripper(self, width: float, speed: float = 0.1, force: float | None = None) -> float:
        cfg = self.config
        clamps: dict[str, Any] = {}
        lo, hi = self.specs.gripper_range
        out: dict[str, float] = {}
        args: dict[str, Any] = {"width": width, "speed": speed}
        state: dict[str, RobotState] = {}

        def check() -> None:
            args["force"] = self._clamp("gripper_force_max", force, cfg.gripper_force_max, clamps)
            state["before"] = self._fresh_state()
            if not math.isfinite(width) or not lo - 1e-9 <= width <= hi + 1e-9:
                raise SafetyViolation("gripper_range", width, [lo, hi], "m between the fingers")

        def send() -> None:
            out["width"] = self.robot.gripper(float(width), float(speed), float(args["force"]))

        self._run("gripper", args, check, send, clamps=clamps, state=state)
        return out["width"]

    # --- checks -------------------------------------------------------------------------------
    def _clamp(self, name: str, asked: float | None, bound: float, clamps: dict) -> float:
        if asked is None:
            return bound
        if not math.isfinite(asked) or asked <= 0:
            raise SafetyViolation(name, asked, bound, "must be a positive number")
        if asked > bound:
            clamps[name] = [asked, bound]
            return bound
        return float(asked)

    def _check_pose(self, T) -> np.ndarray:
        cfg = self.config
        arr = np.asarray(T, float)
        if arr.shape != (4, 4) or not np.isfinite(arr).all():
            raise SafetyViolation("finite", "non-finite or not 4×4", "finite 4×4", "target pose")
        try:
            P = check_transform(arr, "target pose")
        except ValueError as e:
            raise SafetyViolation("rigid", "not a rigid transform", "rotation with det 1", str(e)) from None
        p = P[:3, 3]
        lo, hi = np.asarray(cfg.workspace_min), np.asarray(cfg.workspace_max)
        for i, axis in enumerate("xyz"):
            if not lo[i] <= p[i] <= hi[i]:
                value = round(float(p[i]), 4)
                raise SafetyViolation(f"workspace_{axis}", value, [lo[i], hi[i]], "target outside the box")
        if p[2] < cfg.table_min_z:
            raise SafetyViolation("table_min_z", round(float(p[2]), 4), cfg.table_min_z, "target below the table")
        axis = P[:3, :3] @ np.asarray(self.specs.approach_axis, float)
        cone = np.asarray(cfg.cone_axis, float) / np.linalg.norm(cfg.cone_axis)
        angle = math.acos(float(np.clip(axis @ cone, -1.0, 1.0)))
        if angle > cfg.cone_angle:
            raise SafetyViolation("cone_angle", round(math.degrees(angle), 2), round(math.degrees(cfg.cone_angle), 2))
        return P

    def _check_joints(self, q, now: np.ndarray) -> np.ndarray:
        cfg, specs = self.config, self.specs
        q = np.asarray(q, float)
        if q.shape != (specs.dof,) or not np.isfinite(q).all():
            raise SafetyViolation("finite", q.tolist(), f"{specs.dof} finite joint values", "joint target")
        lim = np.asarray(specs.joint_limits, float)
        for i, name in enumerate(specs.joint_names):
            if not lim[i, 0] <= q[i] <= lim[i, 1]:
                raise SafetyViolation(f"joint_limit[{name}]", round(float(q[i]), 4), lim[i].tolist())
        for i in specs.wrist_joints:
            d = float(q[i] - now[i])
            if abs(d) > cfg.wrap_limit:
                short = math.remainder(d, 2 * math.pi)
                raise SafetyViolation(
                    f"joint_wrap[{specs.joint_names[i]}]",
                    round(d, 4),
                    cfg.wrap_limit,
                    f"the long way round; the short way turns {short:+.3f} rad (target {now[i] + short:+.3f})",
                )
        jump = float(np.abs(q - now).max())
        if jump > cfg.max_joint_jump:
            raise SafetyViolation("max_joint_jump", round(jump, 4), cfg.max_joint_jump, "rad in one command")
        return q

    def _fresh_state(self) -> RobotState:
        s = self.robot.state()
        if s.safety != NORMAL:
            self._latch(f"robot reports {s.safety}")
            raise SafetyLatched("safety_state", s.safety, NORMAL, "the robot is not in normal operation")
        return s

    def _timeout(self, asked: float | None, expected: float) -> float:
        budget = expected + self.config.watchdog
        return budget if asked is None else min(float(asked), budget)

    # --- the guarded run ----------------------------------------------------------------------
    def _latch(self, reason: str) -> None:
        if not self.latched:
            self.latch_reason = reason

    def _run(self, name, args, check, send, clamps=None, state=None, latch_check=True) -> None:
        rec: dict[str, Any] = {"command": name, "args": args}
        if clamps is not None:
            rec["clamped"] = clamps  # filled by check()
        state = state if state is not None else {}
        if latch_check and self.latched:
            rec.update(result="refused", limit="latched", value=self.latch_reason)
            self._log(rec)
            raise SafetyLatched("latched", self.latch_reason, "operator reset")
        try:
            check()
        except SafetyViolation as e:
            rec.update(result="refused", limit=e.limit, value=_jsonable(e.value), bound=_jsonable(e.bound))
            rec.update(error=str(e), latched=self.latch_reason or None)
            self._log(rec, before=state.get("before"))
            raise
        t0 = time.monotonic()
        try:
            send()
        except UnreachableError as e:
            rec.update(result="error", error=f"{type(e).__name__}: {e}")
            self._log(rec, before=state.get("before"), after=self._try_state())
            raise
        except (RobotError, OSError) as e:
            self._emergency(rec, e, state)
            raise
        rec["duration"] = round(time.monotonic() - t0, 4)
        limit = args.get("timeout")
        if limit is not None and rec["duration"] > limit + self.config.watchdog:
            late = RobotError(f"watchdog: {name} took {rec['duration']:.1f} s, limit {limit:.1f} s")
            self._emergency(rec, late, state)
            raise RobotError(self.latch_reason)
        after = self._try_state()
        if after is not None and after.safety != NORMAL:
            self._latch(f"robot reports {after.safety} after {name}")
            rec.update(result="error", error=self.latch_reason, latched=self.latch_reason)
            self._log(rec, before=state.get("before"), after=after)
            raise ProtectiveStopError(self.latch_reason)
        rec["result"] = "ok"
        self._log(rec, before=state.get("before"), after=after)

    def _emergency(self, rec: dict, e: BaseException, state: dict) -> None:
        """A stop, a lost link or a timeout mid-command: stop, latch, log."""
        try:
            self.robot.stop()
            stopped = True
        except Exception:  # noqa: BLE001 - the link may be gone; the latch still holds
            stopped = False
        kind = "connection lost" if isinstance(e, ConnectionLostError | OSError) else type(e).__name__
        self._latch(f"{kind} during {rec['command']}: {e}")
        rec.update(result="error", error=f"{type(e).__name__}: {e}", stop_sent=stopped, latched=self.latch_reason)
        self._log(rec, before=state.get("before"), after=self._try_state())

    def _try_state(self) -> RobotState | None:
        try:
            return self.robot.state()
        except Exception:  # noqa: BLE001 - logging must not hide the original failure
            return None

    def _log(self, rec: dict, before: RobotState | None = None, after: RobotState | None = None) -> None:
        """Append one JSON line with one ``write`` on an ``O_APPEND`` descriptor (whole lines even
        with several writers), then fsync: the log survives a crash right after a command."""
        self._seq += 1
        rec = {"seq": self._seq, "wall_time": round(time.time(), 4), **rec}
        if before is not None:
            rec["before"] = before.to_dict()
        if after is not None:
            rec["after"] = after.to_dict()
        if self.log_path is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(_jsonable(rec), sort_keys=False) + "\n").encode()
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if hasattr(v, "__dataclass_fields__"):
        return _jsonable(asdict(v))
    return v


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) < 80 else s[:77] + "..."


def read_log(path: str | Path) -> list[dict]:
    """The log's records, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
