"""The raw-socket client: bytes no real client would send, and whole frames read back.

:class:`Raw` speaks the wire (``Content-Length`` frames of JSON-RPC) by hand over
one TCP connection, every read bounded in time, so a test can send malformed,
pipelined or cut-off input and see exactly what the server answers.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from support.waits import TIMEOUT


def frame(body: bytes) -> bytes:
    """``body`` with its ``Content-Length`` header, as it goes on the wire."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def message(obj: Any) -> bytes:
    """``obj`` as a framed JSON message."""
    return frame(json.dumps(obj).encode("utf-8"))


class Closed(Exception):
    """The server closed the connection."""


class Raw:
    """A raw TCP connection to the server: send bytes, read whole frames, bounded in time."""

    def __init__(self, address: tuple[str, int], timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self._ids = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_json(self, obj: Any) -> None:
        self.send(message(obj))

    def request(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        if msg_id is None:
            self._ids += 1
            msg_id = f"r{self._ids}"
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_json(msg)
        return msg_id

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send_json(msg)

    def half_close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no message from the server in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        except TimeoutError:
            raise TimeoutError("no message from the server in time") from None
        if not chunk:
            self.eof = True
            raise Closed()
        self.buf += chunk

    def receive(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; :class:`Closed` at end of stream, TimeoutError when none comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = None
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        assert length is not None, f"server sent a frame without Content-Length: {head!r}"
        while len(rest) < length:
            self.buf = head + b"\r\n\r\n" + rest
            self._fill(deadline)
            head, _, rest = self.buf.partition(b"\r\n\r\n")
        self.buf = rest[length:]
        return json.loads(rest[:length])

    def replies(
        self, ids: set[Any], timeout: float | None = None
    ) -> dict[Any, list[dict[str, Any]]]:
        """Read until every id in ``ids`` has a reply; every reply (by id) seen meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got: dict[Any, list[dict[str, Any]]] = {}
        while not ids <= set(got):
            msg = self.receive(max(deadline - time.monotonic(), 0.001))
            if "method" in msg:
                continue  # a notification (status, log, diagnostics)
            got.setdefault(_key(msg.get("id")), []).append(msg)
        return got

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """One request and its reply message (result or error)."""
        msg_id = self.request(method, params)
        return self.replies({msg_id})[msg_id][0]

    def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.call(
            "initialize",
            {"processId": None, "capabilities": {}, "initializationOptions": options or {}},
        )
        assert "result" in reply, reply
        self.notify("initialized", {})
        return reply["result"]

    def drain_until_closed(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Every message until the server closes the connection (TimeoutError if it does not)."""
        out = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                out.append(self.receive(max(deadline - time.monotonic(), 0.001)))
            except Closed:
                return out

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _key(msg_id: Any) -> Any:
    return msg_id if not isinstance(msg_id, list) else tuple(msg_id)


def reload_path(address: tuple[str, int], path: str, force: bool = False) -> dict[str, Any]:
    """A new client's well-formed ``reloadPath``: the reply (result or error)."""
    with Raw(address) as conn:
        conn.initialize()
        params: dict[str, Any] = {"path": path}
        if force:
            params["force"] = True
        return conn.call("reloadPath", params)
