"""``UnitreeG1Robot``: one G1 arm (with the waist) and its Dex3 hand over unitree_sdk2py's DDS channels.

Install with ``pip install 'roboref[unitree]'`` (``unitree_sdk2py``, imported only on ``connect``;
its pinned ``cyclonedds==0.10.2`` needs a source build on Python 3.11). How it drives the robot,
following unitree_sdk2_python's ``g1_arm7_sdk_dds_example``:

- ``ChannelFactoryInitialize(domain, interface)``: DDS domain 1 talks to a simulated robot
  (unitree_mujoco), 0 to a real one; ``simulated=True`` picks 1.
- ``LowCmd_`` on ``rt/arm_sdk``: per arm/waist motor ``q``, ``dq`` = 0, ``tau`` = 0, ``kp``,
  ``kd``; ``motor_cmd[29].q`` is the enable weight of arm_sdk, ramped 0 → 1 over ``ramp_time``
  on ``connect`` (holding the measured pose) and 1 → 0 on ``close``; ``crc`` = ``CRC().Crc(cmd)``
  on every message. A background thread streams the current target every ``control_dt``.
- ``LowState_`` from ``rt/lowstate`` gives the joints; no state for ``state_timeout`` reads as
  ``disconnected`` (and stops any move).
- Dex3: ``HandCmd_`` on ``rt/dex3/<side>/cmd`` (7 motors in the SDK's per-side order, mode byte
  = motor id | status 0x01 << 4), ``HandState_`` from ``rt/dex3/<side>/state``.
- ``read_only=True`` (``mode=shadow``) only subscribes: no publisher is ever made.
- IK and FK: mink on the same MJCF as the sim (``ArmIK``, pelvis fixed), so poses, joint order and
  the base frame (pelvis) match ``SimRobot('g1')``.

``sdk`` can be injected (a namespace of the SDK's names, see ``load_unitree_sdk``): the tests use
an in-process stub of the channel API (``tests/stubs/unitree_stub.py``).
"""

from __future__ import annotations

import math
import threading
import time
from types import SimpleNamespace

import numpy as np

from roboref.deploy.robots.base import (
    DISCONNECTED,
    FAULT,
    NORMAL,
    ConnectionLostError,
    MotionTimeout,
    RobotError,
    RobotState,
    UnreachableError,
    check_transform,
    pose_matrix,
)
from roboref.deploy.robots.dex3 import (
    DEX3_OPEN_WIDTH,
    from_motor_order,
    g1_arm_specs,
    q_to_width,
    to_motor_order,
    width_to_q,
)
from roboref.envs.control.ik import ArmIK
from roboref.envs.robots import G1_ARM, G1_WAIST
from roboref.envs.scene import TABLE_HEIGHT
from roboref.envs.world import ROBOT_PREFIX

#: unitree G1 (29-DoF) motor indices of the waist and arms, and the arm_sdk weight slot.
G1_MOTOR = {
    **{j: 12 + i for i, j in enumerate(G1_WAIST)},
    **{f"left_{j}_joint": 15 + i for i, j in enumerate(G1_ARM)},
    **{f"right_{j}_joint": 22 + i for i, j in enumerate(G1_ARM)},
}
WEIGHT = 29
#: The sim controller's lift-first waypoint (shoulder frame) that brings a hand over the table.
LIFT_VIA = np.array([-0.05, -0.12, -0.12])


def load_unitree_sdk() -> SimpleNamespace:
    """The unitree_sdk2py names this adapter uses (lazy: only ``connect`` needs the SDK)."""
    try:
        from unitree_sdk2py.core.channel import ChannelFactoryInitialize, ChannelPublisher, ChannelSubscriber
        from unitree_sdk2py.idl.default import unitree_hg_msg_dds__HandCmd_, unitree_hg_msg_dds__LowCmd_
        from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, HandState_, LowCmd_, LowState_
        from unitree_sdk2py.utils.crc import CRC
    except ImportError as e:
        raise ImportError(f"UnitreeG1Robot needs unitree_sdk2py: pip install 'roboref[unitree]' ({e})") from None
    return SimpleNamespace(
        ChannelFactoryInitialize=ChannelFactoryInitialize,
        ChannelPublisher=ChannelPublisher,
        ChannelSubscriber=ChannelSubscriber,
        LowCmd_=LowCmd_,
        LowState_=LowState_,
        HandCmd_=HandCmd_,
        HandState_=HandState_,
        new_low_cmd=unitree_hg_msg_dds__LowCmd_,
        new_hand_cmd=unitree_hg_msg_dds__HandCmd_,
        CRC=CRC,
    )


