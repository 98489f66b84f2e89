"""Unitree G1 with Dex3 hands (pelvis fixed): one-arm top-down picks and places.

The pelvis stands 14 cm behind the table's edge (``mount_pos`` x = -0.64); the G1's scenes are
laid out where its hands reach palm-down (``RobotSpec.workspace``). The arm on the target's side
(world y < 0: right), helped by the waist, puts the hand palm down over the object with the
fingers pointing away from the shoulder. The hand opens with the thumb swung back (``_OPEN``),
so objects up to 10.5 cm across fit between thumb and fingers; the object's centre sits 12 cm
out along the fingers (further for wide ones, clear of the open thumb), ``LATERAL`` 2 cm across
the hand towards a finger (thin objects slipped between index and middle finger), and its top
3–7 cm under the palm (tall objects high in the hand; short ones so that the hanging thumb
clears the table).
Objects lower than 6 cm are taken with the fingers pitched down 0.5 rad, which brings the
fingertips as deep as the thumb. In clutter the approach yaw is searched (``grasp_candidates``:
the narrowest-side yaw first, then up to ±90° from it, the fingers within ``YAW_MAX`` of
pointing away from the shoulder and the side across them still fitting the hand): the first
planned option whose open hand stays ``CLEARANCE`` from the table and the neighbours at the
pre-grasp and along the descent (``grasp_clearance``: kinematics and ``mj_geomDistance`` on a
scratch ``MjData``) is taken, else the one with most clearance. From beside the legs the hand
comes in ``APPROACH_RISE`` above the pre-grasp, so that the hanging thumb passes over the
neighbours. The thumb then swings forward on the near side and the fingers curl down on the far
side, each digit stopping where it touches and squeezing ``SQUEEZE`` rad further (compliant
closing; the finger servos are force-limited to 1.4 N·m). The grasp is physical (finger contacts
and friction). ``assisted_grasp=True`` is an explicit, off-by-default option that, once a digit
touches the object, holds it at its pose relative to the palm (like a weld) until release;
results and logs carry ``assisted_grasp`` so assisted numbers are never mistaken for physical
ones. To release, the digits stop squeezing, open together smoothly and the hand waits until it
no longer touches the object; it then backs off straight up, slowly for the first 3 cm, and
rises before going home.

200 seeded scenes (``benchmarks/control_success.py --robots g1``, 2026-11-25): physical pick
71.1 % of all targets, 77.5 % of those that fit the hand, 86.2 % of those that fit and are in
reach (place 54.5 % / 60.6 %), 0.76 s mean wall per pick+place (2 shared cores; 0.64 s idle
before the last round); assisted pick 79.4 % / 86.5 % / 97.5 % (place 78.7 % / 88.6 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

from roboref.envs.control import assist
from roboref.envs.control.base import Controller
from roboref.envs.control.contacts import touching
from roboref.envs.control.errors import ControlError
from roboref.envs.control.motion import CHUNK
from roboref.envs.control.state import Binding, Run, make_binding, make_rig
from roboref.envs.control.targets import GraspPose, grasp_pose
from roboref.envs.robots import G1_FINGERS as _FINGERS
from roboref.envs.sim import Sim
from roboref.envs.world import ROBOT_PREFIX

#: Right-hand finger targets (rad); the left hand mirrors the signs of all but thumb_0.
#: Open: thumb swung back towards the wrist (its inner face 6 cm out along the fingers, its tip
#: 9–10 cm under the palm), fingers straight (level with the palm).
#: Closed: the thumb swings forward and down along the fingers, the fingers curl down and back, so
#: the object is squeezed between thumb (near side) and fingertips (far side).
_OPEN = {
    "thumb_0": 0.0,
    "thumb_1": 0.7,
    "thumb_2": 0.0,
    "index_0": 0.0,
    "index_1": 0.0,
    "middle_0": 0.0,
    "middle_1": 0.0,
}
_CLOSED = {
    "thumb_0": 0.0,
    "thumb_1": -1.0,
    "thumb_2": -0.6,
    "index_0": 1.5,
    "index_1": 1.2,
    "middle_0": 1.5,
    "middle_1": 1.2,
}


#: Extra curl (rad) past first contact. The servos are kp 500 but force-limited (1.4 N·m per
#: finger joint), so this saturates the squeeze instead of crushing; with 0.03 rad the digits
#: only pushed the object across the table (measured: 0.12 → 59 %, 0.2 → 64 % picks, 60 scenes).
#: 0.35: a digit keeps following an object that slips in the hand further (60 scenes: 43 → 46
#: picks, 0.5: 43; 200 scenes with the gentler release: 132 → 138 picks, 91 → 97 places).
SQUEEZE = 0.35
#: The object's top below the palm plane (wrist frame) for objects of SHORT height or more.
TOP = 0.03
#: Object centre along the fingers (wrist frame): at least XC0, and far enough out that its near
#: side clears the open thumb's inner face at THUMB_CLEAR (0.105 → 0.12: lone 3.5 cm blocks 2/6
#: → 6/6 picks, 60 scenes 74 → 78 % picks).
XC0, THUMB_CLEAR = 0.12, 0.055
#: The object's centre sits this far across the hand from the thumb's plane, towards a finger:
#: the index and middle fingers curl 2.8 cm either side of it, and thin objects (bottle necks,
#: small blocks) centred on the thumb slip through the gap between them (lone bottles 0/6 →
#: 6/6; 200 scenes: grasp_failed 31 → 15, picks 61.9 → 68.0 % of all targets).
LATERAL = 0.02
#: The open thumb (swung back) hangs THUMB_DEPTH below the palm plane: short objects are taken
#: with the palm higher, so that the thumb clears the table (at most TOP_MAX above their top).
THUMB_DEPTH, TOP_MAX = 0.10, 0.07
#: Objects lower than SHORT are taken with the fingers pitched down by SHORT_TILT.
SHORT, SHORT_TILT, SHORT_TOP = 0.06, 0.5, 0.04
#: Approach yaws tried (rad from the narrowest-side grasp's, fingers kept within YAW_MAX of
#: pointing away from the shoulder) when the open hand would come closer than CLEARANCE to a
#: neighbour or the table on the way down; neighbours further than NEAR from the target are
#: not checked.
YAW_OFFSETS = (0.35, -0.35, 0.7, -0.7, 1.05, -1.05, math.pi / 2)
YAW_MAX, CLEARANCE, NEAR = 1.2, 0.01, 0.3
#: The hand comes in this far above the pre-grasp, then goes down to it.
APPROACH_RISE = 0.08
#: Release: the digits open over RELEASE_TIME, then up to RELEASE_WAIT passes until the hand no
#: longer touches the object; the hand backs off the first RETREAT_SLOW at RETREAT_SPEED.
RELEASE_TIME, RELEASE_WAIT = 0.3, 0.3
RETREAT_SLOW, RETREAT_SPEED = 0.03, 0.1
#: Going home, the hand first rises this far above the higher of where it is and the waypoint.
HOME_RISE = 0.05


@dataclass
class G1Binding(Binding):
    """The G1's state in one sim: besides both arms, each hand's finger qpos addresses and open
    targets, a scratch ``MjData`` for clearance checks, and the assisted grasp's hold while it
    is on."""

    finger_qadr: dict[str, np.ndarray] = field(default_factory=dict)
    finger_open: dict[str, np.ndarray] = field(default_factory=dict)
    scratch: mujoco.MjData | None = None
    hold: assist.Hold | None = None


def _sign(b: Binding) -> float:
    """+1 for the right hand, -1 for the left (the left hand mirrors all finger signs but thumb_0)."""
    return 1.0 if b.arm.spec.name == "right" else -1.0


def _mirrored(preset: dict[str, float], sign: float) -> dict[str, float]:
    return {f: preset[f] if (sign > 0 or f == "thumb_0") else -preset[f] for f in _FINGERS}


class G1Controller(Controller):
    """Picks and places with the G1 arm on the target's side; the other arm stays home.

    Names come from ``RobotSpec.arms`` (``right`` and ``left``): grasp sites, waist + arm
    joints, shoulder bodies, the Dex3 finger actuators (in ``G1_FINGERS`` order), the
    ``thumb``/``index``/``middle``/``palm`` hand bodies and the palm body."""

    robot = "g1"
    max_grasp_width = 0.105
    ik_posture_cost = 1e-2
    #: Measured reach map with the waist bending (pelvis fixed at x = -0.64): palm-down grasps
    #: reach x = 0.02 for |y| < 0.3, x = -0.14 at |y| = 0.48; places (carried object, higher
    #: hand) stay inside this rectangle.
    reach_area = ((-0.44, -0.12), (-0.40, 0.40))
    grasp_tilts = (0.0, math.radians(20))
    #: Above-the-table waypoint (relative to the shoulder) that takes the hand from hanging
    #: beside the legs to over the table without sweeping through the table's edge.
    lift_via = np.array([-0.05, -0.12, -0.12])

    def make_binding(self, sim: Sim) -> G1Binding:
        m = sim.model
        rigs = [make_rig(sim, self.spec, i, self.ik_ranges, self.ik_posture_cost) for i in range(len(self.spec.arms))]
        qadr, open_ = {}, {}
        for rig in rigs:
            sign = 1.0 if rig.spec.name == "right" else -1.0
            qadr[rig.spec.name] = np.array([int(m.jnt_qposadr[m.actuator_trnid[a, 0]]) for a in rig.hand_act], int)
            open_[rig.spec.name] = np.array(list(_mirrored(_OPEN, sign).values()))
        return make_binding(sim, rigs, G1Binding, finger_qadr=qadr, finger_open=open_, scratch=mujoco.MjData(m))

    def _use(self, b: Binding, side: str) -> None:
        """Switch the acting arm (IK, joints, actuators, site) to ``side``."""
        if side == b.arm.spec.name:
            return
        b.arm = b.arms[side]
        b.q_des = b.sim.data.ctrl[b.arm.act].copy()

    def choose_arm(self, b: Binding, slot: int) -> None:
        if b.held < 0:
            y = b.sim.world.object_pose(b.sim.data, slot)[0][1]
            self._use(b, "right" if y < 0 else "left")

    # --- geometry ---------------------------------------------------------------------------
    def tool_rotation(self, b: Binding, yaw: float, tilt: float = 0.0) -> np.ndarray:
        """Palm down, fingers (site x) pointing along ``yaw``; ``tilt`` pitches the fingers
        down about the finger-spread axis."""
        sign = _sign(b)
        tilt = abs(tilt)  # the G1 only ever pitches its fingers down
        x = np.array([math.cos(yaw), math.sin(yaw), 0.0])
        y = np.array([0.0, 0.0, -sign])  # the palm normal (+y right hand, -y left hand) points down
        z = np.cross(x, y)
        R = np.column_stack([x, y, z])
        c, s = math.cos(tilt), math.sin(tilt)
        return R @ np.array([[c, -s * sign, 0.0], [s * sign, c, 0.0], [0.0, 0.0, 1.0]])

    def grasp_tilt_options(self, grasp: GraspPose) -> tuple[float, ...]:
        if grasp.top - grasp.bottom < SHORT:
            return (SHORT_TILT, *self.grasp_tilts)
        return self.grasp_tilts

    def nominal_yaw(self, b: Binding) -> float:
        return b.bearing

    def grasp_candidates(self, b: Binding, slot: int, grasp: GraspPose, bearing: float) -> list:
        """The narrowest-side grasp first, then the same object approached at other yaws (fingers
        closing across a side that still fits the hand), each at every tilt option."""
        options = [grasp]
        for off in YAW_OFFSETS:
            yaw = grasp.yaw + off
            if abs(math.remainder(yaw - bearing, 2 * math.pi)) > YAW_MAX:
                continue
            g = grasp_pose(b.sim.world, b.sim.data, slot, bearing, fixed_yaw=yaw)
            if g.width <= self.max_grasp_width and all(abs(g.yaw - o.yaw) > 0.1 for o in options):
                options.append(g)
        return [(g, tilt) for g in options for tilt in self.grasp_tilt_options(g)]

    min_grasp_clearance = CLEARANCE

    def grasp_clearance(self, b: G1Binding, slot: int, path: list[np.ndarray]) -> float:
        """Smallest distance of the open hand from the table and from objects within NEAR of
        the target, over the arm configurations ``path`` (kinematics on a scratch copy)."""
        sim, side = b.sim, b.arm.spec.name
        m, d, w = sim.model, b.scratch, sim.world
        centre = sim.data.xpos[w.slot_body[slot]]
        others = [int(g) for g in w.table_geoms]
        for k in range(w.n_slots):
            if k != slot and np.linalg.norm(sim.data.xpos[w.slot_body[k]][:2] - centre[:2]) < NEAR:
                others += [int(g) for g in w.slot_geoms[k] if m.geom_contype[g] or m.geom_conaffinity[g]]
        d.qpos[:] = sim.data.qpos
        d.qpos[b.finger_qadr[side]] = b.finger_open[side]
        hand = sorted(set().union(*b.arm.hand_geoms.values()))
        best = math.inf
        fromto = np.zeros(6)
        for q in path:
            d.qpos[b.arm.qadr] = q
            mujoco.mj_kinematics(m, d)
            for h in hand:
                for o in others:
                    best = min(best, mujoco.mj_geomDistance(m, d, h, o, CLEARANCE, fromto))
                    if best < 0:
                        return best
        return best

    def preferred_yaw(self, b: Binding, slot: int, bearing: float) -> float:
        return bearing  # fingers point away from the shoulder

    def _via(self, b: Binding) -> np.ndarray:
        shoulder = b.sim.data.body(b.arm.base_body).xpos
        return shoulder + self.lift_via * [1.0, _sign(b), 1.0]

    def _near_home(self, b: Binding) -> bool:
        return float(np.abs(b.sim.data.qpos[b.arm.qadr] - self._home_arm(b)).max()) < 0.3

    def _approach(self, run: Run, q_pre: np.ndarray, monitor, above: np.ndarray, rot: np.ndarray) -> None:
        """From hanging beside the legs, first lift the hand to above table height (behind the
        table's edge), then go to APPROACH_RISE above the pre-grasp (so that the hanging thumb
        and fingers pass over the neighbours) and down to it."""
        b = run.b
        if self._near_home(b):
            q = self._ik_q(b)
            q, q_via = self._plan(b, q, self._via(b), None, "lift-first waypoint")
            self._move(run, q_via, monitor=monitor)
            try:
                _, q_high = self._plan(b, q, above + [0, 0, APPROACH_RISE], rot, "over the pre-grasp")
                self._move(run, q_high, monitor=monitor)
            except ControlError:  # out of reach higher up: straight to the pre-grasp
                pass
        self._move(run, q_pre, monitor=monitor)

    def _go_home(self, run: Run) -> None:
        b = run.b
        if not self._near_home(b):
            start, via = self._site_pos(b), self._via(b)
            try:  # straight up (clear of what was just set down), then along a line to the waypoint
                rise = np.array([start[0], start[1], max(start[2], via[2]) + HOME_RISE])
                q, p_up = self._plan_line(b, self._ik_q(b), start, rise, None, "rise", step=0.05)
                q, p_via = self._plan_line(b, q, rise, via, None, "lift-first waypoint", step=0.05)
                self._follow(run, p_up, float(np.linalg.norm(rise - start)))
                self._follow(run, p_via, float(np.linalg.norm(via - rise)))
            except ControlError:  # no IK for the waypoint: go home directly
                pass
        self._move(run, self._home_arm(b))

    def grasp_site_target(self, b: Binding, grasp: GraspPose, rot: np.ndarray) -> np.ndarray:
        """The object sits under the fingers between the open thumb and the fingertips, its top
        ``TOP`` (short objects: ``SHORT_TOP``) below the palm plane (wrist frame)."""
        sign = _sign(b)
        c = np.asarray(grasp.center)
        xc = max(XC0, THUMB_CLEAR + grasp.width / 2)
        height = grasp.top - grasp.bottom
        top = SHORT_TOP if height < SHORT else min(TOP_MAX, max(TOP, THUMB_DEPTH - height))
        obj_in_hand = np.array([xc, sign * (top + grasp.top - c[2]), LATERAL])
        site_in_hand = np.array([0.13, sign * 0.045, 0.0])
        return c + rot @ (site_in_hand - obj_in_hand)

    # --- hand -------------------------------------------------------------------------------
    def hand(self, b: Binding, closed: bool) -> None:
        targets = _mirrored(_CLOSED if closed else _OPEN, _sign(b))
        for f, act in zip(_FINGERS, b.arm.hand_act, strict=True):
            lo, hi = b.sim.model.actuator_ctrlrange[act]
            b.sim.data.ctrl[act] = float(np.clip(targets[f], lo, hi))

    def _close(self, run: Run, slot: int) -> None:
        """Compliant closing: each digit (thumb, index, middle) curls from open towards closed
        and stops where it touches the object, then squeezes by ``SQUEEZE`` rad. The G1's hand
        servos are stiff (kp 500, no force limit): closing blindly to a far target crushes and
        flings small objects."""
        b = run.b
        sim, rig = b.sim, b.arm
        m, d = sim.model, sim.data
        digits = {
            "thumb": ("thumb_1", "thumb_2"),
            "index": ("index_0", "index_1"),
            "middle": ("middle_0", "middle_1"),
        }
        digit_geoms = {k: rig.hand_geoms[k] for k in digits}
        fingers = dict(zip(_FINGERS, rig.hand_act, strict=True))
        start, goal = _mirrored(_OPEN, _sign(b)), _mirrored(_CLOSED, _sign(b))
        stopped: dict[str, float] = {}
        dt = m.opt.timestep * 10
        n = max(1, int(self.config.close_time / dt))
        for i in range(1, n + 1):
            touch = touching(sim, slot)
            if self.config.assisted_grasp and touch & (
                digit_geoms["thumb"] | digit_geoms["index"] | digit_geoms["middle"]
            ):
                self._weld(b, slot)  # explicit assisted option: hold it as first touched
                break
            for k, joints in digits.items():
                if k not in stopped and touch & digit_geoms[k]:
                    stopped[k] = i / n
                s = stopped.get(k, i / n)
                for f in joints:
                    act = fingers[f]
                    q = start[f] + (goal[f] - start[f]) * s
                    if k in stopped:
                        q += SQUEEZE * np.sign(goal[f] - start[f])
                    lo, hi = m.actuator_ctrlrange[act]
                    d.ctrl[act] = float(np.clip(q, lo, hi))
            self._step(run, 10)
        self._wait(run, 0.2)

    def finger_contacts(self, b: G1Binding, slot: int) -> tuple[bool, bool]:
        if b.hold is not None and b.hold.slot == slot:
            return True, True  # assisted: held to the hand (reported as assisted_grasp)
        geoms = b.arm.hand_geoms
        touch = touching(b.sim, slot)
        return bool(touch & (geoms["thumb"] | geoms["palm"])), bool(touch & (geoms["index"] | geoms["middle"]))

    # --- assisted grasp (explicit option) ---------------------------------------------------
    def on_grasp_closed(self, b: Binding, slot: int) -> None:
        if self.config.assisted_grasp and any(self.finger_contacts(b, slot)):
            self._weld(b, slot)

    def _weld(self, b: G1Binding, slot: int) -> None:
        """Assisted grasp: hold the object to the palm from now on (``assist.hold``)."""
        if b.hold is None:
            b.hold = assist.hold(b.sim, slot, b.sim.model.body(ROBOT_PREFIX + b.arm.spec.palm_body).id)

    def _step(self, run: Run, n: int) -> None:
        """A physics step; with the assisted hold on, the object then follows the palm."""
        super()._step(run, n)
        if run.b.hold is not None:
            assist.follow(run.sim, run.b.hold)

    def on_release(self, b: G1Binding, slot: int) -> None:
        if b.hold is not None:
            assist.release(b.sim, b.hold)
            b.hold = None

    def _open(self, run: Run) -> None:
        """Release: first let go of the squeeze (each digit's target set to where it is, so it
        stops pushing), then open thumb and fingers together over ``RELEASE_TIME``, then wait
        (at most ``RELEASE_WAIT``) until nothing of the hand touches the object any more: the
        stiff servos snapping open, or the hand moving off while a digit still touches, drag
        and fling it."""
        b = run.b
        sim = b.sim
        d = sim.data
        acts = list(b.arm.hand_act)
        d.ctrl[acts] = d.qpos[b.finger_qadr[b.arm.spec.name]]
        self._step(run, 2 * CHUNK)
        start = d.ctrl[acts].copy()
        self.hand(b, closed=False)
        goal = d.ctrl[acts].copy()
        n = max(1, int(round(RELEASE_TIME / (sim.model.opt.timestep * CHUNK))))
        for i in range(1, n + 1):
            s = i / n
            d.ctrl[acts] = start + (goal - start) * s * s * (3 - 2 * s)
            self._step(run, CHUNK)
        slot = b.held
        hand = set().union(*b.arm.hand_geoms.values())
        for _ in range(max(1, int(round(RELEASE_WAIT / (sim.model.opt.timestep * CHUNK))))):
            self._step(run, CHUNK)
            if slot < 0 or not (touching(sim, slot) & hand):
                break

    def _retreat(self, run: Run, q_full: np.ndarray, at: np.ndarray, rot: np.ndarray) -> None:
        """Back off straight up, slowly for the first ``RETREAT_SLOW`` (a digit still brushing
        the object drags it less), then at the usual speed."""
        b = run.b
        q, slow = self._plan_line(b, q_full, at, at + [0, 0, RETREAT_SLOW], rot, "retreat", step=0.01)
        q, rest = self._plan_line(b, q, at + [0, 0, RETREAT_SLOW], at + [0, 0, 0.1], rot, "retreat")
        self._follow(run, slow, RETREAT_SLOW, speed=RETREAT_SPEED)
        self._follow(run, rest, 0.1 - RETREAT_SLOW)
