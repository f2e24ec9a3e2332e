"""Binding the listening socket: standard library only, so serve() can do it on the caller's thread."""

from __future__ import annotations

import os
import socket


def bind(host: str, port: int) -> socket.socket:
    """One listening socket for ``(host, port)``.

    Bound here rather than by ``asyncio.start_server(host, port)``, which opens a
    socket per address family of a name like ``localhost`` — each with its own
    port when the port is 0.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            # Rebinding right after a stop must not fail on TIME_WAIT connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(16)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
