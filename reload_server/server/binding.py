"""Binding the listening socket on the caller's thread, with nothing but ``_socket``.

``serve()`` binds here so that it returns the real port, or raises the real bind
error, at once.  The C module ``_socket`` is used rather than :mod:`socket`,
whose import builds several large enums and costs the caller about 3 ms; the
server thread wraps the bound descriptor in a :class:`socket.socket` later.
"""

from __future__ import annotations

import _socket
import os


def _numeric_family(host: str) -> int | None:
    """AF_INET or AF_INET6 for a literal address, None for a name to resolve."""
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host.split("%")[0])
        except (OSError, ValueError):
            continue
        return family
    return None


def bind(host: str, port: int) -> _socket.socket:
    """One listening socket for ``(host, port)``, non-blocking.

    One socket, not ``asyncio.start_server(host, port)``'s one per address family
    of a name like ``localhost``, each with its own port when the port is 0.
    A literal address skips ``getaddrinfo``, which alone costs a millisecond or
    two the first time a process calls it.
    """
    family = _numeric_family(host)
    if family is None or "%" in host:
        infos = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM, 0, _socket.AI_PASSIVE)
        family, kind, proto, _, sockaddr = infos[0]
    else:
        kind, proto = _socket.SOCK_STREAM, 0
        sockaddr = (host, port) if family == _socket.AF_INET else (host, port, 0, 0)
    sock = _socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            # Rebinding right after a stop must not fail on TIME_WAIT connections.
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(16)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def adopt(sock: _socket.socket) -> object:
    """The same listening socket as a :class:`socket.socket`, for asyncio (server thread only)."""
    import socket

    if isinstance(sock, socket.socket):
        return sock
    family, kind, proto = sock.family, sock.type, sock.proto
    return socket.socket(family, kind, proto, fileno=sock.detach())