def palm_down(side: str, yaw: float = 0.0) -> np.ndarray:
    """The sim controller's palm-down hand rotation (fingers along ``yaw``), pelvis frame."""
    sign = 1.0 if side == "right" else -1.0
    x = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    y = np.array([0.0, 0.0, -sign])
    return np.column_stack([x, y, np.cross(x, y)])


class UnitreeG1Robot:
    """A ``RobotAdapter`` for one G1 arm + Dex3 hand (module docstring)."""

    def __init__(
        self,
        arm: str = "right",
        simulated: bool = False,
        read_only: bool = False,
        domain: int | None = None,
        network_interface: str | None = None,
        sdk: SimpleNamespace | None = None,
        kp: float = 60.0,
        kd: float = 1.5,
        hand_kp: float = 1.5,
        hand_kd: float = 0.2,
        control_dt: float = 0.02,
        ramp_time: float = 1.0,
        state_timeout: float = 0.5,
        connect_timeout: float = 3.0,
    ):
        if arm not in ("left", "right"):
            raise ValueError(f"UnitreeG1Robot: arm must be 'left' or 'right', got {arm!r}")
        self.side = arm
        self.read_only = read_only
        self.domain = domain if domain is not None else (1 if simulated else 0)
        self.network_interface = network_interface
        self.sdk = sdk
        self.kp, self.kd, self.hand_kp, self.hand_kd = kp, kd, hand_kp, hand_kd
        self.control_dt, self.ramp_time = control_dt, ramp_time
        self.state_timeout, self.connect_timeout = state_timeout, connect_timeout
        names = (*G1_WAIST, *(f"{arm}_{j}_joint" for j in G1_ARM))
        self.motors = [G1_MOTOR[n] for n in names]
        self.ik = ArmIK("g1", f"{ROBOT_PREFIX}{arm}_grasp", tuple(ROBOT_PREFIX + n for n in names), posture_cost=1e-2)
        m = self.ik.model
        limits = np.array([m.jnt_range[m.joint(ROBOT_PREFIX + n).id] for n in names], float)
        pelvis = self.ik.configuration.data.body(ROBOT_PREFIX + "pelvis")
        home = m.key(f"{ROBOT_PREFIX}home").qpos.copy()
        for j in np.flatnonzero(m.jnt_limited):  # the key's hand joints sit a hair past their limits
            a = m.jnt_qposadr[j]
            home[a] = np.clip(home[a], *m.jnt_range[j])
        self._home = home
        self.ik.configuration.update(self._home)
        self.T_world_base = pose_matrix(pelvis.xpos, pelvis.xmat.reshape(3, 3))
        self.specs = g1_arm_specs(f"g1-{arm}", arm, names, limits, palm_down(arm), self._ready_path())
        self._lock, self._pub_lock = threading.Lock(), threading.Lock()
        self._low = self._hand = None
        self._low_t = self._hand_t = -math.inf
        self._target: np.ndarray | None = None
        self._weight = 0.0
        self._stream: threading.Thread | None = None
        self._streaming = threading.Event()
        self.crc = None

    # --- kinematics ---------------------------------------------------------------------------
    def _full_q(self, q: np.ndarray) -> np.ndarray:
        return self.ik.full_q(dict(zip(self.ik.joint_names, q, strict=True)))

    def _fk(self, q: np.ndarray) -> np.ndarray:
        p, R = self.ik.site_pose(self._full_q(q))
        return np.linalg.inv(self.T_world_base) @ pose_matrix(p, R)

    def _solve(self, q_full: np.ndarray, T_base: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        T = self.T_world_base @ T_base
        q_new, sol = self.ik.solve(q_full, T[:3, 3], T[:3, :3])
        if not sol.converged:
            raise UnreachableError(f"G1 {self.side}: no IK solution for the {what} ({sol.pos_error * 100:.1f} cm off)")
        return q_new, sol.q

    def _ready_path(self) -> tuple[np.ndarray, ...]:
        """From the home pose: the sim controller's lift-first waypoint, then palm down 20 cm
        over the table's near half (the same waypoints as ``SimRobot('g1')``)."""
        sign = 1.0 if self.side == "right" else -1.0
        d = self.ik.configuration
        d.update(self._home)
        shoulder = d.data.body(f"{ROBOT_PREFIX}{self.side}_shoulder_pitch_link").xpos.copy()
        via = shoulder + LIFT_VIA * [1.0, sign, 1.0]
        over = np.array([-0.3, -0.2 * sign, TABLE_HEIGHT + 0.2])
        q_full, s1 = self.ik.solve(self._home, via, None)
        q_full, s2 = self.ik.solve(q_full, over, palm_down(self.side))
        if not (s1.converged and s2.converged):
            raise RuntimeError(f"G1 {self.side}: no IK solution for the ready waypoints (model changed?)")
        return (s1.q, s2.q)

    # --- connection ---------------------------------------------------------------------------
    def connect(self) -> None:
        sdk = self.sdk = self.sdk or load_unitree_sdk()
        if self.network_interface:
            sdk.ChannelFactoryInitialize(self.domain, self.network_interface)
        else:
            sdk.ChannelFactoryInitialize(self.domain)
        self.crc = sdk.CRC()
        self._cmd, self._hand_cmd = sdk.new_low_cmd(), sdk.new_hand_cmd()
        if not self.read_only:  # shadow mode: subscribers only, nothing is ever published
            self.arm_pub = sdk.ChannelPublisher("rt/arm_sdk", sdk.LowCmd_)
            self.arm_pub.Init()
            self.hand_pub = sdk.ChannelPublisher(f"rt/dex3/{self.side}/cmd", sdk.HandCmd_)
            self.hand_pub.Init()
        self.low_sub = sdk.ChannelSubscriber("rt/lowstate", sdk.LowState_)
        self.low_sub.Init(self._on_low, 10)
        self.hand_sub = sdk.ChannelSubscriber(f"rt/dex3/{self.side}/state", sdk.HandState_)
        self.hand_sub.Init(self._on_hand, 10)
        end = time.monotonic() + self.connect_timeout
        while self._low is None:
            if time.monotonic() > end:
                kind = "a simulated robot (unitree_mujoco)" if self.domain == 1 else "the real robot"
                raise ConnectionLostError(
                    f"G1: no rt/lowstate on DDS domain {self.domain} within {self.connect_timeout:.1f} s; is {kind} "
                    f"running, and is the network interface ({self.network_interface or 'default'}) the robot's?"
                )
            time.sleep(self.control_dt)
        self._target = self._measured()
        if self.read_only:
            return
        self._streaming.set()
        self._stream = threading.Thread(target=self._stream_loop, name="g1-arm-sdk", daemon=True)
        self._stream.start()
        self._ramp(1.0)

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._ramp(0.0)  # hand the arms back to the robot's own controller
            finally:
                self._streaming.clear()
                self._stream.join(timeout=1.0)
                self._stream = None
        for ch in ("low_sub", "hand_sub", "arm_pub", "hand_pub"):
            if hasattr(self, ch):
                getattr(self, ch).Close()

    def _on_low(self, msg) -> None:
        with self._lock:
            self._low, self._low_t = msg, time.monotonic()

    def _on_hand(self, msg) -> None:
        with self._lock:
            self._hand, self._hand_t = msg, time.monotonic()

    def _ramp(self, to: float) -> None:
        start = self._weight
        n = max(1, round(self.ramp_time / self.control_dt))
        for i in range(1, n + 1):
            self._weight = start + (to - start) * i / n
            self._publish_arm()  # every ramp step goes out, whatever the streamer's timing
            time.sleep(self.control_dt)

    def _stream_loop(self) -> None:
        while self._streaming.is_set():
            self._publish_arm()
            time.sleep(self.control_dt)

    def _publish_arm(self) -> None:
        with self._lock:
            target = None if self._target is None else self._target.copy()
        if target is None:
            return
        with self._pub_lock:  # the streamer and the ramp share one message
            cmd = self._cmd
            cmd.motor_cmd[WEIGHT].q = float(self._weight)
            for m, q in zip(self.motors, target, strict=True):
                mc = cmd.motor_cmd[m]
                mc.q, mc.dq, mc.tau, mc.kp, mc.kd = float(q), 0.0, 0.0, self.kp, self.kd
            cmd.crc = self.crc.Crc(cmd)
            self.arm_pub.Write(cmd)

    # --- state --------------------------------------------------------------------------------
    def _measured(self) -> np.ndarray:
        with self._lock:
            low = self._low
        if low is None:
            raise ConnectionLostError("G1: no lowstate received")
        return np.array([low.motor_state[m].q for m in self.motors], float)

    def _fresh(self) -> bool:
        return time.monotonic() - self._low_t < self.state_timeout

    def state(self) -> RobotState:
        if self._low is None:
            return RobotState(np.zeros(self.specs.dof), np.eye(4), float("nan"), DISCONNECTED, 0.0, None)
        q = self._measured()
        safety = NORMAL if self._fresh() else DISCONNECTED
        if safety == NORMAL and any(self._low.motor_state[m].motorstate for m in self.motors):
            safety = FAULT
        width = float("nan")
        if self._hand is not None:
            width = q_to_width(self.side, from_motor_order(self.side, [m.q for m in self._hand.motor_state[:7]]))
        return RobotState(q, self._fk(q), width, safety, float(self._low_t), None)

    def reachable(self, T: np.ndarray) -> bool:
        try:
            self._solve(self._full_q(self._measured()), check_transform(T), "reachability check")
        except (UnreachableError, ConnectionLostError):
            return False
        return True

    # --- motion -------------------------------------------------------------------------------
    def _ready(self) -> None:
        if self.read_only:
            raise RobotError("UnitreeG1Robot is read-only (shadow mode): nothing is published")
        if self._stream is None:
            raise ConnectionLostError("G1: not connected (call connect())")
        if not self._fresh():
            raise ConnectionLostError(f"G1: no rt/lowstate for {self.state_timeout:.2f} s")

    def move_joints(self, q: np.ndarray, speed: float, accel: float, timeout: float) -> None:
        q = np.asarray(q, float)
        if q.shape != (self.specs.dof,) or not np.isfinite(q).all():
            raise ValueError(f"G1: move_joints needs {self.specs.dof} finite joint values")
        lo, hi = self.specs.joint_limits.T
        if ((q < lo) | (q > hi)).any():
            raise UnreachableError(f"G1: joint target {q.round(3).tolist()} outside the joint limits")
        self._ready()
        start = self._target.copy()
        self._track([start + (q - start) * s for s in self._profile(float(np.abs(q - start).max()) / speed)], timeout)

    def move_to_pose(self, T: np.ndarray, speed: float, accel: float, timeout: float, linear: bool = True) -> None:
        T = check_transform(T, "move_to_pose target")
        self._ready()
        q_full = self._full_q(self._target)
        here = self._fk(self._target)
        dist = float(np.linalg.norm(T[:3, 3] - here[:3, 3]))
        if not linear:
            _, q = self._solve(q_full, T, "joint move")
            start = self._target.copy()
            self._track([start + (q - start) * s for s in self._profile(dist / speed)], timeout)
            return
        n = max(1, math.ceil(dist / 0.02))
        path = []
        for i in range(1, n + 1):
            way = pose_matrix(here[:3, 3] + (T[:3, 3] - here[:3, 3]) * i / n, T[:3, :3] if i == n else here[:3, :3])
            q_full, q = self._solve(q_full, way, "linear move")
            path.append(q)
        steps = max(1, round(dist / speed / self.control_dt / n))
        start, out = self._target.copy(), []
        for q in path:
            out += [start + (q - start) * k / steps for k in range(1, steps + 1)]
            start = q
        self._track(out, timeout)

    def _profile(self, duration: float) -> list[float]:
        n = max(1, math.ceil(max(duration, self.control_dt) * 1.5 / self.control_dt))
        return [(i / n) ** 2 * (3 - 2 * i / n) for i in range(1, n + 1)]

    def _track(self, targets: list[np.ndarray], timeout: float, tol: float = 0.02) -> None:
        """Feed ``targets`` one per control period, then wait until the joints arrive."""
        end = time.monotonic() + float(timeout)
        for q in targets:
            with self._lock:
                self._target = np.asarray(q, float)
            time.sleep(self.control_dt)
            self._check(end)
        while np.abs(self._measured() - self._target).max() > tol:
            self._check(end)
            time.sleep(self.control_dt)

    def _check(self, end: float) -> None:
        if not self._fresh():
            self.stop()
            raise ConnectionLostError(f"G1: rt/lowstate silent for {self.state_timeout:.2f} s during a move")
        if time.monotonic() > end:
            self.stop()
            raise MotionTimeout("G1: move did not finish within its timeout; holding")

    def stop(self) -> None:
        """Hold the last measured pose."""
        if self._low is not None:
            q = self._measured()  # takes the lock itself
            with self._lock:
                self._target = q

    def gripper(self, width: float, speed: float, force: float) -> float:
        self._ready()
        q = to_motor_order(self.side, width_to_q(self.side, width))
        kp = self.hand_kp * float(np.clip(force / self.specs.gripper_force_range[1], 0.1, 1.0))
        for i, mc in enumerate(self._hand_cmd.motor_cmd[:7]):
            mc.mode = (i & 0x0F) | (0x01 << 4)  # motor id, status 0x01 (enabled), no timeout bit
            mc.q, mc.dq, mc.tau, mc.kp, mc.kd = float(q[i]), 0.0, 0.0, kp, self.hand_kd
        n = max(1, math.ceil(DEX3_OPEN_WIDTH / max(speed, 1e-3) / self.control_dt))
        for _ in range(n):
            self.hand_pub.Write(self._hand_cmd)
            time.sleep(self.control_dt)
        s = self.state()
        if s.safety == DISCONNECTED:
            raise ConnectionLostError("G1: link lost while moving the hand")
        if s.safety != NORMAL:
            raise RobotError(f"G1: safety state {s.safety}")
        return s.gripper_width
