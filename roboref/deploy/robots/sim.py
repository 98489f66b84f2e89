"""``SimRobot``: roboref's MuJoCo robot behind the ``RobotAdapter`` interface (the sim stand-in).

It drives the same simulation, IK and servo loop as the env's controllers (``roboref.envs.control``:
a ``Controller``'s ``Binding`` to the ``Sim``, mink IK on a robot-only copy of the MJCF, position
servos stepped through real physics), so a skill run through it moves objects by finger contact
and friction, like on hardware. UR5e: the 2F-85's pinch site is the TCP. G1: one arm (``arm``,
default right) with the waist, the Dex3 hand's grasp site is the TCP, and closing is the
controller's compliant close (each digit stops where it touches an object).

Frames: the base frame is the robot's root body (UR5e ``base``, G1 ``pelvis``). A pressing contact
between the robot and the table above ``table_force`` N is treated like a real UR's protective
stop: the move stops, ``state().safety`` reads ``protective_stop`` until ``operator_clear``.
Accelerations are accepted but not modelled (the controller's own smooth profiles are used).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from roboref.deploy.robots.base import (
    DISCONNECTED,
    FAULT,
    NORMAL,
    PROTECTIVE_STOP,
    ConnectionLostError,
    MotionTimeout,
    ProtectiveStopError,
    RobotError,
    RobotSpecs,
    RobotState,
    UnreachableError,
    check_transform,
    pose_matrix,
)
from roboref.deploy.robots.dex3 import DEX3_OPEN_WIDTH, g1_arm_specs, q_to_width
from roboref.envs.control import ControlConfig, ControlError, make_controller
from roboref.envs.control.state import Run
from roboref.envs.scene import TABLE_HEIGHT
from roboref.envs.sim import Sim
from roboref.envs.world import ROBOT_PREFIX

#: 2F-85: fingers open to 85 mm; pads are 4 mm half-thick (measured pad-centre distance − 8 mm).
UR_OPEN, PAD_HALF = 0.085, 0.004
#: Cartesian waypoint spacing of a linear move (m) and its rotation counterpart (rad).
LINE_STEP, ANGLE_STEP = 0.02, 0.1


class SimRobot:
    """A ``RobotAdapter`` over a ``Sim`` (made when not given) for ``robot`` ``ur5e`` or ``g1``."""

    def __init__(
        self,
        robot: str = "ur5e",
        sim: Sim | None = None,
        arm: str | None = None,
        config: ControlConfig | None = None,
        table_force: float = 150.0,
    ):
        self.sim = sim if sim is not None else Sim(robot)
        if self.sim.world.robot.name != robot:
            raise ValueError(f"SimRobot({robot!r}) given a {self.sim.world.robot.name!r} sim")
        self.robot = robot
        if self.sim.scene is None:  # a bare sim: stand the robot at home, as a scene reset does
            w, d = self.sim.world, self.sim.data
            d.qpos[w.robot_qadr], d.ctrl[:] = w.home_qpos, w.home_ctrl
            mujoco.mj_forward(self.sim.model, d)
        self.controller = make_controller(robot, config)
        self.b = self.controller.bind(self.sim)
        if robot == "g1":
            self.controller._use(self.b, arm or "right")
        elif arm not in (None, "arm"):
            raise ValueError(f"robot {robot!r} has one arm; got arm={arm!r}")
        self.b.q_des = self.sim.data.ctrl[self.b.arm.act].copy()
        self.table_force = table_force
        self.connected = False
        self.safety = NORMAL
        m = self.sim.model
        self.base_body = ROBOT_PREFIX + self.sim.world.robot.root_body
        jids = [m.joint(n).id for n in self.b.arm.joints]
        limits = np.array([m.jnt_range[j] if m.jnt_limited[j] else (-2 * np.pi, 2 * np.pi) for j in jids], float)
        names = tuple(n.removeprefix(ROBOT_PREFIX) for n in self.b.arm.joints)
        T_wb = self.T_world_base
        if robot == "ur5e":
            down = T_wb[:3, :3].T @ self.controller.tool_rotation(self.b, 0.0)
            wrists = tuple(i for i, n in enumerate(names) if n.startswith("wrist"))
            self.specs = RobotSpecs(
                name="sim-ur5e",
                joint_names=names,
                joint_limits=limits,
                gripper_range=(0.0, UR_OPEN),
                base_frame="base",
                tcp_frame="gripper/pinch",
                wrist_joints=wrists,
                tool_down=down,
                approach_axis=(0.0, 0.0, 1.0),
                ready_path=self._ready_path(),
            )
        else:
            side = self.b.arm.spec.name
            down = T_wb[:3, :3].T @ self.controller.tool_rotation(self.b, 0.0)
            self.specs = g1_arm_specs(f"sim-g1-{side}", side, names, limits, down, self._ready_path())

    # --- frames -------------------------------------------------------------------------------
    @property
    def T_world_base(self) -> np.ndarray:
        body = self.sim.data.body(self.base_body)
        return pose_matrix(body.xpos, body.xmat.reshape(3, 3))

    def table_z(self) -> float:
        """The table top's height in the base frame."""
        return float((np.linalg.inv(self.T_world_base) @ [0.0, 0.0, TABLE_HEIGHT, 1.0])[2])

    def safety_limits(self, margin: float = 0.08, height: float = 0.5) -> dict:
        """``SafetyConfig.from_dict`` limits for this cell: the robot's scene workspace (table
        frame) grown by ``margin``, in the base frame, from the table top up by ``height``."""
        (x0, x1), (y0, y1) = self.sim.world.robot.workspace
        T_bw = np.linalg.inv(self.T_world_base)
        corners = np.array([[x, y, TABLE_HEIGHT, 1.0] for x in (x0, x1) for y in (y0, y1)]) @ T_bw.T
        lo, hi = corners[:, :3].min(0) - margin, corners[:, :3].max(0) + margin
        z = self.table_z()
        return {
            "workspace_min": [float(lo[0]), float(lo[1]), z],
            "workspace_max": [float(hi[0]), float(hi[1]), z + height],
            "table_min_z": z + 0.005,
        }

    def _tcp_world(self) -> np.ndarray:
        s = self.sim.data.site(self.b.arm.site)
        return pose_matrix(s.xpos, s.xmat.reshape(3, 3))

    # --- interface ----------------------------------------------------------------------------
    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.connected = False

    def operator_clear(self) -> None:
        """The operator unlocks a protective stop (on hardware: on the pendant)."""
        if self.safety == PROTECTIVE_STOP:
            self.safety = NORMAL

    def state(self) -> RobotState:
        d = self.sim.data
        tcp = np.linalg.inv(self.T_world_base) @ self._tcp_world()
        safety = self.safety if self.connected else DISCONNECTED
        return RobotState(d.qpos[self.b.arm.qadr].copy(), tcp, self._width(), safety, float(d.time), self._holding())

    def reachable(self, T: np.ndarray) -> bool:
        try:
            self._solve(self.controller._ik_q(self.b), self.T_world_base @ check_transform(T), "reachability")
        except UnreachableError:
            return False
        return True

    def move_to_pose(self, T: np.ndarray, speed: float, accel: float, timeout: float, linear: bool = True) -> None:
        target = self.T_world_base @ check_transform(T, "move_to_pose target")
        self._ready()
        c, b = self.controller, self.b
        start = self._tcp_world()
        q_full = c._ik_q(b)
        dist = float(np.linalg.norm(target[:3, 3] - start[:3, 3]))
        if linear:
            angle = float(Rotation.from_matrix(start[:3, :3].T @ target[:3, :3]).magnitude())
            n = max(1, math.ceil(max(dist / LINE_STEP, angle / ANGLE_STEP)))
            slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([start[:3, :3], target[:3, :3]])))
            path = []
            for i in range(1, n + 1):
                s = i / n
                way = pose_matrix(start[:3, 3] + s * (target[:3, 3] - start[:3, 3]), slerp([s]).as_matrix()[0])
                q_full, q = self._solve(q_full, way, "linear move")
                path.append(q)
            self._execute(timeout, lambda run: c._follow(run, path, dist, self._monitor(run), speed=speed))
        else:
            q_full, q = self._solve(c.seed(b, q_full, target[:3, 3]), target, "joint move")
            duration = max(dist / max(speed, 1e-6), 0.3)
            self._execute(timeout, lambda run: c._move(run, q, duration, self._monitor(run)))

    def move_joints(self, q: np.ndarray, speed: float, accel: float, timeout: float) -> None:
        q = np.asarray(q, float)
        if q.shape != (self.specs.dof,) or not np.isfinite(q).all():
            raise ValueError(f"move_joints: needs {self.specs.dof} finite joint values, got {q.tolist()}")
        self._ready()
        lo, hi = self.specs.joint_limits.T
        if ((q < lo - 1e-6) | (q > hi + 1e-6)).any():
            raise UnreachableError(f"joint target {q.round(3).tolist()} is outside the joint limits")
        duration = max(0.3, float(np.abs(q - self.b.q_des).max()) / max(speed, 1e-6))
        self._execute(timeout, lambda run: self.controller._move(run, q, duration, self._monitor(run)))

    def stop(self) -> None:
        """Hold where the arm is now (zero speed)."""
        d, b = self.sim.data, self.b
        b.q_des = d.qpos[b.arm.qadr].copy()
        d.ctrl[b.arm.act] = b.q_des

    def gripper(self, width: float, speed: float, force: float) -> float:
        self._ready()
        lo, hi = self.specs.gripper_range
        width = float(np.clip(width, lo, hi))
        c, b = self.controller, self.b
        if self.robot == "ur5e":
            act = b.arm.hand_act[0]
            clo, chi = self.sim.model.actuator_ctrlrange[act]
            self.sim.data.ctrl[act] = clo + (chi - clo) * (1.0 - width / UR_OPEN)
            travel = abs(self._width() - width)
            self._execute(5.0, lambda run: c._wait(run, max(c.config.close_time, travel / max(speed, 1e-3))))
        elif width < 0.5 * DEX3_OPEN_WIDTH:
            slot = self._nearest_object()
            if slot < 0:
                self._execute(5.0, lambda run: (c.hand(b, closed=True), c._wait(run, c.config.close_time)))
            else:
                self._execute(5.0, lambda run: c._close(run, slot))
        else:
            self._execute(5.0, c._open)
        return self._width()

    # --- internals ----------------------------------------------------------------------------
    def _ready(self) -> None:
        if not self.connected:
            raise ConnectionLostError("sim robot: not connected (call connect())")
        if self.safety == PROTECTIVE_STOP:
            raise ProtectiveStopError("sim robot: in a protective stop; an operator must clear it")
        if self.safety != NORMAL:
            raise RobotError(f"sim robot: safety state {self.safety}")

    def _solve(self, q_full: np.ndarray, T_world: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        q_new, sol = self.b.arm.ik.solve(q_full, T_world[:3, 3], T_world[:3, :3])
        if not sol.converged:
            raise UnreachableError(
                f"no IK solution for the {what} to {np.round(T_world[:3, 3], 3).tolist()} (world) "
                f"(residual {sol.pos_error * 100:.1f} cm, {math.degrees(sol.rot_error):.0f} deg)"
            )
        return q_new, sol.q

    def _execute(self, timeout: float, body) -> None:
        """Run ``body(run)`` with a sim-time budget of ``timeout``; controller failures become
        adapter exceptions (a stop leaves the arm holding where it is)."""
        run = Run.start(self.b, float(timeout))
        self.b.q_des = self.sim.data.ctrl[self.b.arm.act].copy()
        try:
            body(run)
        except ControlError as e:
            self.stop()
            if e.reason == "timeout":
                raise MotionTimeout(f"sim robot: {e.message}") from None
            if e.reason == "unstable":
                self.safety = FAULT
            raise RobotError(f"sim robot: {e.reason}: {e.message}") from None
        except ProtectiveStopError:
            self.stop()
            raise

    def _monitor(self, run: Run):
        """Every control period: a hard push on the table is a protective stop."""

        def check() -> None:
            m, d, robot, table = self.sim.model, self.sim.data, self.b.robot_geoms, self.b.table_geoms
            f = np.zeros(6)
            for i in range(d.ncon):
                g1, g2 = int(d.contact[i].geom1), int(d.contact[i].geom2)
                if (g1 in robot and g2 in table) or (g2 in robot and g1 in table):
                    mujoco.mj_contactForce(m, d, i, f)
                    if f[0] > self.table_force:
                        self.safety = PROTECTIVE_STOP
                        raise ProtectiveStopError(f"sim robot: pushed the table with {f[0]:.0f} N")

        return check

    def _width(self) -> float:
        m, d, b = self.sim.model, self.sim.data, self.b
        if self.robot == "ur5e":
            sides = b.arm.hand_geoms
            pads = {k: [g for g in sides[k] if "pad" in m.geom(g).name] or list(sides[k]) for k in ("left", "right")}
            gap = np.linalg.norm(d.geom_xpos[pads["left"]].mean(0) - d.geom_xpos[pads["right"]].mean(0))
            return float(np.clip(gap - 2 * PAD_HALF, 0.0, UR_OPEN))
        side = b.arm.spec.name
        return q_to_width(side, d.qpos[b.finger_qadr[side]])

    def _holding(self) -> bool:
        w = self.sim.world
        n = len(self.sim.scene.objects) if self.sim.scene is not None else 0
        return any(all(self.controller.finger_contacts(self.b, k)) for k in range(min(n, len(w.slot_geoms))))

    def _nearest_object(self, radius: float = 0.15) -> int:
        if self.sim.scene is None:
            return -1
        tcp = self._tcp_world()[:3, 3]
        best, slot = radius, -1
        for k in range(len(self.sim.scene.objects)):
            dist = float(np.linalg.norm(self.sim.world.object_pose(self.sim.data, k)[0] - tcp))
            if dist < best:
                best, slot = dist, k
        return slot

    def _ready_path(self) -> tuple[np.ndarray, ...]:
        """Joint waypoints from home to the tool pointing down over the table (UR5e: 25 cm above
        the table's centre line; G1: the controller's lift-first waypoint beside the legs, then
        20 cm above the table's near half on this arm's side)."""
        c, b = self.controller, self.b
        q_full = c._ik_q(b)
        if self.robot == "ur5e":
            over = np.array([-0.2, 0.0, TABLE_HEIGHT + 0.25])
            rot = c.tool_rotation(b, c.nominal_yaw(b))
            return (c._plan(b, c.seed(b, q_full, over), over, rot, "ready")[1],)
        side = 1.0 if b.arm.spec.name == "left" else -1.0
        over = np.array([-0.3, 0.2 * side, TABLE_HEIGHT + 0.2])
        q_full, q_via = c._plan(b, q_full, c._via(b), None, "ready via")
        q_full, q_over = c._plan(b, q_full, over, c.tool_rotation(b, 0.0), "ready")
        return (q_via, q_over)
