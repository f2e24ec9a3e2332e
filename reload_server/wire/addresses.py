"""Where a server listens: ``[host:]port`` as users write it, and the loopback rule.

Shared by ``serve()`` (on the app's thread: stdlib only, nothing imported that
the host would wait for) and the command line.
"""

from __future__ import annotations

# The environment a program can be told to serve from (``serve_from_env()``,
# the launcher): ``[host:]port``, and the access token.
ENV_LISTEN = "RELOAD_SERVER_LISTEN"
ENV_TOKEN = "RELOAD_SERVER_TOKEN"
DEFAULT_HOST = "127.0.0.1"


def parse_address(address: int | str | tuple[str, int]) -> tuple[str, int]:
    """``8765``, ``"8765"``, ``"host:8765"``, ``"[::1]:8765"`` or ``(host, port)`` → ``(host, port)``."""
    if isinstance(address, bool):
        raise TypeError("address must be a port or (host, port), not a bool")
    if isinstance(address, int):
        host, port = DEFAULT_HOST, address
    elif isinstance(address, str):
        text = address.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest.lstrip(":")
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
        else:
            host, port_text = "", text
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"bad address {address!r}: expected [host:]port") from None
        host = host or DEFAULT_HOST
    elif isinstance(address, tuple) and len(address) == 2:
        host, port = address
        if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("address must be a port or (host: str, port: int)")
    else:
        raise TypeError(f"address must be a port or (host, port), not {address!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range 0-65535")
    return host, port


def is_loopback(host: str) -> bool:
    """True if every address ``host`` names is a loopback address."""
    if host in ("127.0.0.1", "::1"):
        return True  # the default, without importing ipaddress
    import ipaddress

    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        pass
    if not host:
        return False  # "" binds every interface
    import socket

    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )
