"""Plain-socket clients of two UR-side servers: the Robotiq URCap gripper socket and the dashboard.

``RobotiqGripper``: the Robotiq Gripper URCap listens on port 63352 of the UR controller and
speaks ASCII lines: ``SET <VAR> <n> [<VAR> <n> ...]`` answered ``ack``, ``GET <VAR>`` answered
``<VAR> <n>``. Variables used: ``ACT`` (activate), ``GTO`` (go to), ``POS`` / ``SPE`` / ``FOR``
(0–255 request), ``STA`` (0 reset, 1 activating, 3 active), ``OBJ`` (0 moving, 1 stopped opening
on an object, 2 stopped closing on an object, 3 at the requested position), ``FLT`` (fault), and
``PRE`` (the echoed request). This client speaks metres, m/s and newtons: the 2F-85 opens
85 mm (position 0) and closes to 0 mm (about position 230, or the positions measured by
``calibrate``); speed 20–150 mm/s and force 20–235 N map linearly onto 0–255.

``DashboardReader``: the UR dashboard server (port 29999) answers one line per command. This
reader sends only read-only queries (``safetystatus``, ``robotmode``, ``is in remote control``,
``programState``); it has no way to send ``unlock protective stop``, power or brake commands:
clearing a stop is the operator's job on the pendant.
"""

from __future__ import annotations

import socket
import time

from roboref.deploy.robots.base import ConnectionLostError, RobotError

ROBOTIQ_PORT = 63352
DASHBOARD_PORT = 29999
#: 2F-85 stroke (m), speed (m/s) and force (N) ranges of its 0–255 registers.
STROKE = 0.085
SPEED_RANGE = (0.020, 0.150)
FORCE_RANGE = (20.0, 235.0)


