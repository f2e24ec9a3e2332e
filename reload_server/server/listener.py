"""The server thread's event loop: bind, accept connections, stop.

pygls's ``start_tcp`` is made for a server that is its own process (it blocks in
``asyncio.run``, shares one protocol between all connections and shuts down when
any of them closes), so the listener is ours: ``asyncio.start_server`` on a
socket bound here, and one :class:`~.session.Session` per connection.

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

from .. import staleness
from ..runners import Runner
from ..targets import index_modules
from .binding import adopt, bind
from .framing import FrameError, read_frame
from .hub import Hub
from .paths import Roots
from .session import PARSE_ERROR, Session, quiet_pygls

log = logging.getLogger("reload_server")

# How long stop() lets connections close before cancelling them.
CLOSE_GRACE = 2.0


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
        hub = Hub(loop, config.runner, config.roots, config.token, app_info())
        connections: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await serve_connection(hub, reader, writer)
            finally:
                connections.discard(task)

        server = await asyncio.start_server(on_connect, sock=sock)
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
        _, pending = await asyncio.wait(set(connections), timeout=CLOSE_GRACE)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE)
    try:
        await asyncio.wait_for(server.wait_closed(), CLOSE_GRACE)
    except asyncio.TimeoutError:
        log.warning("reload server: listener did not close in time")
    log.info("reload server stopped")


async def serve_connection(
    hub: Hub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Read frames off one connection into its session until it ends."""
    peername = writer.get_extra_info("peername")
    peer = f"{peername[0]}:{peername[1]}" if peername else "?"
    session = Session(hub, writer, peer)
    hub.sessions.add(session)
    try:
        while not session.writer.closed:
            try:
                body = await read_frame(reader)
            except FrameError as exc:
                session.send_error(None, PARSE_ERROR, f"Parse error: {exc}; closing the connection")
                break
            if body is None:
                break
            try:
                session.receive(body)
            except Exception:
                # A bug of ours must cost at most this message, never the connection or the app.
                log.exception("reload server: error handling a message from %s", peer)
    except (ConnectionError, OSError) as exc:
        log.debug("connection %s lost: %s", peer, exc)
    finally:
        hub.sessions.discard(session)
        session.close()
        if session.initialized:
            log.info("client %s disconnected", session.client_name)
            hub.broadcast_status()
        try:
            await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
