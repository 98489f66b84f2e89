"""Pick: plan a grasp on the object at the point, approach, descend, close, lift, and check.

The grasp plan tries each (grasp, tool tilt) option a robot proposes (``grasp_candidates``) and
takes the first whose pre-grasp, descent and lift all have IK solutions and whose open hand keeps
``min_grasp_clearance`` from everything else (else the planned option with most clearance). The
pick succeeds when both sides of the hand touch the object after closing and it rose at least
``min_lift`` while held.
"""

from __future__ import annotations

import math

import numpy as np

from roboref.envs.control.config import ControlConfig
from roboref.envs.control.errors import ControlError
from roboref.envs.control.state import Binding, Run
from roboref.envs.control.targets import GraspPose, check_on_table, grasp_pose


class Picking:
    """The pick phase and its robot hooks, mixed into ``Controller``."""

    config: ControlConfig
    max_grasp_width: float = 0.08
    grasp_tilts: tuple[float, ...] = (0.0,)
    #: A planned grasp whose ``grasp_clearance`` is at least this is taken at once; otherwise
    #: the planned option with the most clearance is.
    min_grasp_clearance: float = 0.0

    # --- robot hooks ------------------------------------------------------------------------
    def choose_arm(self, b: Binding, slot: int) -> None:
        """Pick the arm for object ``slot`` (one-arm robots: nothing to choose)."""

    def nominal_yaw(self, b: Binding) -> float:
        """The closing-direction yaw the wrist is nearest to now (the grasp yaw is wrapped to it)."""
        return 0.0

    def preferred_yaw(self, b: Binding, slot: int, bearing: float) -> float:
        """Closing-direction yaw preferred for round objects, given the target's bearing."""
        return bearing + math.pi / 2

    def grasp_tilt_options(self, grasp: GraspPose) -> tuple[float, ...]:
        """Tool tilts to try for ``grasp``, in order (default: ``grasp_tilts``)."""
        return self.grasp_tilts

    def grasp_candidates(self, b: Binding, slot: int, grasp: GraspPose, bearing: float) -> list:
        """(grasp, tilt) options to plan, in order of preference (default: ``grasp`` at each of
        ``grasp_tilt_options``)."""
        return [(grasp, tilt) for tilt in self.grasp_tilt_options(grasp)]

    def grasp_clearance(self, b: Binding, slot: int, path: list[np.ndarray]) -> float:
        """Clearance (m) of the open hand from everything but object ``slot`` along the planned
        arm configurations ``path`` (default: not checked, infinite)."""
        return math.inf

    def _approach(self, run: Run, q_pre: np.ndarray, monitor, above: np.ndarray, rot: np.ndarray) -> None:
        """Move from wherever the arm is to the pre-grasp configuration ``q_pre`` (the tool at
        ``above`` with rotation ``rot``)."""
        self._move(run, q_pre, monitor=monitor)

    def _close(self, run: Run, slot: int) -> None:
        """Close the hand on object ``slot`` (default: command closed, wait)."""
        self.hand(run.b, closed=True)
        self._wait(run, self.config.close_time)

    def on_grasp_closed(self, b: Binding, slot: int) -> None:
        """Hook after the fingers close (the G1's explicit assisted grasp uses it)."""

    # --- the phase --------------------------------------------------------------------------
    def _plan_grasp(self, b: Binding, slot: int, grasp: GraspPose, bearing: float) -> tuple:
        """The chosen grasp's plan: ``(q after lift, q_pre, descent path, lift path, above, at,
        lifted, rot)``. The tool leans outwards (about its closing axis) by a candidate's tilt:
        ``lean = (sin ψ, −cos ψ) · (cos β, sin β)`` ≥ 0 for yaw ψ and bearing β picks the sign."""
        cfg = self.config
        error: ControlError | None = None
        fallback = None
        for option, tilt in self.grasp_candidates(b, slot, grasp, bearing):
            lean = np.array([math.sin(option.yaw), -math.cos(option.yaw)]) @ [math.cos(bearing), math.sin(bearing)]
            rot = self.tool_rotation(b, option.yaw, tilt if lean >= 0 else -tilt)
            at = self.grasp_site_target(b, option, rot)
            above = at + [0, 0, cfg.approach_height + max(0.0, option.top - at[2])]
            lifted = at + [0, 0, cfg.lift_height]
            try:
                q = self.seed(b, self._ik_q(b), above)
                q, q_pre = self._plan(b, q, above, rot, "pre-grasp")
                q, down = self._plan_line(b, q, above, at, rot, "grasp")
                q, up = self._plan_line(b, q, at, lifted, rot, "lift")
            except ControlError as e:
                error = e
                continue
            candidate = (q, q_pre, down, up, above, at, lifted, rot)
            clearance = self.grasp_clearance(b, slot, [q_pre, *down])
            if clearance >= self.min_grasp_clearance:
                return candidate
            if fallback is None or clearance > fallback[0]:
                fallback = (clearance, candidate)
        if fallback is None:
            raise error
        return fallback[1]

    def _pick(self, run: Run, slot: int) -> None:
        """Grasp object ``slot`` and lift it ``lift_height``; ends holding it."""
        b, cfg = run.b, self.config
        sim = b.sim
        if b.held >= 0:
            raise ControlError("grasp_failed", f"the hand already holds object {b.held}")
        self.choose_arm(b, slot)
        origin = sim.data.body(b.arm.base_body).xpos
        obj = sim.world.object_pose(sim.data, slot)[0]
        bearing = math.atan2(obj[1] - origin[1], obj[0] - origin[0])
        b.bearing = bearing
        nominal = self.nominal_yaw(b)
        grasp = grasp_pose(sim.world, sim.data, slot, nominal, preferred_yaw=self.preferred_yaw(b, slot, bearing))
        check_on_table(sim.world, grasp.center, margin=0.0)
        if grasp.width > self.max_grasp_width:
            raise ControlError(
                "not_graspable",
                f"object {slot} is {grasp.width * 100:.1f} cm wide; the hand opens to "
                f"{self.max_grasp_width * 100:.1f} cm",
            )
        q, q_pre, down, up, above, at, lifted, rot = self._plan_grasp(b, slot, grasp, bearing)
        z0 = sim.world.object_pose(sim.data, slot)[0][2]
        monitor = self._collision_monitor(run, slot)
        self.hand(b, closed=False)
        run.phase = "approach"
        self._approach(run, q_pre, monitor, above, rot)
        run.phase = "descend"
        self._follow(run, down, float(above[2] - at[2]), monitor=monitor)
        run.phase = "close"
        self._close(run, slot)
        self.on_grasp_closed(b, slot)
        left, right = self.finger_contacts(b, slot)
        run.grasped = left and right
        if not run.grasped:
            raise ControlError("grasp_failed", f"fingers closed without holding object {slot}")
        b.held = slot
        b.carry_start = (q, lifted, rot)  # planned, reachable: the place plans from here
        run.phase = "lift"
        self._follow(run, up, cfg.lift_height)
        self._wait(run, 0.2)
        run.lift_height = float(sim.world.object_pose(sim.data, slot)[0][2] - z0)
        run.lifted = run.lift_height >= cfg.min_lift and self._holding(b, slot)
        if not run.lifted:
            raise ControlError("dropped", f"object {slot} rose only {run.lift_height * 100:.1f} cm")
