"""The shared pick / place machinery: configs, actions, and ``Controller.execute``.

A controller plans joint waypoints with mink IK on a robot-only model (``ArmIK``), then drives the
simulation's position actuators along them (``ctrl``), stepping real physics: the object is held
only by finger contacts and friction. Each phase checks what physics did (contacts, object height,
stability), and any failure ends the action as a value in ``ExecutionResult``, with the robot sent
back to its home pose when that is still safe.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import mujoco
import numpy as np

from roboref.envs.camera import Frame
from roboref.envs.control.ik import ArmIK
from roboref.envs.control.result import ExecutionResult
from roboref.envs.control.targets import (
    GraspPose,
    PlacePose,
    TargetError,
    check_on_table,
    grasp_pose,
    place_pose,
    point_hit,
)
from roboref.envs.scene import TABLE_HEIGHT
from roboref.envs.sim import Sim

CHUNK = 10  # physics steps between control updates (20 ms at the world's 2 ms step)


@dataclass(frozen=True)
class ControlConfig:
    """Tunable numbers of a pick / place (metres, seconds, radians)."""

    camera: str = "agent"
    approach_height: float = 0.12  # pre-grasp above the grasp point
    lift_height: float = 0.15  # how far a pick lifts
    carry_clearance: float = 0.10  # held object's bottom above the highest thing on the table
    place_clearance: float = 0.008  # held object's bottom above the surface when released
    place_radius: float = 0.04  # target region: object centre within this of the place point
    min_lift: float = 0.05  # a pick counts as lifted at this height gain
    joint_speed: float = 2.0  # rad/s for free moves
    cartesian_speed: float = 0.25  # m/s for approach, descent and lift
    close_time: float = 0.6
    open_time: float = 0.4
    settle_time: float = 0.5  # after release, before the stability check
    max_sim_time: float = 30.0  # per action; beyond it the action ends with "timeout"
    max_tilt: float = math.radians(20.0)  # placed object tilt beyond this is "unstable"
    max_rest_speed: float = 0.05  # m/s; faster than this after settling is "unstable"
    collision_force: float = 30.0  # N between robot and table / other objects on the way in
    return_home: bool = True
    assisted_grasp: bool = False  # G1 only: an explicit, off-by-default weld-assisted grasp


@dataclass(frozen=True)
class Action:
    """A pick point, a place point, or both (pick then place), normalized in ``camera``'s image."""

    pick: tuple[float, float] | None = None
    place: tuple[float, float] | None = None

    @property
    def kind(self) -> str:
        if self.pick is not None and self.place is not None:
            return "pick_place"
        return "pick" if self.pick is not None else "place"