class LineSocket:
    """A TCP connection exchanging newline-terminated ASCII lines, every wait bounded."""

    def __init__(self, host: str, port: int, timeout: float = 2.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self._buf = b""

    def open(self) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            raise ConnectionLostError(f"cannot connect to {self.host}:{self.port}: {e}") from None
        self.sock.settimeout(self.timeout)
        self._buf = b""

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def readline(self) -> str:
        if self.sock is None:
            raise ConnectionLostError(f"{self.host}:{self.port}: not connected")
        for _ in range(64):  # bounded: a line longer than 64 reads is a protocol error
            if b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                return line.decode("ascii", "replace").strip()
            try:
                chunk = self.sock.recv(1024)
            except OSError as e:  # timeout included
                raise ConnectionLostError(f"{self.host}:{self.port}: no answer ({e})") from None
            if not chunk:
                raise ConnectionLostError(f"{self.host}:{self.port}: connection closed by the peer")
            self._buf += chunk
        raise RobotError(f"{self.host}:{self.port}: answer too long")

    def ask(self, line: str) -> str:
        if self.sock is None:
            raise ConnectionLostError(f"{self.host}:{self.port}: not connected")
        try:
            self.sock.sendall(line.encode("ascii") + b"\n")
        except OSError as e:
            raise ConnectionLostError(f"{self.host}:{self.port}: send failed ({e})") from None
        return self.readline()


class RobotiqGripper:
    """A Robotiq 2F-85 behind the URCap socket, in metric units (module docstring)."""

    def __init__(self, host: str, port: int = ROBOTIQ_PORT, timeout: float = 2.0, poll: float = 0.02):
        self.link = LineSocket(host, port, timeout)
        self.poll = poll
        self.pos_open, self.pos_closed = 0, 230

    # --- protocol -----------------------------------------------------------------------------
    def set(self, **values: int) -> None:
        """``SET A 1 B 2 …`` in one line; anything but ``ack`` is an error."""
        body = " ".join(f"{k.upper()} {int(v)}" for k, v in values.items())
        reply = self.link.ask(f"SET {body}")
        if reply != "ack":
            raise RobotError(f"Robotiq: SET {body} answered {reply!r}")

    def get(self, var: str) -> int:
        var = var.upper()
        reply = self.link.ask(f"GET {var}")
        parts = reply.split()
        if len(parts) != 2 or parts[0] != var or not parts[1].lstrip("-").isdigit():
            raise RobotError(f"Robotiq: GET {var} answered {reply!r}")
        return int(parts[1])

    # --- lifecycle ----------------------------------------------------------------------------
    def connect(self, activate: bool = True, timeout: float = 5.0) -> None:
        self.link.open()
        if activate and self.get("STA") != 3:
            self.activate(timeout)

    def close(self) -> None:
        self.link.close()

    def activate(self, timeout: float = 5.0) -> None:
        """Reset (``ACT 0``), then activate (``ACT 1``) and wait for ``STA 3`` (the fingers
        travel their full stroke while activating: keep them clear)."""
        self.set(ACT=0)
        self._wait(lambda: self.get("STA") == 0, timeout, "reset")
        self.set(ACT=1)
        self._wait(lambda: self.get("STA") == 3, timeout, "activation")

    def calibrate(self, timeout: float = 5.0) -> None:
        """Measure the open and closed register positions (fully open, then fully closed with
        nothing between the fingers)."""
        self.set(GTO=1, POS=0, SPE=255, FOR=0)
        self._wait(lambda: self.get("OBJ") == 3, timeout, "opening")
        self.pos_open = self.get("POS")
        self.set(GTO=1, POS=255, SPE=255, FOR=0)
        self._wait(lambda: self.get("OBJ") == 3, timeout, "closing")
        self.pos_closed = self.get("POS")
        if self.pos_closed <= self.pos_open:
            raise RobotError(f"Robotiq: calibration gave open {self.pos_open} ≥ closed {self.pos_closed}")

    # --- metric -------------------------------------------------------------------------------
    def width_to_pos(self, width: float) -> int:
        frac = min(max(width / STROKE, 0.0), 1.0)
        return round(self.pos_closed - frac * (self.pos_closed - self.pos_open))

    def pos_to_width(self, pos: int) -> float:
        frac = (self.pos_closed - pos) / (self.pos_closed - self.pos_open)
        return STROKE * min(max(frac, 0.0), 1.0)

    @staticmethod
    def _scale(value: float, lo: float, hi: float) -> int:
        return round(255 * min(max((value - lo) / (hi - lo), 0.0), 1.0))

    def width(self) -> float:
        return self.pos_to_width(self.get("POS"))

    def object_detected(self) -> bool:
        return self.get("OBJ") in (1, 2)

    def move(self, width: float, speed: float, force: float, timeout: float = 5.0) -> tuple[float, bool]:
        """Go to ``width`` (m) at ``speed`` (m/s) with ``force`` (N); wait until the fingers stop.
        Returns the width reached and whether an object stopped them."""
        if self.get("STA") != 3:
            raise RobotError("Robotiq: gripper not active (STA != 3); call activate()")
        pos = self.width_to_pos(width)
        self.set(POS=pos, SPE=self._scale(speed, *SPEED_RANGE), FOR=self._scale(force, *FORCE_RANGE), GTO=1)
        self._wait(lambda: self.get("PRE") == pos, timeout, "request echo")
        obj = [0]

        def stopped() -> bool:
            obj[0] = self.get("OBJ")
            return obj[0] != 0

        self._wait(stopped, timeout, "motion")
        fault = self.get("FLT")
        if fault:
            raise RobotError(f"Robotiq: fault code {fault}")
        return self.width(), obj[0] in (1, 2)

    def _wait(self, done, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not done():
            if time.monotonic() > end:
                raise RobotError(f"Robotiq: {what} did not finish within {timeout:.1f} s")
            time.sleep(self.poll)


class DashboardReader:
    """Read-only UR dashboard client (module docstring)."""

    QUERIES = ("safetystatus", "robotmode", "is in remote control", "programState")

    def __init__(self, host: str, port: int = DASHBOARD_PORT, timeout: float = 2.0):
        self.link = LineSocket(host, port, timeout)
        self.welcome = ""

    def connect(self) -> None:
        self.link.open()
        self.welcome = self.link.readline()
        if "Dashboard" not in self.welcome:
            self.link.close()
            raise RobotError(f"dashboard: unexpected greeting {self.welcome!r}")

    def close(self) -> None:
        self.link.close()

    def query(self, command: str) -> str:
        if command not in self.QUERIES:
            raise ValueError(f"dashboard: {command!r} is not a read-only query; allowed: {self.QUERIES}")
        return self.link.ask(command)

    def safety_status(self) -> str:
        """E.g. ``NORMAL``, ``PROTECTIVE_STOP``, ``ROBOT_EMERGENCY_STOP`` (the text after the colon)."""
        reply = self.query("safetystatus")
        return reply.split(":", 1)[1].strip() if ":" in reply else reply

    def robot_mode(self) -> str:
        reply = self.query("robotmode")
        return reply.split(":", 1)[1].strip() if ":" in reply else reply

    def remote_control(self) -> bool:
        return self.query("is in remote control").strip().lower() == "true"
