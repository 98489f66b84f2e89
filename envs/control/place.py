"""Place: carry the held object over the place point, lower it, release, and check its rest.

The carry rises straight up to a height clearing every object near the straight path (by
``carry_clearance``), crosses, and lowers the object's bottom to ``place_clearance`` above the
surface; lower carry heights (3 cm steps) and the tool tilts are tried when IK fails. After the
release and ``settle_time``, the place succeeds when the object rests within ``place_radius`` of
the point, on the surface there, tilted at most ``max_tilt`` and slower than ``max_rest_speed``.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from roboref.envs.control.config import ControlConfig
from roboref.envs.control.errors import ControlError
from roboref.envs.control.state import Binding, Run
from roboref.envs.control.targets import PlacePose, grasp_pose
from roboref.envs.scene import TABLE_HEIGHT
from roboref.envs.sim import Sim


def about_y(angle: float) -> np.ndarray:
    """Rotation by ``angle`` about the y axis."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def tilt_of(quat) -> float:
    """Angle (rad) between a body's z axis and world z: arccos of its rotation matrix's R₃₃."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, float))
    return float(np.arccos(np.clip(mat[8], -1.0, 1.0)))


def is_round(sim: Sim, slot: int) -> bool:
    """Balls, apples and oranges: any orientation at rest is upright."""
    m, geoms = sim.model, sim.world.slot_geoms[slot]
    main = max(geoms, key=lambda g: float(np.prod(m.geom_aabb[g, 3:])))
    return int(m.geom_type[main]) in (
        int(mujoco.mjtGeom.mjGEOM_SPHERE),
        int(mujoco.mjtGeom.mjGEOM_ELLIPSOID),
    )


def corridor_top(sim: Sim, exclude: int, a, b, width: float = 0.15) -> float:
    """Highest object top within ``width`` of the segment ``a → b`` (or the table surface): an
    object at p is near when |a + t(b − a) − p| < width, t = clamp((p − a)·(b − a) / |b − a|², 0, 1)."""
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


class Placing:
    """The place phase and its robot hooks, mixed into ``Controller``."""

    config: ControlConfig
    grasp_tilts: tuple[float, ...] = (0.0,)

    # --- robot hooks ------------------------------------------------------------------------
    def on_release(self, b: Binding, slot: int) -> None:
        """Hook before the hand opens."""

    def _open(self, run: Run) -> None:
        """Open the hand to release (default: command open, wait)."""
        self.hand(run.b, closed=False)
        self._wait(run, self.config.open_time)

    def _retreat(self, run: Run, q_full: np.ndarray, at: np.ndarray, rot: np.ndarray) -> None:
        """After a place, back the hand away from the released object (default: 10 cm up)."""
        q, path = self._plan_line(run.b, q_full, at, at + [0, 0, 0.1], rot, "retreat")
        self._follow(run, path, 0.1)

    # --- the phase --------------------------------------------------------------------------
    def _plan_carry(self, b: Binding, slot: int, q0, start, rot, target, site_above_bottom: float) -> tuple:
        """Up, over and down paths for the carry of ``slot`` with the site ``start → target``:
        ``(q at the target, up, over, p_up, p_over, p_down, rot)``. Carry heights from the
        corridor's highest top + ``carry_clearance`` (+ the site's height above the object's
        bottom) down to ``floor`` in 3 cm steps, at each tool tilt (leaning the tool towards its
        −x axis when ``lean = −R[:2, 0] · r̂`` ≥ 0 for the radial direction r̂)."""
        sim, cfg = b.sim, self.config
        floor = max(start[2], target[2] + 0.03)
        top = corridor_top(sim, slot, start[:2], target[:2]) + cfg.carry_clearance + site_above_bottom
        origin = sim.data.body(b.arm.base_body).xpos
        radial = np.subtract(target[:2], origin[:2])
        radial /= max(float(np.linalg.norm(radial)), 1e-9)
        error: ControlError | None = None
        for tilt in self.grasp_tilts:
            lean = -rot[:2, 0] @ radial  # tilt leans the tool towards its -x axis
            rot_t = rot @ about_y(-(tilt if lean >= 0 else -tilt))
            for carry_z in [*np.arange(max(top, floor), floor, -0.03), floor]:
                up = np.array([start[0], start[1], carry_z])
                over = np.array([target[0], target[1], carry_z])
                try:
                    tol = cfg.carry_tolerance
                    q, p_up = self._plan_line(b, q0, start, up, rot_t, "carry", pos_tol=tol)
                    q, p_over = self._plan_line(b, q, up, over, rot_t, "carry", step=0.05, pos_tol=tol)
                    q, p_down = self._plan_line(b, q, over, target, rot_t, "place")
                    return q, up, over, p_up, p_over, p_down, rot_t
                except ControlError as e:
                    error = e
        raise error

    def _place(self, run: Run, place: PlacePose) -> None:
        """Carry the held object to ``place``, release it, go home, and check where it rests."""
        b, cfg = run.b, self.config
        sim, w = b.sim, b.sim.world
        slot = b.held
        run.slot = slot
        run.place_target = place.position
        held = grasp_pose(w, sim.data, slot)
        site = self._site_pos(b)
        # site relative to the held object's bottom centre (its geometry, which may have turned
        # in the hand, not its body origin)
        offset = site - np.array([held.center[0], held.center[1], held.bottom])
        if b.carry_start is not None:
            q0, start, rot = b.carry_start
        else:
            q0, start = self._ik_q(b), site.copy()
            rot = sim.data.site(b.arm.site).xmat.reshape(3, 3).copy()
        target = np.asarray(place.position) + [0, 0, cfg.place_clearance] + offset
        run.phase = "plan place"
        q, up, over, p_up, p_over, p_down, rot = self._plan_carry(b, slot, q0, start, rot, target, offset[2])

        def still_held() -> None:
            if not self._holding(b, slot):
                raise ControlError("dropped", f"object {slot} slipped out of the hand while carrying")

        run.phase = "carry"
        self._follow(run, p_up, float(np.linalg.norm(up - start)), monitor=still_held)
        self._follow(run, p_over, float(np.linalg.norm(over - up)), monitor=still_held)
        run.phase = "lower"
        self._follow(run, p_down, float(np.linalg.norm(over - target)))
        run.phase = "release"
        self.on_release(b, slot)
        self._open(run)
        b.held = -1
        b.carry_start = None
        self._retreat(run, q, target, rot)
        if cfg.return_home:
            run.phase = "home"
            self._go_home(run)
        run.phase = "settle"
        self._wait(run, cfg.settle_time)
        self._check_rest(run, slot, place)

    def _check_rest(self, run: Run, slot: int, place: PlacePose) -> None:
        """Placed: the object's centre within ``place_radius`` of the point (horizontally) and
        its bottom on the surface there; stable: tilt ≤ ``max_tilt`` (round objects: any) and
        speed ≤ ``max_rest_speed``."""
        sim, cfg, w = run.sim, self.config, run.sim.world
        _, quat = w.object_pose(sim.data, slot)
        rest = grasp_pose(w, sim.data, slot)
        run.distance = float(np.hypot(*(np.asarray(rest.center[:2]) - np.asarray(place.position[:2]))))
        tilt = 0.0 if is_round(sim, slot) else tilt_of(quat)
        dadr = w.slot_dadr[slot]
        speed = float(np.linalg.norm(sim.data.qvel[dadr : dadr + 3]))
        on_surface = abs(rest.bottom - place.position[2]) < 0.03 or place.surface_label < 254
        run.stable = tilt <= cfg.max_tilt and speed <= cfg.max_rest_speed
        run.placed = run.distance <= cfg.place_radius and on_surface
        if not run.stable:
            raise ControlError("unstable", f"placed object tilted {math.degrees(tilt):.0f} deg, speed {speed:.2f} m/s")
        if not run.placed:
            raise ControlError("dropped", f"object came to rest {run.distance * 100:.1f} cm from the place point")
