"""A tiny synchronous LSP client over TCP, stdlib only, that timestamps what it receives.

The benchmark has its own client rather than the project's so that it measures
the server and nothing else: every message is stamped with ``perf_counter()``
the moment its body has been read.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from typing import Any


class Client:
    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.ids = itertools.count(1)
        self.timeout = timeout

    def close(self) -> None:
        self.sock.close()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _frame(self) -> bytes | None:
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        length = None
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ConnectionError(f"frame without Content-Length: {head[:200]!r}")
        if len(rest) < length:
            return None
        self.buf = rest[length:]
        return rest[:length]

    def receive(self, timeout: float | None = None) -> tuple[float, dict[str, Any]] | None:
        """The next message and when it arrived; None if nothing came within ``timeout``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            body = self._frame()
            if body is not None:
                return time.perf_counter(), json.loads(body)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk

    def request(self, method: str, params: Any) -> int:
        rid = next(self.ids)
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def call(self, method: str, params: Any) -> Any:
        rid = self.request(method, params)
        while True:
            got = self.receive()
            if got is None:
                raise TimeoutError(method)
            _, msg = got
            if msg.get("id") == rid and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result")

    def initialize(self, root: str) -> Any:
        result = self.call(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": "file://" + root,
                "capabilities": {},
                "clientInfo": {"name": "reload_server-bench"},
            },
        )
        self.notify("initialized", {})
        return result

    def shutdown(self) -> None:
        try:
            self.call("shutdown", None)
            self.notify("exit")
        except (OSError, RuntimeError, TimeoutError):
            pass