class Abort(Exception):
    """Ends an action early with a failure reason (internal; callers get a result)."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


@dataclass
class _Run:
    """Book-keeping of one ``execute`` call."""

    sim: Sim
    t_sim0: float
    t_wall0: float
    budget: float
    grasped: bool = False
    lifted: bool = False
    placed: bool = False
    stable: bool = False
    slot: int = -1
    lift_height: float = 0.0
    place_target: tuple | None = None
    distance: float | None = None
    phase: str = "start"


class Controller:
    """Base of the robot controllers; subclasses say which joints, site, hand and grasp to use.

    ``execute(sim, action)`` never raises for bad points or failed physics: it returns an
    ``ExecutionResult`` whose ``failure`` names what went wrong. The hand keeps a grasped object
    between calls, so a ``pick`` followed by a ``place`` works like one ``pick_place``.
    """

    robot: str = ""
    site: str = ""
    arm_joints: tuple[str, ...] = ()
    max_grasp_width: float = 0.08
    ik_ranges: dict[str, tuple[float, float]] | None = None
    base_body: str = ""  # reach is measured from here (bearing of targets)
    #: Table area ((x_min, x_max), (y_min, y_max)) the arm reaches for places; None: the robot's
    #: scene workspace.
    reach_area: tuple[tuple[float, float], tuple[float, float]] | None = None
    grasp_tilts: tuple[float, ...] = (0.0,)

    def __init__(self, config: ControlConfig | None = None, **overrides):
        base = config or ControlConfig()
        self.config = ControlConfig(**{**base.__dict__, **overrides})
        self._world_id: int | None = None
        self.held: int = -1  # object slot held between calls, -1 when empty
        self._carry_start = None

    # --- robot-specific hooks ---------------------------------------------------------------
    def setup(self, sim: Sim) -> None:
        """Build IK and index tables for ``sim``'s world (called once per world)."""
        m = sim.model
        self.ik = ArmIK(self.robot, self.site, self.arm_joints, sim.world.table_size, ranges=self.ik_ranges)
        self.arm_act = np.array([self._actuator_for(m, j) for j in self.arm_joints], int)
        self.arm_qadr = np.array([m.jnt_qposadr[m.joint(j).id] for j in self.arm_joints], int)
        kp, kv = -m.actuator_biasprm[self.arm_act, 1], -m.actuator_biasprm[self.arm_act, 2]
        self.arm_lead = np.where(kp > 0, kv / np.maximum(kp, 1e-9), 0.0)

    def tool_rotation(self, yaw: float, tilt: float = 0.0) -> np.ndarray:
        raise NotImplementedError

    def grasp_tilt_options(self, grasp: GraspPose) -> tuple[float, ...]:
        """Tool tilts to try for ``grasp``, in order (default: ``grasp_tilts``)."""
        return self.grasp_tilts

    def grasp_candidates(self, sim: Sim, slot: int, grasp: GraspPose, bearing: float) -> list:
        """(grasp, tilt) options to plan, in order of preference (default: ``grasp`` at each of
        ``grasp_tilt_options``)."""
        return [(grasp, tilt) for tilt in self.grasp_tilt_options(grasp)]

    #: A planned grasp whose ``grasp_clearance`` is at least this is taken at once; otherwise
    #: the planned option with the most clearance is.
    min_grasp_clearance: float = 0.0

    def grasp_clearance(self, sim: Sim, slot: int, path: list[np.ndarray]) -> float:
        """Clearance (m) of the open hand from everything but object ``slot`` along the planned
        arm configurations ``path`` (default: not checked, infinite)."""
        return math.inf

    def choose_arm(self, sim: Sim, slot: int) -> None:
        """Pick the arm for object ``slot`` (one-arm robots: nothing to choose)."""

    def preferred_yaw(self, sim: Sim, slot: int, bearing: float) -> float:
        """Closing-direction yaw preferred for round objects, given the target's bearing."""
        return bearing + math.pi / 2

    def _approach(self, run: _Run, q_pre: np.ndarray, monitor, above: np.ndarray, rot: np.ndarray) -> None:
        """Move from wherever the arm is to the pre-grasp configuration ``q_pre`` (the tool at
        ``above`` with rotation ``rot``)."""
        self._move(run, q_pre, monitor=monitor)

    def _close(self, run: _Run, slot: int) -> None:
        """Close the hand on object ``slot`` (default: command closed, wait)."""
        self.hand(run.sim, closed=True)
        self._wait(run, self.config.close_time)

    def _open(self, run: _Run) -> None:
        """Open the hand to release (default: command open, wait)."""
        self.hand(run.sim, closed=False)
        self._wait(run, self.config.open_time)

    def _retreat(self, run: _Run, q_full: np.ndarray, at: np.ndarray, rot: np.ndarray) -> None:
        """After a place, back the hand away from the released object (default: 10 cm up)."""
        q, path = self._plan_line(q_full, at, at + [0, 0, 0.1], rot, "retreat")
        self._follow(run, path, 0.1)

    def _go_home(self, run: _Run) -> None:
        self._move(run, self._home_arm(run.sim))

    def seed(self, q_full: np.ndarray, target: np.ndarray) -> np.ndarray:
        """A starting configuration for a far move's IK (default: where the robot is)."""
        return q_full

    def grasp_site_target(self, grasp: GraspPose, rot: np.ndarray) -> np.ndarray:
        """Where the site goes for ``grasp`` with the tool at rotation ``rot`` (world)."""
        raise NotImplementedError

    def hand(self, sim: Sim, closed: bool) -> None:
        """Set the hand's actuators open or closed."""
        raise NotImplementedError

    def finger_contacts(self, sim: Sim, slot: int) -> tuple[bool, bool]:
        """Whether the object touches each side of the hand (both → held between them)."""
        raise NotImplementedError

    @staticmethod
    def touching(sim: Sim, slot: int) -> set[int]:
        """Geoms in contact with object ``slot`` (its own geoms excluded)."""
        d = sim.data
        obj = set(sim.world.slot_geoms[slot].tolist())
        out = set()
        for i in range(d.ncon):
            g1, g2 = int(d.contact[i].geom1), int(d.contact[i].geom2)
            if g1 in obj:
                out.add(g2)
            elif g2 in obj:
                out.add(g1)
        return out

    def on_grasp_closed(self, sim: Sim, slot: int) -> None:
        """Hook after the fingers close (the G1's explicit assisted grasp uses it)."""

    def on_release(self, sim: Sim, slot: int) -> None:
        """Hook before the hand opens."""

    # --- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _actuator_for(m: mujoco.MjModel, joint: str) -> int:
        jid = m.joint(joint).id
        for a in range(m.nu):
            if m.actuator_trnid[a, 0] == jid and m.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT:
                return a
        raise ValueError(f"no actuator drives joint {joint!r}")

    def _ensure(self, sim: Sim) -> None:
        if self._world_id != id(sim.world):
            self._robot_geom_set = set(sim.world.robot_geoms.tolist())
            self._table_geom_set = set(sim.world.table_geoms.tolist())
            self.setup(sim)
            self._world_id = id(sim.world)
            self.held = -1

    def _ik_q(self, sim: Sim) -> np.ndarray:
        """The IK model's configuration matching the simulation's robot joints now."""
        w = sim.world
        names = self.ik.robot_joint_names
        return self.ik.full_q(dict(zip(names, sim.data.qpos[w.robot_qadr], strict=True)))

    def _plan(self, q_full: np.ndarray, pos, rot, what: str) -> tuple[np.ndarray, np.ndarray]:
        q_new, sol = self.ik.solve(q_full, np.asarray(pos, float), rot)
        if not sol.converged:
            raise Abort(
                "ik_failed",
                f"no IK solution for {what} at {np.round(pos, 3).tolist()} "
                f"(residual {sol.pos_error * 100:.1f} cm, {math.degrees(sol.rot_error):.0f} deg)",
            )
        return q_new, sol.q

    def _plan_line(self, q_full, start, end, rot, what: str, step: float = 0.03):
        """Joint waypoints along the straight line ``start → end`` (for Cartesian moves)."""
        n = max(1, int(math.ceil(np.linalg.norm(np.subtract(end, start)) / step)))
        path = []
        for i in range(1, n + 1):
            p = np.asarray(start) + (np.asarray(end) - np.asarray(start)) * i / n
            q_full, q = self._plan(q_full, p, rot, what)
            path.append(q)
        return q_full, path

    def _step(self, run: _Run, n: int) -> None:
        reason = run.sim.step(n)
        if reason:
            raise Abort("unstable", reason)
        if run.sim.data.time - run.t_sim0 > run.budget:
            raise Abort("timeout", f"sim-time budget of {run.budget:.1f} s ran out")

    def _move(self, run: _Run, q_target: np.ndarray, duration: float | None = None, monitor=None) -> None:
        """Drive the arm from its current joint targets to ``q_target`` (smoothstep profile)."""
        q0 = self._q_des.copy()
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

    def _drive(self, run: _Run, q_des: np.ndarray, qdot_des: np.ndarray) -> None:
        """One control period: the servos' ``ctrl`` leads the desired joint position by the
        damping lag (kv/kp · q̇), so a position servo tracks a moving target without drifting."""
        self._q_des = np.asarray(q_des, float)
        run.sim.data.ctrl[self.arm_act] = self._q_des + self.arm_lead * qdot_des
        self._step(run, CHUNK)

    def _converge(self, run: _Run, monitor=None, tol: float = 2e-3, max_time: float = 0.6) -> None:
        """Hold the last target until the arm joints are within ``tol`` of it."""
        d = run.sim.data
        d.ctrl[self.arm_act] = self._q_des
        dt = run.sim.model.opt.timestep * CHUNK
        for _ in range(int(max_time / dt)):
            if np.abs(d.qpos[self.arm_qadr] - self._q_des).max() < tol:
                break
            self._step(run, CHUNK)
            if monitor is not None:
                monitor()

    def _follow(
        self, run: _Run, path: list[np.ndarray], length: float, monitor=None, speed: float | None = None
    ) -> None:
        """Follow Cartesian waypoints at ``speed`` (default ``cartesian_speed``), constant speed
        between them."""
        dt = run.sim.model.opt.timestep * CHUNK
        per = max(dt, length / max(1, len(path)) / (speed or self.config.cartesian_speed))
        n = max(1, int(round(per / dt)))
        for q in path:
            q0 = self._q_des.copy()
            vel = (q - q0) / (n * dt)
            for i in range(1, n + 1):
                self._drive(run, q0 + (q - q0) * i / n, vel)
                if monitor is not None:
                    monitor()
        self._converge(run, monitor)

    def _wait(self, run: _Run, seconds: float, monitor=None) -> None:
        dt = run.sim.model.opt.timestep * CHUNK
        for _ in range(max(1, int(round(seconds / dt)))):
            self._step(run, CHUNK)
            if monitor is not None:
                monitor()

    def _site_pos(self, sim: Sim) -> np.ndarray:
        return sim.data.site(self.site).xpos.copy()

    def _object_contacts_force(self, sim: Sim, target: int) -> tuple[float, str]:
        """Largest normal force between the robot and the table or a non-target object."""
        m, d, w = sim.model, sim.data, sim.world
        robot = self._robot_geom_set
        table = self._table_geom_set
        target_geoms = set(w.slot_geoms[target].tolist()) if target >= 0 else set()
        worst, what = 0.0, ""
        f = np.zeros(6)
        for i in range(d.ncon):
            c = d.contact[i]
            g1, g2 = int(c.geom1), int(c.geom2)
            if (g1 in robot) == (g2 in robot):
                continue
            other = g2 if g1 in robot else g1
            if other in target_geoms or other not in table and m.geom_bodyid[other] == 0:
                continue
            mujoco.mj_contactForce(m, d, i, f)
            if f[0] > worst:
                worst = float(f[0])
                what = "the table" if other in table else f"object {int(np.where(w.slot_geoms == other)[0][0])}"
        return worst, what

    def _collision_monitor(self, run: _Run, target: int):
        def check():
            force, what = self._object_contacts_force(run.sim, target)
            if force > self.config.collision_force:
                raise Abort("collision", f"robot hit {what} with {force:.0f} N")

        return check

    # --- the public entry -------------------------------------------------------------------
    def execute(self, sim: Sim, action: Action, frame: Frame | None = None) -> ExecutionResult:
        """Pick at ``action.pick`` and/or place at ``action.place``; ``frame`` (depth and
        segmentation of ``config.camera``) is rendered when not given."""
        self._ensure(sim)
        w = sim.world
        run = _Run(sim, sim.data.time, time.perf_counter(), self.config.max_sim_time)
        self._q_des = sim.data.ctrl[self.arm_act].copy()
        run.slot = self.held
        message = ""
        failure = ""
        if self.held >= 0 and not self._holding(sim, self.held):
            self.held = -1  # the scene changed or the object fell since the last call
        if self.held < 0:
            self._carry_start = None
        try:
            reason = sim.check_state()
            if reason:
                raise Abort("unstable", reason)
            if frame is None or frame.depth is None or frame.seg is None:
                frame = sim.render(self.config.camera, rgb=False, depth=True, seg=True)
            K, T = sim.camera_pose(self.config.camera)
            K = K.copy()
            h, wid = frame.depth.shape
            own_w, own_h = 2 * K[0, 2], 2 * K[1, 2]
            K[0] *= wid / own_w
            K[1] *= h / own_h
            pick = place = None
            if action.pick is not None:
                hit = point_hit(action.pick, frame, K, T, sim.max_depth)
                if hit.slot < 0:
                    raise TargetError("no_object_at_point", f"pick point is on {_label_name(hit.label)}")
                pick = hit.slot
                run.slot = pick
            if action.place is not None:
                place = place_pose(w, point_hit(action.place, frame, K, T, sim.max_depth))
                if pick is None and self.held < 0:
                    raise TargetError("not_holding", "place asked with nothing in the hand")
            if pick is not None:
                self._pick(run, pick)
            if place is not None:
                self._place(run, place)
        except TargetError as e:
            failure, message = e.reason, e.message
        except Abort as e:
            failure, message = e.reason, f"{run.phase}: {e.message}"
        if failure and failure != "unstable" and self.config.return_home:
            self._recover(run)
        if failure == "unstable":
            self.held = -1
        return self._result(run, action, failure, message)

    # --- phases -----------------------------------------------------------------------------
    def _pick(self, run: _Run, slot: int) -> None:
        sim, cfg = run.sim, self.config
        if self.held >= 0:
            raise Abort("grasp_failed", f"the hand already holds object {self.held}")
        self.choose_arm(sim, slot)
        origin = sim.data.body(self.base_body).xpos
        obj = sim.world.object_pose(sim.data, slot)[0]
        bearing = math.atan2(obj[1] - origin[1], obj[0] - origin[0])
        self._bearing = bearing
        nominal = self.nominal_yaw(sim)
        grasp = grasp_pose(sim.world, sim.data, slot, nominal, preferred_yaw=self.preferred_yaw(sim, slot, bearing))
        check_on_table(sim.world, grasp.center, margin=0.0)
        if grasp.width > self.max_grasp_width:
            raise Abort(
                "not_graspable",
                f"object {slot} is {grasp.width * 100:.1f} cm wide; the hand opens to "
                f"{self.max_grasp_width * 100:.1f} cm",
            )
        error: Abort | None = None
        fallback = None
        plan = None
        for option, tilt in self.grasp_candidates(sim, slot, grasp, bearing):
            # lean the tool outwards (about its closing axis) only when top-down is out of reach
            lean = np.array([math.sin(option.yaw), -math.cos(option.yaw)]) @ [math.cos(bearing), math.sin(bearing)]
            rot = self.tool_rotation(option.yaw, tilt if lean >= 0 else -tilt)
            at = self.grasp_site_target(option, rot)
            above = at + [0, 0, cfg.approach_height + max(0.0, option.top - at[2])]
            lifted = at + [0, 0, cfg.lift_height]
            try:
                q = self.seed(self._ik_q(sim), above)
                q, q_pre = self._plan(q, above, rot, "pre-grasp")
                q, down = self._plan_line(q, above, at, rot, "grasp")
                q, up = self._plan_line(q, at, lifted, rot, "lift")
            except Abort as e:
                error = e
                continue
            candidate = (q, q_pre, down, up, above, at, lifted, rot)
            clearance = self.grasp_clearance(sim, slot, [q_pre, *down])
            if clearance >= self.min_grasp_clearance:
                plan = candidate
                break
            if fallback is None or clearance > fallback[0]:
                fallback = (clearance, candidate)
        if plan is None:
            if fallback is None:
                raise error
            plan = fallback[1]
        q, q_pre, down, up, above, at, lifted, rot = plan
        z0 = sim.world.object_pose(sim.data, slot)[0][2]
        monitor = self._collision_monitor(run, slot)
        self.hand(sim, closed=False)
        run.phase = "approach"
        self._approach(run, q_pre, monitor, above, rot)
        run.phase = "descend"
        self._follow(run, down, float(above[2] - at[2]), monitor=monitor)
        run.phase = "close"
        self._close(run, slot)
        self.on_grasp_closed(sim, slot)
        left, right = self.finger_contacts(sim, slot)
        run.grasped = left and right
        if not run.grasped:
            raise Abort("grasp_failed", f"fingers closed without holding object {slot}")
        self.held = slot
        self._carry_start = (q, lifted, rot)  # planned, reachable: the place plans from here
        run.phase = "lift"
        self._follow(run, up, cfg.lift_height)
        self._wait(run, 0.2)
        run.lift_height = float(sim.world.object_pose(sim.data, slot)[0][2] - z0)
        run.lifted = run.lift_height >= cfg.min_lift and self._holding(sim, slot)
        if not run.lifted:
            raise Abort("dropped", f"object {slot} rose only {run.lift_height * 100:.1f} cm")

    def nominal_yaw(self, sim: Sim) -> float:
        """The closing-direction yaw the wrist is nearest to now (the grasp yaw is wrapped to it)."""
        return 0.0

    def _holding(self, sim: Sim, slot: int) -> bool:
        """The object is in the hand: touched by the hand and by nothing but the robot (or by
        both sides of the hand, when it still rests on something)."""
        sides = self.finger_contacts(sim, slot)
        if all(sides):
            return True
        if not any(sides):
            return False
        d, obj, robot = sim.data, set(sim.world.slot_geoms[slot].tolist()), self._robot_geom_set
        for i in range(d.ncon):
            g1, g2 = int(d.contact[i].geom1), int(d.contact[i].geom2)
            other = g2 if g1 in obj else g1 if g2 in obj else None
            if other is not None and other not in robot:
                return False
        return True

    def _place(self, run: _Run, place: PlacePose) -> None:
        sim, cfg, w = run.sim, self.config, run.sim.world
        slot = self.held
        run.slot = slot
        run.place_target = place.position
        held = grasp_pose(w, sim.data, slot)
        site = self._site_pos(sim)
        # site relative to the held object's bottom centre (its geometry, which may have turned
        # in the hand, not its body origin)
        offset = site - np.array([held.center[0], held.center[1], held.bottom])
        if self._carry_start is not None:
            q0, start, rot = self._carry_start
        else:
            q0, start = self._ik_q(sim), site.copy()
            rot = sim.data.site(self.site).xmat.reshape(3, 3).copy()
        target = np.asarray(place.position) + [0, 0, cfg.place_clearance] + offset
        floor = max(start[2], target[2] + 0.03)
        top = self._corridor_top(sim, slot, start[:2], target[:2]) + cfg.carry_clearance + offset[2]
        run.phase = "plan place"
        origin = sim.data.body(self.base_body).xpos
        radial = np.subtract(target[:2], origin[:2])
        radial /= max(float(np.linalg.norm(radial)), 1e-9)
        error: Abort | None = None
        plan = None
        for tilt in self.grasp_tilts:
            lean = -rot[:2, 0] @ radial  # tilt leans the tool towards its -x axis
            rot_t = rot @ _about_y(-(tilt if lean >= 0 else -tilt))
            for carry_z in [*np.arange(max(top, floor), floor, -0.03), floor]:
                up = np.array([start[0], start[1], carry_z])
                over = np.array([target[0], target[1], carry_z])
                try:
                    q, p_up = self._plan_line(q0, start, up, rot_t, "carry")
                    q, p_over = self._plan_line(q, up, over, rot_t, "carry", step=0.05)
                    q, p_down = self._plan_line(q, over, target, rot_t, "place")
                    plan = (up, over, p_up, p_over, p_down, rot_t)
                    break
                except Abort as e:
                    error = e
            if plan is not None:
                break
        if plan is None:
            raise error
        up, over, p_up, p_over, p_down, rot = plan

        def still_held():
            if not self._holding(sim, slot):
                raise Abort("dropped", f"object {slot} slipped out of the hand while carrying")

        run.phase = "carry"
        self._follow(run, p_up, float(np.linalg.norm(up - start)), monitor=still_held)
        self._follow(run, p_over, float(np.linalg.norm(over - up)), monitor=still_held)
        run.phase = "lower"
        self._follow(run, p_down, float(np.linalg.norm(over - target)))
        run.phase = "release"
        self.on_release(sim, slot)
        self._open(run)
        self.held = -1
        self._carry_start = None
        self._retreat(run, q, target, rot)
        if cfg.return_home:
            run.phase = "home"
            self._go_home(run)
        run.phase = "settle"
        self._wait(run, cfg.settle_time)
        pos, quat = w.object_pose(sim.data, slot)
        rest = grasp_pose(w, sim.data, slot)
        run.distance = float(np.hypot(*(np.asarray(rest.center[:2]) - np.asarray(place.position[:2]))))
        tilt = 0.0 if self._is_round(sim, slot) else _tilt(quat)
        dadr = w.slot_dadr[slot]
        speed = float(np.linalg.norm(sim.data.qvel[dadr : dadr + 3]))
        on_surface = abs(rest.bottom - place.position[2]) < 0.03 or place.surface_label < 254
        run.stable = tilt <= cfg.max_tilt and speed <= cfg.max_rest_speed
        run.placed = run.distance <= cfg.place_radius and on_surface
        if not run.stable:
            raise Abort("unstable", f"placed object tilted {math.degrees(tilt):.0f} deg, speed {speed:.2f} m/s")
        if not run.placed:
            raise Abort("dropped", f"object came to rest {run.distance * 100:.1f} cm from the place point")

    @staticmethod
    def _is_round(sim: Sim, slot: int) -> bool:
        """Balls, apples and oranges: any orientation at rest is upright."""
        m, geoms = sim.model, sim.world.slot_geoms[slot]
        main = max(geoms, key=lambda g: float(np.prod(m.geom_aabb[g, 3:])))
        return int(m.geom_type[main]) in (
            int(mujoco.mjtGeom.mjGEOM_SPHERE),
            int(mujoco.mjtGeom.mjGEOM_ELLIPSOID),
        )

    def _corridor_top(self, sim: Sim, exclude: int, a, b, width: float = 0.15) -> float:
        """Highest object top within ``width`` of the segment ``a → b`` (or the table surface)."""
        w = sim.world
        tops = [sim.scene.table_height if sim.scene is not None else TABLE_HEIGHT]
        a, b = np.asarray(a, float), np.asarray(b, float)
        ab = b - a
        n = len(sim.scene.objects) if sim.scene is not None else 0
        for k in range(n):
            if k == exclude:
                continue
            g = grasp_pose(w, sim.data, k)
            p = np.asarray(g.center[:2])
            t = float(np.clip((p - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0))
            if np.linalg.norm(a + t * ab - p) < width:
                tops.append(g.top)
        return float(max(tops))

    def _home_arm(self, sim: Sim) -> np.ndarray:
        w = sim.world
        idx = [list(w.robot_qadr).index(a) for a in self.arm_qadr]
        return w.home_qpos[idx].copy()

    def _recover(self, run: _Run) -> None:
        """After a failure: open the hand, back straight up, go home (best effort)."""
        sim = run.sim
        run.budget = math.inf  # recovery has its own small budget below
        t_end = sim.data.time + 5.0
        try:
            self.on_release(sim, self.held)
            self.hand(sim, closed=False)
            self.held = -1
            here = self._site_pos(sim)
            rot = sim.data.site(self.site).xmat.reshape(3, 3).copy()
            q = self._ik_q(sim)
            up = here + [0, 0, 0.12]
            try:
                q, path = self._plan_line(q, here, up, rot, "retreat")
                self._follow(run, path, 0.12)
            except Abort as e:
                if e.reason != "ik_failed":
                    raise
            self._go_home(run)
            self._wait(run, 0.2)
        except Abort:
            pass
        finally:
            run.budget = max(0.0, t_end - run.t_sim0)

    def _result(self, run: _Run, action: Action, failure: str, message: str) -> ExecutionResult:
        sim = run.sim
        pos = quat = None
        if run.slot >= 0 and np.isfinite(sim.data.qpos).all():
            p, q = sim.world.object_pose(sim.data, run.slot)
            pos, quat = tuple(map(float, p)), tuple(map(float, q))
        if action.kind == "pick":
            success = not failure and run.grasped and run.lifted
        else:
            success = not failure and run.placed and run.stable
        return ExecutionResult(
            robot=self.robot,
            action=action.kind,
            success=bool(success),
            failure=failure,
            grasped=run.grasped,
            lifted=run.lifted,
            placed=run.placed,
            stable=run.stable,
            holding=self.held >= 0,
            target_object=run.slot,
            object_pos=pos,
            object_quat=quat,
            lift_height=run.lift_height,
            place_target=tuple(map(float, run.place_target)) if run.place_target is not None else None,
            distance_to_target=run.distance,
            sim_time=float(sim.data.time - run.t_sim0),
            wall_time=time.perf_counter() - run.t_wall0,
            assisted_grasp=self.config.assisted_grasp,
            message=message,
        )


def _about_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _tilt(quat) -> float:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, float))
    return float(np.arccos(np.clip(mat[8], -1.0, 1.0)))


def _label_name(label: int) -> str:
    return {0: "the background", 254: "the table", 255: "the robot"}.get(label, f"object {label - 1}")
