"""The server thread's event loop: accept connections on the socket ``serve()`` bound, stop.

pygls's ``start_tcp`` is made for a server that is its own process (it blocks in
``asyncio.run``, shares one protocol between all connections and shuts down when
any of them closes), so the listener is ours: ``loop.create_server`` on the
socket ``serve()`` bound, and one :class:`~.session.Session` per connection.

Everything in this module runs on the server's own thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import staleness
from ..core.targets import index_modules
from ..runtime.runners import Runner
from ..wire.codes import PARSE_ERROR
from ..wire.framing import FrameError, FrameReader
from .binding import adopt
from .forking import ServerHandles
from .paths import Roots
from .pygls_compat import quiet_pygls
from .session import Session
from .state import ServerState

log = logging.getLogger("reload_server")

# How long stop() lets connections close before cancelling them.
CLOSE_GRACE = 2.0
# Bytes read from a connection at a time.
READ_SIZE = 256 * 1024


@dataclass
class Config:
    """What ``serve()`` was asked for, checked on the caller's thread."""

    token: str | None
    roots: Roots
    runner: Runner
    # Bound by serve() on the caller's thread, so it can return the port at once.
    sock: socket.socket
    # The GIL switch interval while clients are connected (None: never changed).
    switch_interval: float | None = None
    # This server's discovery entry (None: discovery=False, or it could not be written).
    discovery_file: str | None = None
    # Filled in as the server runs: what a forked child must disown.
    handles: ServerHandles | None = None


class Started:
    """What the thread hands back to ``serve()``: a way to stop."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop  # thread-safe


def app_info() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "python": platform.python_version(),
    }


def run(
    config: Config, started: Callable[[Started], None], failed: Callable[[BaseException], None]
) -> None:
    """The server thread's body: serve until stopped.  Reports start-up through the callbacks."""
    asyncio.run(_main(config, started, failed))


async def _main(
    config: Config, started: Callable[[Started], None], failed: Callable[[BaseException], None]
) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    try:
        quiet_pygls()
        sock = adopt(config.sock)
        handles = config.handles if config.handles is not None else ServerHandles(sock.fileno())
        handles.loop = loop
        handles.listener = sock
        # Baselines for "changed on disk since loaded", taken before any client
        # can ask, so an edit made after serve() returns is always seen.
        staleness.snapshot()
        state = ServerState(
            loop,
            config.runner,
            config.roots,
            config.token,
            app_info(),
            config.switch_interval,
            config.discovery_file,
        )
        connections: set[Connection] = set()

        def on_connect() -> Connection:
            connection = Connection(state, handles)
            connections.add(connection)
            connection.closed.add_done_callback(lambda _: connections.discard(connection))
            return connection

        server = await loop.create_server(on_connect, sock=sock)
        state.start()
        index_modules()  # after the server's own imports: the first look-up by file is instant
    except BaseException as exc:
        config.runner.close()
        failed(exc)
        return
    address = sock.getsockname()[:2]
    log.info("reload server listening on %s:%s", address[0], address[1])
    started(Started(lambda: loop.call_soon_threadsafe(stopping.set)))

    await stopping.wait()

    server.close()
    state.close()
    for connection in list(connections):
        if connection.session is not None:
            connection.session.close()
    if connections:
        _, pending = await asyncio.wait([c.closed for c in connections], timeout=CLOSE_GRACE)
        if pending:
            # Clients that do not read what is left to send: drop them.
            for connection in list(connections):
                if connection.transport is not None:
                    connection.transport.abort()
            await asyncio.wait(pending, timeout=CLOSE_GRACE)
    try:
        await asyncio.wait_for(server.wait_closed(), CLOSE_GRACE)
    except asyncio.TimeoutError:
        log.warning("reload server: listener did not close in time")
    log.info("reload server stopped")


class Connection(asyncio.BufferedProtocol):
    """One client connection: bytes in, frames out to its session, in the same turn.

    A protocol rather than streams: every complete message is handled in the
    call that received it, and what it sends leaves in one write (see
    :meth:`ServerState.corked`), with no task switch in between.  Each turn of
    the loop and each system call costs the server's thread a wait for the GIL
    when app threads keep the CPU busy, so threads switch fast
    (:meth:`SwitchInterval.message_coming`) from before the read until the
    reply is ready; a buffered protocol is told before the read.  The app's
    interval is back before the reply is written, so a client that has read
    its reply finds the app as it was.
    """

    def __init__(self, state: ServerState, handles: ServerHandles) -> None:
        self.state = state
        self.handles = handles
        self.reader = FrameReader()
        self.session: Session | None = None
        self.peer = "?"
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)
        self._restore_later: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.handles.connections.add(transport)
        peername = transport.get_extra_info("peername")
        self.peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        self.session = Session(self.state, transport, self.peer)
        self.state.attach(self.session)

    def get_buffer(self, sizehint: int) -> memoryview:
        self.state.switching.message_coming()
        if self._restore_later is None:
            # Should the read find nothing after all (no buffer_updated), restore anyway.
            self._restore_later = self.state.loop.call_later(0.05, self._message_handled)
        return self._view

    def _message_handled(self) -> None:
        if self._restore_later is not None:
            self._restore_later.cancel()
            self._restore_later = None
        self.state.switching.message_handled()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self.data_received(bytes(self._view[:nbytes]))
        finally:
            self._message_handled()  # only if data_received did not get that far

    def data_received(self, data: bytes) -> None:
        with self.state.corked():
            try:
                self._handle(data)
            finally:
                # Before the corked replies are written, not after: a client that
                # has its reply must find the app's switch interval back.
                self._message_handled()

    def _handle(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        bodies = self.reader.feed(data)
        for body in bodies:
            if session.writer.closed:
                return
            try:
                session.receive(body)
            except Exception:
                # A bug of ours must cost at most this message, never the connection or the app.
                log.exception("reload server: error handling a message from %s", self.peer)
        if self.reader.error is not None and not session.writer.closed:
            session.send_error(
                None, PARSE_ERROR, f"Parse error: {self.reader.error}; closing the connection"
            )
            session.close()

    def eof_received(self) -> bool:
        self._message_handled()
        try:
            self.reader.close()
        except FrameError as exc:
            log.debug("connection %s ended: %s", self.peer, exc)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._message_handled()
        if self.transport is not None:
            self.handles.connections.discard(self.transport)
        if exc is not None:
            log.debug("connection %s lost: %s", self.peer, exc)
        session = self.session
        if session is not None:
            self.state.detach(session)
            session.close()
            if session.initialized:
                log.info("client %s disconnected", session.client_name)
                self.state.broadcast_status()
        if not self.closed.done():
            self.closed.set_result(None)
