"""Asking the other processes of a project, and one answer from all of them.

A program of several processes has one server per process, each with a
discovery entry.  A reload request is forwarded to every sibling with
``"forwarded": true`` (so it is never forwarded again); the answers are
combined into one ReloadOutcome with a ``processes`` field, one item per
process.  Stdlib only and blocking: the server runs :func:`ask` off its loop,
the command-line client on a thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import discovery
from .client import LspClient, RpcError

# Seconds a sibling gets to answer a forwarded request (a "poll" app must poll by then).
FORWARD_TIMEOUT = 30.0

# Which process's outcome speaks for all of them: the first with the highest rank.
_RANK = {"failed": 4, "reloaded": 3, "unchanged": 2, "not_loaded": 1}


def parse_forwarded(params: Any) -> bool:
    """The ``forwarded`` flag of request params; ``ValueError`` if it is not a boolean."""
    if not isinstance(params, dict):
        return False
    value = params.get("forwarded", False)
    if not isinstance(value, bool):
        raise ValueError('"forwarded" must be a boolean')
    return value


def process_item(pid: int, outcome: dict[str, Any]) -> dict[str, Any]:
    """One item of ``processes``: the short form of a process's ReloadOutcome."""
    return {
        "pid": pid,
        "status": outcome.get("status", "failed"),
        "modules": list(outcome.get("modules", [])),
        "durationMs": outcome.get("durationMs", 0.0),
        "message": outcome.get("message", ""),
    }


def error_item(pid: int, message: str) -> dict[str, Any]:
    """An item for a process that could not be asked (refused, unreachable, no answer in time)."""
    return {"pid": pid, "status": "error", "modules": [], "durationMs": 0.0, "message": message}


def ask(
    entry: discovery.Entry,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float = FORWARD_TIMEOUT,
    options: dict[str, Any] | None = None,
    client_name: str = "reload_server-fanout",
) -> dict[str, Any] | None:
    """Send one request to the server of ``entry``; its ReloadOutcome, an error item
    (``status: "error"``) when it could not be asked, or None when its process has
    meanwhile exited (it is then no longer part of the project).  Blocking."""
    init = dict(options or {})
    init.setdefault("clientName", client_name)
    if entry.token and "token" not in init:
        init["token"] = entry.token
    try:
        with LspClient(entry.host, entry.port, timeout=timeout) as client:
            client.initialize(init, name=client_name)
            return client.request(method, params)
    except RpcError as exc:
        return error_item(entry.pid, f"refused: {exc.message}")
    except (OSError, TimeoutError, ValueError) as exc:
        if not discovery.pid_alive(entry.pid):
            return None
        what = "no answer" if isinstance(exc, TimeoutError) else "cannot connect"
        return error_item(entry.pid, f"{what} at {entry.host}:{entry.port}: {exc}")


def combine(
    local_pid: int,
    local: dict[str, Any],
    remote: list[tuple[int, dict[str, Any] | None]],
    to_client: Callable[[dict[str, Any]], dict[str, Any]] = lambda outcome: outcome,
) -> dict[str, Any]:
    """One ReloadOutcome for a request answered by several processes, ``local`` first.

    ``status`` is ``failed`` if any process failed, else ``reloaded`` if any
    reloaded, and so on; the other fields are those of the process whose
    outcome gave the status (this one when it ties).  ``to_client`` maps a
    sibling's outcome (in app paths) to the client's paths.
    """
    processes = [process_item(local_pid, local)]
    base, base_pid = local, local_pid
    for pid, outcome in remote:
        if outcome is None:
            continue
        if outcome.get("status") == "error":
            processes.append(outcome)
            continue
        processes.append(process_item(pid, outcome))
        if _RANK.get(outcome.get("status", ""), 0) > _RANK.get(base.get("status", ""), 0):
            base, base_pid = to_client(outcome), pid
    result = dict(base)
    result.pop("processes", None)
    if len(processes) > 1:
        counts: dict[str, int] = {}
        for item in processes:
            counts[item["status"]] = counts.get(item["status"], 0) + 1
        tally = ", ".join(f"{n} {status}" for status, n in counts.items())
        prefix = "" if base_pid == local_pid else f"pid {base_pid}: "
        result["message"] = (
            f"{prefix}{result.get('message', '')} ({len(processes)} processes: {tally})"
        )
    result["processes"] = processes
    return result
