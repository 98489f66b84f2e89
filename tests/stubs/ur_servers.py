"""Small socket servers on 127.0.0.1 that speak the Robotiq URCap (port 63352) and UR dashboard
(port 29999) protocols, for testing the clients without a robot. Every loop is bounded: a server
handles at most ``max_lines`` lines per connection and stops within ``timeout`` of ``close``."""

from __future__ import annotations

import socket
import threading


class LineServer:
    """Accepts connections on an ephemeral port; ``handle(line) -> reply | None`` per line."""

    greeting: str | None = None

    def __init__(self, max_lines: int = 2000, timeout: float = 0.2):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(timeout)
        self.port = self.sock.getsockname()[1]
        self.max_lines, self.timeout = max_lines, timeout
        self.received: list[str] = []
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def handle(self, line: str) -> str | None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        conn.settimeout(self.timeout)
        buf = b""
        lines = 0
        try:
            if self.greeting:
                conn.sendall(self.greeting.encode() + b"\n")
            while not self._stop.is_set() and lines < self.max_lines:
                try:
                    chunk = conn.recv(1024)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode().strip()
                    self.received.append(line)
                    lines += 1
                    reply = self.handle(line)
                    if reply is None:  # drop the connection (a lost link)
                        conn.close()
                        return
                    conn.sendall(reply.encode() + b"\n")
        except OSError:
            return
        finally:
            conn.close()

    def drop_connections(self) -> None:
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self.drop_connections()
        self.sock.close()
        self.thread.join(timeout=2)


class RobotiqServer(LineServer):
    """A 2F-85 behind the URCap: activation takes ``activation_polls`` ``GET STA`` polls, a motion
    ``motion_polls`` ``GET OBJ`` polls; an object at register ``object_at`` stops closing
    fingers (``OBJ 2``)."""

    def __init__(self, object_at: int | None = None, activation_polls: int = 2, motion_polls: int = 2, **kw):
        self.vars = {"ACT": 0, "GTO": 0, "POS": 0, "PRE": 0, "SPE": 0, "FOR": 0, "STA": 0, "OBJ": 3, "FLT": 0}
        self.object_at = object_at
        self.activation_polls, self.motion_polls = activation_polls, motion_polls
        self._sta_polls = self._obj_polls = 0
        self._goal: int | None = None
        self.lock = threading.Lock()
        super().__init__(**kw)

    def handle(self, line: str) -> str | None:
        parts = line.split()
        with self.lock:
            if len(parts) >= 3 and parts[0] == "SET" and len(parts) % 2 == 1:
                pairs = dict(zip(parts[1::2], parts[2::2], strict=True))
                for k, v in pairs.items():
                    if k not in self.vars or not v.isdigit() or not 0 <= int(v) <= 255:
                        return "?"
                for k, v in pairs.items():
                    self._set(k, int(v))
                return "ack"
            if len(parts) == 2 and parts[0] == "GET" and parts[1] in self.vars:
                return f"{parts[1]} {self._get(parts[1])}"
            return "?"

    def _set(self, k: str, v: int) -> None:
        if k == "ACT":
            self.vars["ACT"] = v
            self.vars["STA"] = 1 if v else 0
            self._sta_polls = 0
        elif k == "POS":
            self.vars["PRE"] = v
        else:
            self.vars[k] = v
        if self.vars["GTO"] == 1 and self.vars["STA"] == 3 and k in ("POS", "GTO"):
            self._goal, self._obj_polls = self.vars["PRE"], 0
            self.vars["OBJ"] = 0

    def _get(self, k: str) -> int:
        if k == "STA" and self.vars["STA"] == 1:
            self._sta_polls += 1
            if self._sta_polls >= self.activation_polls:
                self.vars["STA"] = 3
        if k == "OBJ" and self._goal is not None:
            self._obj_polls += 1
            if self._obj_polls >= self.motion_polls:
                goal, self._goal = self._goal, None
                pos = self.vars["POS"]
                if self.object_at is not None and pos <= self.object_at < goal:
                    self.vars["POS"], self.vars["OBJ"] = self.object_at, 2
                else:
                    self.vars["POS"], self.vars["OBJ"] = goal, 3
        return self.vars[k]


class DashboardServer(LineServer):
    """The UR dashboard: a greeting, then one reply line per command."""

    greeting = "Connected: Universal Robots Dashboard Server"

    def __init__(self, safety: str = "NORMAL", mode: str = "RUNNING", remote: bool = True, **kw):
        self.safety, self.mode, self.remote = safety, mode, remote
        super().__init__(**kw)

    def handle(self, line: str) -> str | None:
        if line == "safetystatus":
            return f"Safetystatus: {self.safety}"
        if line == "robotmode":
            return f"Robotmode: {self.mode}"
        if line == "is in remote control":
            return "true" if self.remote else "false"
        if line == "programState":
            return "STOPPED <unnamed>"
        if line == "unlock protective stop":
            self.safety = "NORMAL"
            return "Protective stop releasing"
        return f"could not understand: '{line}'"
