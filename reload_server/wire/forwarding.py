"""Asking another process of the project, over the stdlib client.

A program of several processes has one server per process, each with a
discovery entry.  A reload that reaches one of them is carried out by all of
them in two phases (``reloadServer/prepare``, then ``reloadServer/finish``);
the receiving server asks the others with :func:`ask`.  Stdlib only and
blocking: the server calls it on the threads of a fleet reload, never on its
loop.
"""

from __future__ import annotations

from typing import Any

from . import discovery
from .client import LspClient, RpcError

# Seconds a sibling gets to answer a request (a "poll" app must poll by then).
FORWARD_TIMEOUT = 30.0


class Unreachable(Exception):
    """A live process that could not be asked: refused, no connection, no answer in time."""


def parse_forwarded(params: Any) -> bool:
    """The ``forwarded`` flag of request params; ``ValueError`` if it is not a boolean."""
    if not isinstance(params, dict):
        return False
    value = params.get("forwarded", False)
    if not isinstance(value, bool):
        raise ValueError('"forwarded" must be a boolean')
    return value


def ask(
    entry: discovery.Entry,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float = FORWARD_TIMEOUT,
    options: dict[str, Any] | None = None,
    client_name: str = "reload_server-fanout",
) -> Any:
    """Send one request to the server of ``entry``: its result, or None when its
    process has meanwhile exited (it is then no longer part of the project).

    Raises :class:`Unreachable` saying why when a live process could not be asked.
    """
    init = dict(options or {})
    init.setdefault("clientName", client_name)
    if entry.token and "token" not in init:
        init["token"] = entry.token
    try:
        with LspClient(entry.host, entry.port, timeout=timeout) as client:
            client.initialize(init, name=client_name)
            return client.request(method, params)
    except RpcError as exc:
        raise Unreachable(f"refused: {exc.message}") from None
    except (OSError, TimeoutError, ValueError) as exc:
        if not discovery.pid_alive(entry.pid):
            return None
        what = "no answer" if isinstance(exc, TimeoutError) else "cannot connect"
        raise Unreachable(f"{what} at {entry.host}:{entry.port}: {exc}") from None
