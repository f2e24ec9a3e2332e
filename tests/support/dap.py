"""A small Debug Adapter Protocol client for tests: drives a real debugpy over TCP.

:class:`DebugClient` connects to ``python -m debugpy --listen PORT`` (the
adapter), records every event it is sent, and answers requests as plain JSON
bodies.  :meth:`DebugClient.attach` is the handshake an editor does
(initialize, attach, the ``initialized`` event, setBreakpoints,
configurationDone).  Every wait is for a message, bounded by
:data:`support.waits.TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from support.waits import TIMEOUT, wait_until_async


class DebugError(AssertionError):
    """A request the adapter answered with ``success: false``."""


class DebugClient:
    """One DAP connection; ``events`` holds every event body received, in order, with its name."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._seq = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._received = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def connect(self, port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> None:
        """Connect to the adapter, retrying while it is not listening yet."""

        async def attempt() -> bool:
            try:
                self._reader, self._writer = await asyncio.open_connection(host, port)
            except OSError:
                return False
            return True

        async def until_connected() -> None:
            while not await attempt():
                await asyncio.sleep(0.05)

        await asyncio.wait_for(until_connected(), timeout)
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        reader = self._reader
        assert reader is not None
        try:
            while True:
                headers: dict[str, str] = {}
                while True:
                    line = (await reader.readline()).decode("ascii")
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                self._dispatch(body)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the debug adapter closed the connection"))
            self._received.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "response":
            future = self._pending.pop(message["request_seq"], None)
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "event":
            self.events.append((message["event"], message.get("body") or {}))
        elif kind == "request":
            # Reverse requests (runInTerminal, startDebugging): none is needed here.
            self._send(
                {
                    "type": "response",
                    "request_seq": message["seq"],
                    "command": message.get("command"),
                    "success": False,
                    "message": "not supported by the test client",
                }
            )
        self._received.set()

    def _send(self, message: dict[str, Any]) -> int:
        assert self._writer is not None
        self._seq += 1
        message = {"seq": self._seq, **message}
        data = json.dumps(message).encode("utf-8")
        self._writer.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        return self._seq

    def send(self, command: str, arguments: dict[str, Any] | None = None) -> asyncio.Future[Any]:
        """Send a request; a future for its response's ``body`` (DebugError when it failed)."""
        seq = self._send({"type": "request", "command": command, "arguments": arguments or {}})
        response: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[seq] = response

        async def body() -> Any:
            message = await asyncio.wait_for(response, TIMEOUT)
            if not message.get("success"):
                raise DebugError(
                    f"{command} failed: {message.get('message')} {message.get('body')}"
                )
            return message.get("body") or {}

        return asyncio.ensure_future(body())

    async def request(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Send a request and wait for its response's ``body``."""
        return await self.send(command, arguments)

    async def event(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda body: True,
        after: int = 0,
        timeout: float = TIMEOUT,
    ) -> dict[str, Any]:
        """The body of the first event ``name`` (from index ``after``) that ``predicate`` accepts."""

        def found() -> list[dict[str, Any]]:
            # In a list: an empty body is falsy, and would look like no event at all.
            return [
                body for event, body in self.events[after:] if event == name and predicate(body)
            ][:1]

        async def next_message() -> None:
            self._received.clear()
            await self._received.wait()

        [body] = await wait_until_async(found, timeout, what=f"DAP event {name}", wake=next_message)
        return body

    async def attach(
        self, breakpoints: dict[str, list[int]] | None = None, **attach_arguments: Any
    ) -> None:
        """The editor's handshake; ``breakpoints`` maps files to lines."""
        await self.request(
            "initialize",
            {
                "clientID": "reload_server-tests",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
            },
        )
        # debugpy answers attach only after configurationDone.
        attached = self.send("attach", {"justMyCode": True, **attach_arguments})
        await self.event("initialized")
        for file, lines in (breakpoints or {}).items():
            await self.set_breakpoints(file, lines)
        await self.request("configurationDone")
        await attached

    async def set_breakpoints(self, file: str, lines: list[int]) -> list[dict[str, Any]]:
        body = await self.request(
            "setBreakpoints",
            {"source": {"path": file}, "breakpoints": [{"line": line} for line in lines]},
        )
        return body["breakpoints"]

    async def stopped(self, after: int = 0) -> dict[str, Any]:
        """The next ``stopped`` event (from index ``after``)."""
        return await self.event("stopped", after=after)

    async def top_frame(self, thread_id: int) -> dict[str, Any]:
        body = await self.request("stackTrace", {"threadId": thread_id, "levels": 1})
        return body["stackFrames"][0]

    async def evaluate(self, expression: str, frame_id: int) -> str:
        body = await self.request(
            "evaluate", {"expression": expression, "frameId": frame_id, "context": "repl"}
        )
        return body["result"]

    async def close(self) -> None:
        """Disconnect (letting the program run on) and stop reading."""
        if self._writer is not None and not self._writer.is_closing():
            try:
                await asyncio.wait_for(self.request("disconnect", {"terminateDebuggee": False}), 5)
            except Exception:  # noqa: BLE001 - the adapter may be gone already
                pass
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
