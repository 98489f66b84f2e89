"""``Controller``: pick and place at image points, composed of motion, contacts, pick and place.

A controller plans joint waypoints with mink IK on a robot-only model (``ArmIK``), then drives the
simulation's position actuators along them, stepping real physics: the object is held only by
finger contacts and friction. Each phase checks what physics did (contacts, object height,
stability); a failure ends the action with a ``ControlError`` that ``execute`` turns into the
``ExecutionResult``'s ``failure`` value, with the robot sent back home when that is still safe.

The controller itself holds only its robot's ``RobotSpec`` and its ``ControlConfig``; everything it
knows about one simulation lives in that sim's ``Binding`` (``bind``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from roboref.envs.camera import Frame
from roboref.envs.control.config import Action, ControlConfig
from roboref.envs.control.contacts import Contacts
from roboref.envs.control.errors import ControlError
from roboref.envs.control.motion import Motion
from roboref.envs.control.pick import Picking
from roboref.envs.control.place import Placing
from roboref.envs.control.result import ExecutionResult
from roboref.envs.control.state import Binding, Run, make_binding, make_rig
from roboref.envs.control.targets import GraspPose, PlacePose, place_pose, point_hit
from roboref.envs.robots import RobotSpec, get_robot
from roboref.envs.sim import Sim

__all__ = ["Action", "ControlConfig", "Controller"]


class Controller(Motion, Contacts, Picking, Placing):
    """Base of the robot controllers; subclasses add the hand, the tool's rotation and grasp.

    ``execute(sim, action)`` never raises for bad points or failed physics: it returns an
    ``ExecutionResult`` whose ``failure`` names what went wrong. The hand keeps a grasped object
    between calls on the same sim, so a ``pick`` followed by a ``place`` works like one
    ``pick_place``.
    """

    robot: str = ""
    #: IK joint limits narrowed to one solution branch, keyed by the spec's joint names.
    ik_ranges: dict[str, tuple[float, float]] | None = None
    ik_posture_cost: float = 1e-3
    #: Table area ((x_min, x_max), (y_min, y_max)) the arm reaches for places; None: the robot's
    #: scene workspace.
    reach_area: tuple[tuple[float, float], tuple[float, float]] | None = None

    @classmethod
    def place_area(cls, area: tuple[tuple[float, float], tuple[float, float]]):
        """``area`` within ``reach_area`` (``area`` itself when the arm reaches all of it): where
        place tasks for this arm should ask the held object to go."""
        if cls.reach_area is None:
            return tuple(tuple(v) for v in area)
        (x0, x1), (y0, y1) = area
        (rx0, rx1), (ry0, ry1) = cls.reach_area
        return (max(x0, rx0), min(x1, rx1)), (max(y0, ry0), min(y1, ry1))

    def __init__(self, config: ControlConfig | None = None, spec: RobotSpec | None = None, **overrides):
        base = config or ControlConfig()
        self.config = ControlConfig(**{**base.__dict__, **overrides})
        #: Names of sites, joints, actuators and hand bodies (``get_robot(robot)`` by default).
        self.spec = spec if spec is not None else get_robot(self.robot)
        if self.spec.name != self.robot:
            raise ValueError(f"{type(self).__name__} drives robot {self.robot!r}, not {self.spec.name!r}")
        if not self.spec.arms:
            raise ValueError(f"robot {self.spec.name!r}: RobotSpec field arms is empty")

    # --- binding to a sim -------------------------------------------------------------------
    def bind(self, sim: Sim) -> Binding:
        """This controller's state in ``sim``: made on first use (names resolved against the
        sim's world, IK built) and kept on the sim (``sim.bindings``), so it lives and dies
        with the sim and never mixes with another sim's."""
        b = sim.bindings.get(self)
        if b is None:
            if sim.world.robot.name != self.spec.name:
                raise ValueError(f"controller for {self.spec.name!r} cannot drive a {sim.world.robot.name!r} sim")
            b = self.make_binding(sim)
            sim.bindings[self] = b
        return b

    def make_binding(self, sim: Sim) -> Binding:
        """Resolve every arm of the spec in ``sim`` (robots with more per-sim state override)."""
        rigs = [make_rig(sim, self.spec, i, self.ik_ranges, self.ik_posture_cost) for i in range(len(self.spec.arms))]
        return make_binding(sim, rigs)

    # --- robot hooks ------------------------------------------------------------------------
    def tool_rotation(self, b: Binding, yaw: float, tilt: float = 0.0) -> np.ndarray:
        """World rotation of the end-effector site for a grasp closing along ``yaw``."""
        raise NotImplementedError

    def grasp_site_target(self, b: Binding, grasp: GraspPose, rot: np.ndarray) -> np.ndarray:
        """Where the site goes for ``grasp`` with the tool at rotation ``rot`` (world)."""
        raise NotImplementedError

    def hand(self, b: Binding, closed: bool) -> None:
        """Set the hand's actuators open or closed."""
        raise NotImplementedError

    def seed(self, b: Binding, q_full: np.ndarray, target: np.ndarray) -> np.ndarray:
        """A starting configuration for a far move's IK (default: where the robot is)."""
        return q_full

    def _go_home(self, run: Run) -> None:
        self._move(run, self._home_arm(run.b))

    # --- the public entry -------------------------------------------------------------------
    def execute(self, sim: Sim, action: Action, frame: Frame | None = None) -> ExecutionResult:
        """Pick at ``action.pick`` and/or place at ``action.place``; ``frame`` (depth and
        segmentation of ``config.camera``) is rendered when not given."""
        b = self.bind(sim)
        run = Run.start(b, self.config.max_sim_time)
        b.q_des = sim.data.ctrl[b.arm.act].copy()
        run.slot = b.held
        failure = message = ""
        if b.held >= 0 and not self._holding(b, b.held):
            b.held = -1  # the scene changed or the object fell since the last call
        if b.held < 0:
            b.carry_start = None
        try:
            reason = sim.check_state()
            if reason:
                raise ControlError("unstable", reason)
            run.phase = "target"
            pick, place = self._targets(run, action, frame)
            if pick is not None:
                run.phase = "plan pick"
                self._pick(run, pick)
            if place is not None:
                self._place(run, place)
        except ControlError as e:
            failure, message = e.reason, f"{run.phase}: {e.message}"
        if failure and failure != "unstable" and self.config.return_home:
            self._recover(run)
        if failure == "unstable":
            b.held = -1
        return self._result(run, action, failure, message)

    def _targets(self, run: Run, action: Action, frame: Frame | None) -> tuple[int | None, PlacePose | None]:
        """The object slot under the pick point and the place pose under the place point. The
        frame may be rendered at another size than the camera's own: K is rescaled by
        the ratio of the sizes."""
        sim, b = run.sim, run.b
        if frame is None or frame.depth is None or frame.seg is None:
            frame = sim.render(self.config.camera, rgb=False, depth=True, seg=True)
        K, T = sim.camera_pose(self.config.camera)
        K = K.copy()
        h, wid = frame.depth.shape
        cam_w, cam_h = sim.model.cam_resolution[sim.model.camera(self.config.camera).id]
        K[0] *= wid / cam_w  # not 2cx: a randomized principal point is off the centre
        K[1] *= h / cam_h
        pick = place = None
        if action.pick is not None:
            hit = point_hit(action.pick, frame, K, T, sim.max_depth)
            if hit.slot < 0:
                raise ControlError("no_object_at_point", f"pick point is on {_label_name(hit.label)}")
            pick = run.slot = hit.slot
        if action.place is not None:
            place = place_pose(sim.world, point_hit(action.place, frame, K, T, sim.max_depth))
            if pick is None and b.held < 0:
                raise ControlError("not_holding", "place asked with nothing in the hand")
        return pick, place

    def _recover(self, run: Run) -> None:
        """After a failure: open the hand, back straight up, go home (best effort, 5 s)."""
        b = run.b
        sim = b.sim
        run.budget = math.inf  # recovery has its own small budget below
        t_end = sim.data.time + 5.0
        try:
            self.on_release(b, b.held)
            self.hand(b, closed=False)
            b.held = -1
            here = self._site_pos(b)
            rot = sim.data.site(b.arm.site).xmat.reshape(3, 3).copy()
            q = self._ik_q(b)
            up = here + [0, 0, 0.12]
            try:
                q, path = self._plan_line(b, q, here, up, rot, "retreat")
                self._follow(run, path, 0.12)
            except ControlError as e:
                if e.reason != "ik_failed":
                    raise
            self._go_home(run)
            self._wait(run, 0.2)
        except ControlError:
            pass
        finally:
            run.budget = max(0.0, t_end - run.t_sim0)

    def _result(self, run: Run, action: Action, failure: str, message: str) -> ExecutionResult:
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
            holding=run.b.held >= 0,
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


def _label_name(label: int) -> str:
    return {0: "the background", 254: "the table", 255: "the robot"}.get(label, f"object {label - 1}")
