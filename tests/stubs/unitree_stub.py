"""An in-process stub of unitree_sdk2py's channel API, its ``unitree_hg`` messages and its CRC, plus
a tiny simulated G1 answering on the bus, for testing ``UnitreeG1Robot`` without the SDK (its
pinned ``cyclonedds==0.10.2`` has no Python 3.11 wheel) or a robot.

Faithful to unitree_sdk2_python (read at its GitHub source): ``ChannelFactoryInitialize(id,
networkInterface)``, ``ChannelPublisher(name, type).Init() / Write(sample, timeout) / Close()``,
``ChannelSubscriber(name, type).Init(handler, queueLen) / Read(timeout) / Close()``; message
fields of ``unitree_hg.msg.dds_`` ``LowCmd_`` (35 ``MotorCmd_``), ``LowState_``, ``HandCmd_``,
``HandState_``; the default constructors of ``unitree_sdk2py.idl.default``; and ``CRC().Crc(msg)``:
the SDK's little-endian packing of the HG ``LowCmd_`` (``'<2B2x' + 'B3x5fI' * 35 + '5I'``) into
32-bit words, minus the last, through its CRC-32 (polynomial 0x04C11DB7, init 0xFFFFFFFF, no
reflection) — the pure-Python path of ``unitree_sdk2py/utils/crc.py``. Delivery is synchronous:
``Write`` calls the subscribers' handlers of the same topic on the same DDS domain id.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

# --- the bus ----------------------------------------------------------------------------------
_BUS: dict[tuple[int, str], list] = {}
_DOMAIN: list[int | None] = [None]


def ChannelFactoryInitialize(id: int = 0, networkInterface: str | None = None) -> None:  # noqa: N802
    _DOMAIN[0] = id


def reset_bus() -> None:
    _BUS.clear()
    _DOMAIN[0] = None


class ChannelPublisher:
    def __init__(self, name: str, type):
        if _DOMAIN[0] is None:
            raise Exception("channel factory init error.")
        self.name, self.type, self.domain, self.inited = name, type, _DOMAIN[0], False

    def Init(self) -> None:  # noqa: N802
        self.inited = True

    def Close(self) -> None:  # noqa: N802
        self.inited = False

    def Write(self, sample, timeout: float | None = None) -> bool:  # noqa: N802
        if not self.inited:
            return False
        if not isinstance(sample, self.type):
            raise TypeError(f"{self.name} carries {self.type.__name__}, got {type(sample).__name__}")
        for sub in list(_BUS.get((self.domain, self.name), [])):
            sub._deliver(sample)
        return True


class ChannelSubscriber:
    def __init__(self, name: str, type):
        if _DOMAIN[0] is None:
            raise Exception("channel factory init error.")
        self.name, self.type, self.domain = name, type, _DOMAIN[0]
        self.handler = None
        self.last = None

    def Init(self, handler=None, queueLen: int = 0) -> None:  # noqa: N802
        self.handler = handler
        _BUS.setdefault((self.domain, self.name), []).append(self)

    def Close(self) -> None:  # noqa: N802
        subs = _BUS.get((self.domain, self.name), [])
        if self in subs:
            subs.remove(self)

    def Read(self, timeout: int | None = None):  # noqa: N802
        msg, self.last = self.last, None
        return msg

    def _deliver(self, sample) -> None:
        self.last = sample
        if self.handler is not None:
            self.handler(sample)


# --- unitree_hg messages ------------------------------------------------------------------------
@dataclass
class MotorCmd_:  # noqa: N801
    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    tau: float = 0.0
    kp: float = 0.0
    kd: float = 0.0
    reserve: int = 0
    __idl_typename__ = "unitree_hg.msg.dds_.MotorCmd_"


@dataclass
class LowCmd_:  # noqa: N801
    mode_pr: int = 0
    mode_machine: int = 0
    motor_cmd: list = field(default_factory=lambda: [MotorCmd_() for _ in range(35)])
    reserve: list = field(default_factory=lambda: [0, 0, 0, 0])
    crc: int = 0
    __idl_typename__ = "unitree_hg.msg.dds_.LowCmd_"


@dataclass
class MotorState_:  # noqa: N801
    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    ddq: float = 0.0
    tau_est: float = 0.0
    temperature: list = field(default_factory=lambda: [0, 0])
    vol: float = 0.0
    sensor: list = field(default_factory=lambda: [0, 0])
    motorstate: int = 0
    reserve: list = field(default_factory=lambda: [0, 0, 0, 0])
    __idl_typename__ = "unitree_hg.msg.dds_.MotorState_"


@dataclass
class LowState_:  # noqa: N801
    version: list = field(default_factory=lambda: [0, 0])
    mode_pr: int = 0
    mode_machine: int = 0
    tick: int = 0
    imu_state: object = None
    motor_state: list = field(default_factory=lambda: [MotorState_() for _ in range(35)])
    wireless_remote: list = field(default_factory=lambda: [0] * 40)
    reserve: list = field(default_factory=lambda: [0, 0, 0, 0])
    crc: int = 0
    __idl_typename__ = "unitree_hg.msg.dds_.LowState_"


@dataclass
class HandCmd_:  # noqa: N801
    motor_cmd: list = field(default_factory=lambda: [MotorCmd_() for _ in range(7)])
    reserve: list = field(default_factory=lambda: [0, 0, 0, 0])
    __idl_typename__ = "unitree_hg.msg.dds_.HandCmd_"


@dataclass
class HandState_:  # noqa: N801
    motor_state: list = field(default_factory=lambda: [MotorState_() for _ in range(7)])
    press_sensor_state: list = field(default_factory=list)
    imu_state: object = None
    power_v: float = 0.0
    power_a: float = 0.0
    system_v: float = 0.0
    device_v: float = 0.0
    error: list = field(default_factory=lambda: [0, 0])
    reserve: list = field(default_factory=lambda: [0, 0])
    __idl_typename__ = "unitree_hg.msg.dds_.HandState_"


def unitree_hg_msg_dds__LowCmd_() -> LowCmd_:  # noqa: N802
    return LowCmd_()


def unitree_hg_msg_dds__HandCmd_() -> HandCmd_:  # noqa: N802
    return HandCmd_()


# --- CRC ----------------------------------------------------------------------------------------
_HG_LOWCMD_FMT = "<2B2x" + "B3x5fI" * 35 + "5I"


class CRC:
    def Crc(self, msg) -> int:  # noqa: N802
        if msg.__idl_typename__ != "unitree_hg.msg.dds_.LowCmd_":
            raise TypeError("unknown IDL message type to crc")
        data = [msg.mode_pr, msg.mode_machine]
        for m in msg.motor_cmd:
            data += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve]
        data += list(msg.reserve) + [msg.crc]
        packed = struct.pack(_HG_LOWCMD_FMT, *data)
        words = [int.from_bytes(packed[i * 4 : i * 4 + 4], "little") for i in range(len(packed) // 4 - 1)]
        return _crc32_core(words)


def _crc32_core(words: list[int]) -> int:
    crc, poly = 0xFFFFFFFF, 0x04C11DB7
    for current in words:
        bit = 1 << 31
        for _ in range(32):
            crc = ((crc << 1) & 0xFFFFFFFF) ^ poly if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
            if current & bit:
                crc ^= poly
            bit >>= 1
    return crc


def stub_sdk() -> SimpleNamespace:
    """The names ``UnitreeG1Robot`` takes from unitree_sdk2py, from this stub."""
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


# --- a simulated G1 on the bus --------------------------------------------------------------------
class StubG1:
    """Answers ``rt/arm_sdk`` and ``rt/dex3/<side>/cmd`` on domain ``domain``: every arm command
    with a valid CRC moves each commanded joint a fraction ``track`` of the way to
    ``weight · q_cmd + (1 − weight) · q`` and publishes ``rt/lowstate``; commands with a bad CRC
    are counted and ignored. ``drop()`` stops it answering (a lost link)."""

    def __init__(self, domain: int = 1, q0: np.ndarray | None = None, track: float = 0.5):
        ChannelFactoryInitialize(domain)
        self.q = np.zeros(35) if q0 is None else np.asarray(q0, float).copy()
        self.hand_q = {"left": np.zeros(7), "right": np.zeros(7)}
        self.track, self.weights, self.bad_crc, self.alive = track, [], 0, True
        self.hand_cmds: dict[str, list] = {"left": [], "right": []}
        self.state_pub = ChannelPublisher("rt/lowstate", LowState_)
        self.state_pub.Init()
        self.arm_sub = ChannelSubscriber("rt/arm_sdk", LowCmd_)
        self.arm_sub.Init(self._on_arm, 10)
        self.hand_pubs = {}
        for side in ("left", "right"):
            pub = ChannelPublisher(f"rt/dex3/{side}/state", HandState_)
            pub.Init()
            self.hand_pubs[side] = pub
            ChannelSubscriber(f"rt/dex3/{side}/cmd", HandCmd_).Init(lambda m, s=side: self._on_hand(s, m), 10)
        self.crc = CRC()
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, period: float = 0.005) -> StubG1:
        """Publish ``rt/lowstate`` every ``period`` s from a thread, like the robot does."""

        def loop() -> None:
            while self._thread is not None:
                self.publish()
                time.sleep(period)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        t, self._thread = self._thread, None
        if t is not None:
            t.join(timeout=1.0)

    def drop(self) -> None:
        self.alive = False

    def publish(self) -> None:
        if not self.alive:
            return
        st = LowState_()
        with self.lock:
            for i, m in enumerate(st.motor_state):
                m.q = float(self.q[i])
        self.state_pub.Write(st)
        for side, pub in self.hand_pubs.items():
            hs = HandState_()
            for i, m in enumerate(hs.motor_state):
                m.q = float(self.hand_q[side][i])
            pub.Write(hs)

    def _on_arm(self, cmd: LowCmd_) -> None:
        if not self.alive:
            return
        if self.crc.Crc(cmd) != cmd.crc:
            self.bad_crc += 1
            return
        w = float(np.clip(cmd.motor_cmd[29].q, 0.0, 1.0))
        self.weights.append(w)
        with self.lock:
            for i in range(12, 29):
                m = cmd.motor_cmd[i]
                if m.kp > 0:
                    goal = w * m.q + (1 - w) * self.q[i]
                    self.q[i] += self.track * (goal - self.q[i])

    def _on_hand(self, side: str, cmd: HandCmd_) -> None:
        if not self.alive:
            return
        self.hand_cmds[side].append(cmd)
        with self.lock:
            for i, m in enumerate(cmd.motor_cmd):
                self.hand_q[side][i] = m.q
