"""The server thread's event loop: bind, accept connections, stop.

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
from .binding import adopt, bind
from .hub import Hub
from .paths import Roots
from .session import Session, quiet_pygls

log = logging.getLogger("reload_server")

# How long stop() lets connections close before cancelling them.
CLOSE_GRACE = 2.0
# Bytes read from a connection at a time.
READ_SIZE = 256 * 1024


@dataclass
class Config:
    """What ``serve()`` was asked for, checked on the caller's thread."""

    host: str
    port: int
    token: str | None
    roots: Roots
    runner: Runner
    # Bound by serve() on the caller's thread, so it can return the port at once.
    sock: socket.socket | None = None
    # The GIL switch interval while clients are connected (None: never changed).
    switch_interval: float | None = None


class Started:
    """What the thread hands back to ``serve()``: the address, and a way to stop."""

    def __init__(self, address: tuple[str, int], stop: Callable[[], None], fd: int) -> None:
        self.address = address
        self.stop = stop
        self.fd = fd  # the listening socket, for a forked child to close


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
        sock = adopt(config.sock if config.sock is not None else bind(config.host, config.port))
        # Baselines for "changed on disk since loaded", taken before any client
        # can ask, so an edit made after serve() returns is always seen.
        staleness.snapshot()
        hub = Hub(
            loop, config.runner, config.roots, config.token, app_info(), config.switch_interval
        )
        connections: set[Connection] = set()

        def on_connect() -> Connection:
            connection = Connection(hub)
            connections.add(connection)
            connection.closed.add_done_callback(lambda _: connections.discard(connection))
            return connection

        server = await loop.create_server(on_connect, sock=sock)
        hub.start()
        index_modules()  # after the server's own imports: the first look-up by file is instant
    except BaseException as exc:
        config.runner.close()
        failed(exc)
        return
    address = sock.getsockname()[:2]
    log.info("reload server listening on %s:%s", address[0], address[1])
    started(
        Started(
            (address[0], address[1]), lambda: loop.call_soon_threadsafe(stopping.set), sock.fileno()
        )
    )

    await stopping.wait()

    server.close()
    hub.close()
    for session in list(hub.sessions):
        session.close()
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
    :meth:`Hub.corked`), with no task switch in between.  Each turn of the loop
    and each system call costs the server's thread a wait for the GIL when app
    threads keep the CPU busy, so threads switch fast (:meth:`Hub.hurry`) from
    before the read until the reply is written; a buffered protocol is told
    before the read.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.reader = FrameReader()
        self.session: Session | None = None
        self.peer = "?"
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)
        self._calm_later: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peername = transport.get_extra_info("peername")
        self.peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        self.session = Session(self.hub, transport, self.peer)
        self.hub.attach(self.session)

    def get_buffer(self, sizehint: int) -> memoryview:
        self.hub.hurry()
        if self._calm_later is None:
            # Should the read find nothing after all (no buffer_updated), calm down anyway.
            self._calm_later = self.hub.loop.call_later(0.05, self._calm)
        return self._view

    def _calm(self) -> None:
        if self._calm_later is not None:
            self._calm_later.cancel()
            self._calm_later = None
        self.hub.calm()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self.data_received(bytes(self._view[:nbytes]))
        finally:
            self._calm()

    def data_received(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        bodies = self.reader.feed(data)
        with self.hub.corked():
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
        self._calm()
        try:
            self.reader.close()
        except FrameError as exc:
            log.debug("connection %s ended: %s", self.peer, exc)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._calm()
        if exc is not None:
            log.debug("connection %s lost: %s", self.peer, exc)
        session = self.session
        if session is not None:
            self.hub.detach(session)
            session.close()
            if session.initialized:
                log.info("client %s disconnected", session.client_name)
                self.hub.broadcast_status()
        if not self.closed.done():
            self.closed.set_result(None)
