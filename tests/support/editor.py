"""The pygls test editor: a real LSP client connected to an app over TCP.

:class:`Editor` completes the LSP handshake and records every notification it is
sent (diagnostics, log lines, ``reloadServer/status``); the ``connect`` fixture
makes them.  Results of our own requests stay plain JSON.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol

from support.waits import TIMEOUT, wait_until_async

T = TypeVar("T")

RAW_RESULTS = {"reloadPath", "reloadStale", "workspace/executeCommand", "initialize"}


@attrs.define
class RawResponse:
    id: int | str
    jsonrpc: str
    result: Any = None


@attrs.define
class RawNotification:
    method: str
    jsonrpc: str
    params: Any = None


class EditorProtocol(LanguageServerProtocol):
    """pygls's client protocol, keeping our results and status as plain JSON (not namedtuples)."""

    def get_result_type(self, method: str) -> Any:
        if method in RAW_RESULTS:
            return RawResponse
        return super().get_result_type(method)

    def get_message_type(self, method: str) -> Any:
        if method == "reloadServer/status":
            return RawNotification
        return super().get_message_type(method)


class Editor:
    """A real LSP client (pygls) connected to an app over TCP, recording what it is sent."""

    def __init__(self, name: str = "test-editor") -> None:
        self.name = name
        self.client = LanguageClient(name, "1.0", protocol_cls=EditorProtocol)
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.published: list[tuple[str, list[types.Diagnostic]]] = []
        self.logs: list[types.LogMessageParams] = []
        self.statuses: list[dict[str, Any]] = []
        self.init_result: dict[str, Any] | None = None
        self.said_goodbye = False
        self._event = asyncio.Event()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            self.published.append((params.uri, list(params.diagnostics)))
            self._event.set()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            self.logs.append(params)
            self._event.set()

        @self.client.feature("reloadServer/status")
        def _status(params: Any) -> None:
            self.statuses.append(params)
            self._event.set()

    async def connect(
        self,
        address: tuple[str, int],
        options: dict[str, Any] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> dict[str, Any]:
        await asyncio.wait_for(self.client.start_tcp(*address), TIMEOUT)
        result = await self.request(
            "initialize",
            types.InitializeParams(
                capabilities=capabilities or types.ClientCapabilities(),
                process_id=os.getpid(),
                client_info=types.ClientInfo(name=self.name),
                initialization_options=options,
            ),
        )
        self.client.initialized(types.InitializedParams())
        self.init_result = result
        return result

    async def request(self, method: str, params: Any = None, timeout: float = TIMEOUT) -> Any:
        return await asyncio.wait_for(
            self.client.protocol.send_request_async(method, params), timeout
        )

    def notify(self, method: str, params: Any = None) -> None:
        self.client.protocol.notify(method, params)

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = TIMEOUT, what: str = ""
    ) -> T:
        """Wait until ``predicate()`` is truthy, re-checking after each notification."""
        return await wait_until_async(
            predicate, timeout, what=f"{self.name}: {what or 'condition'}", wake=self._next_message
        )

    async def _next_message(self) -> None:
        # Cleared only here, right after the predicate was checked with nothing
        # awaited in between: a notification handled since then sets it again.
        self._event.clear()
        await self._event.wait()

    async def shutdown_and_exit(self) -> None:
        self.said_goodbye = True
        await self.request("shutdown")
        self.client.protocol.notify("exit")

    async def close(self) -> None:
        """Say goodbye if still connected, then stop the client; bounded in time."""
        if not self.client.stopped and not self.said_goodbye:
            try:
                await asyncio.wait_for(self.shutdown_and_exit(), 3)
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
        writer = self.client.protocol.writer
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass
        try:
            await asyncio.wait_for(self.client.stop(), 5)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001
            pass
