"""A small, synchronous LSP client over TCP, stdlib only.

Used by ``python -m reload_server reload``: it must start fast and must not
import pygls.  It speaks just enough LSP for the reload server: initialize /
initialized, requests, shutdown / exit, skipping the server's notifications
while it waits for a reply (they are kept in :attr:`LspClient.notifications`).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from typing import Any

from .codes import METHOD_NOT_FOUND
from .framing import MAX_BODY, encode


class RpcError(Exception):
    """A JSON-RPC error reply."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.data = data


class LspClient:
    """One connection to a reload server."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self.sock.makefile("rb")
        self._ids = itertools.count(1)
        self.notifications: list[dict[str, Any]] = []

    def __enter__(self) -> LspClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- framing ---------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(encode(message))

    def receive(self) -> dict[str, Any]:
        """The next message; raises ``ConnectionError`` if the server closed the connection."""
        length = None
        while True:
            line = self._file.readline(8192)
            if not line:
                raise ConnectionError("the server closed the connection")
            line = line.strip()
            if not line:
                if length is None:
                    continue
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
                if length > MAX_BODY:
                    raise ConnectionError(f"message of {length} bytes from the server is too large")
        body = self._file.read(length)
        if len(body) != length:
            raise ConnectionError("the server closed the connection inside a message")
        return json.loads(body)

    # -- messages --------------------------------------------------------------

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def request(self, method: str, params: Any = None) -> Any:
        """Send a request and wait for its reply; its result, or :class:`RpcError`."""
        msg_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {method} within {self.timeout:.0f} s")
            reply = self.receive()
            if reply.get("id") == msg_id and "method" not in reply:
                if "error" in reply:
                    error = reply["error"] or {}
                    raise RpcError(
                        error.get("code", 0), error.get("message", ""), error.get("data")
                    )
                return reply.get("result")
            if "method" in reply and "id" in reply:
                # A request from the server: this client supports none of them.
                self.send(
                    {
                        "jsonrpc": "2.0",
                        "id": reply["id"],
                        "error": {
                            "code": METHOD_NOT_FOUND,
                            "message": "not supported by this client",
                        },
                    }
                )
            elif "method" in reply:
                self.notifications.append(reply)

    def initialize(
        self, options: dict[str, Any] | None = None, name: str = "reload_server-cli"
    ) -> Any:
        """The LSP handshake (initialize, then initialized); the InitializeResult."""
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": name},
                "rootUri": None,
                "capabilities": {},
                "initializationOptions": options or {},
            },
        )
        self.notify("initialized", {})
        return result

    def close(self) -> None:
        """Polite goodbye (shutdown, exit), then close; never raises."""
        try:
            self.request("shutdown")
            self.notify("exit")
        except (OSError, RpcError, ValueError):
            pass
        try:
            self._file.close()
            self.sock.close()
        except OSError:
            pass
