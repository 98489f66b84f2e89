"""Motion: IK-planned joint waypoints and the servo loop that drives the arm along them.

Plans come from mink IK on the robot-only model (``ArmIK``); the simulation's position actuators
are then driven every ``CHUNK`` physics steps. Every step checks physics (``unstable``) and the
action's sim-time budget (``timeout``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from roboref.envs.control.config import ControlConfig
from roboref.envs.control.errors import ControlError
from roboref.envs.control.ik import POS_TOL
from roboref.envs.control.state import Binding, Run

CHUNK = 10  # physics steps between control updates (20 ms at the world's 2 ms step)

Monitor = Callable[[], None] | None


class Motion:
    """Planning and trajectory following, mixed into ``Controller``."""

    config: ControlConfig

    def _step(self, run: Run, n: int) -> None:
        """Advance ``n`` physics steps; an unstable state or a spent budget ends the action."""
        reason = run.sim.step(n)
        if reason:
            raise ControlError("unstable", reason)
        if run.sim.data.time - run.t_sim0 > run.budget:
            raise ControlError("timeout", f"sim-time budget of {run.budget:.1f} s ran out")

    # --- planning ---------------------------------------------------------------------------
    def _ik_q(self, b: Binding) -> np.ndarray:
        """The IK model's configuration matching the simulation's robot joints now."""
        qpos = b.sim.data.qpos[b.sim.world.robot_qadr]
        return b.arm.ik.full_q(dict(zip(b.robot_joints, qpos, strict=True)))

    def _plan(
        self, b: Binding, q_full: np.ndarray, pos, rot, what: str, pos_tol: float = POS_TOL
    ) -> tuple[np.ndarray, np.ndarray]:
        """IK for the site at ``(pos, rot)`` from ``q_full``: ``(new full configuration, arm
        joints)``; no solution within ``pos_tol`` is ``ik_failed``."""
        q_new, sol = b.arm.ik.solve(q_full, np.asarray(pos, float), rot, pos_tol=pos_tol)
        if not sol.converged:
            raise ControlError(
                "ik_failed",
                f"no IK solution for {what} at {np.round(pos, 3).tolist()} "
                f"(residual {sol.pos_error * 100:.1f} cm, {math.degrees(sol.rot_error):.0f} deg)",
            )
        return q_new, sol.q

    def _plan_line(
        self,
        b: Binding,
        q_full: np.ndarray,
        start,
        end,
        rot,
        what: str,
        step: float = 0.03,
        pos_tol: float = POS_TOL,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Joint waypoints along the straight line ``start → end``, one IK solve every ``step``
        metres (⌈|end − start| / step⌉ of them), each seeded with the previous one."""
        n = max(1, int(math.ceil(np.linalg.norm(np.subtract(end, start)) / step)))
        path = []
        for i in range(1, n + 1):
            p = np.asarray(start) + (np.asarray(end) - np.asarray(start)) * i / n
            q_full, q = self._plan(b, q_full, p, rot, what, pos_tol)
            path.append(q)
        return q_full, path

    def _site_pos(self, b: Binding) -> np.ndarray:
        return b.sim.data.site(b.arm.site).xpos.copy()

    def _home_arm(self, b: Binding) -> np.ndarray:
        """The acting arm's joints in the robot's home pose."""
        w = b.sim.world
        idx = [list(w.robot_qadr).index(a) for a in b.arm.qadr]
        return w.home_qpos[idx].copy()

    # --- following --------------------------------------------------------------------------
    def _move(self, run: Run, q_target: np.ndarray, duration: float | None = None, monitor: Monitor = None) -> None:
        """Drive the arm from its current joint targets to ``q_target`` along the smoothstep
        s(t) = 3t² − 2t³ (zero speed at both ends), by default over 1.5 · max|Δq| / joint_speed
        (at least 0.3 s)."""
        b = run.b
        q0 = b.q_des.copy()
        q1 = np.asarray(q_target, float)
        if duration is None:
            duration = max(0.3, 1.5 * float(np.abs(q1 - q0).max()) / self.config.joint_speed)
        dt = run.sim.model.opt.timestep * CHUNK
        n = max(1, int(math.ceil(duration / dt)))
        for i in range(1, n + 1):
            s = i / n
            pos = s * s * (3 - 2 * s)  # zero speed at both ends
            vel = 6 * s * (1 - s) / duration
            self._drive(run, q0 + (q1 - q0) * pos, (q1 - q0) * vel)
            if monitor is not None:
                monitor()
        self._converge(run, monitor)

    def _drive(self, run: Run, q_des: np.ndarray, qdot_des: np.ndarray) -> None:
        """One control period: the servos' ``ctrl`` leads the desired joint position by the
        damping lag (kv/kp · q̇), so a position servo tracks a moving target without drifting."""
        b = run.b
        b.q_des = np.asarray(q_des, float)
        run.sim.data.ctrl[b.arm.act] = b.q_des + b.arm.lead * qdot_des
        self._step(run, CHUNK)

    def _converge(self, run: Run, monitor: Monitor = None, tol: float = 2e-3, max_time: float = 0.6) -> None:
        """Hold the last target until the arm joints are within ``tol`` of it."""
        b, d = run.b, run.sim.data
        d.ctrl[b.arm.act] = b.q_des
        dt = run.sim.model.opt.timestep * CHUNK
        for _ in range(int(max_time / dt)):
            if np.abs(d.qpos[b.arm.qadr] - b.q_des).max() < tol:
                break
            self._step(run, CHUNK)
            if monitor is not None:
                monitor()

    def _follow(
        self, run: Run, path: list[np.ndarray], length: float, monitor: Monitor = None, speed: float | None = None
    ) -> None:
        """Follow Cartesian waypoints (a path ``length`` m long) at ``speed`` (default
        ``cartesian_speed``), at constant joint speed between them."""
        dt = run.sim.model.opt.timestep * CHUNK
        per = max(dt, length / max(1, len(path)) / (speed or self.config.cartesian_speed))
        n = max(1, int(round(per / dt)))
        for q in path:
            q0 = run.b.q_des.copy()
            vel = (q - q0) / (n * dt)
            for i in range(1, n + 1):
                self._drive(run, q0 + (q - q0) * i / n, vel)
                if monitor is not None:
                    monitor()
        self._converge(run, monitor)

    def _wait(self, run: Run, seconds: float, monitor: Monitor = None) -> None:
        """Let physics run ``seconds`` with the current targets."""
        dt = run.sim.model.opt.timestep * CHUNK
        for _ in range(max(1, int(round(seconds / dt)))):
            self._step(run, CHUNK)
            if monitor is not None:
                monitor()
