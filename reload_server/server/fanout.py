"""One reload, every process of the project: forwarding requests to sibling servers.

A program that forks workers (a pre-fork server, ``multiprocessing``) or that a
user runs several times has one server per process, each with a discovery entry
in the same ``.reload_server/`` directory.  A ``reloadPath``/``reloadStale``
request reaching one of them is reloaded there and also forwarded, with the
stdlib client, to every other live entry of the same project root, marked
``"forwarded": true`` so that it is never forwarded again.  The answers are
combined into one ReloadOutcome with an extra ``processes`` field, one item per
process, this one first.

The forwarding helpers are stdlib-only (the command-line client uses them too);
:func:`with_siblings` runs on the server's loop and does the forwarding in the
loop's default executor, each forward bounded by :data:`FORWARD_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from ..wire import discovery
from ..wire.client import LspClient, RpcError

log = logging.getLogger("reload_server")

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


def sibling_entries() -> list[discovery.Entry]:
    """The other live servers of this server's project (none without a discovery file).

    Called on the server's loop before each reload: one directory listing when
    this process is the only one there, which is the common case.
    """
    from . import control

    own = control.discovery_file()
    if own is None:
        return []
    try:
        names = os.listdir(os.path.dirname(own))
    except OSError:
        return []
    mine = os.path.basename(own)
    if not any(n.endswith(".json") and not n.startswith(".") and n != mine for n in names):
        return []
    return discovery.siblings(own)


async def forward(
    entries: list[discovery.Entry], method: str, params: dict[str, Any]
) -> list[tuple[int, dict[str, Any] | None]]:
    """Ask every sibling in ``entries``, concurrently and off the loop; ``(pid, outcome or None)`` each."""
    if not entries:
        return []
    loop = asyncio.get_running_loop()
    forwarded = {**params, "forwarded": True}
    answers = await asyncio.gather(
        *(loop.run_in_executor(None, lambda e=e: ask(e, method, forwarded)) for e in entries)
    )
    return [(entry.pid, answer) for entry, answer in zip(entries, answers)]


async def with_siblings(
    local: Awaitable[dict[str, Any]],
    entries: list[discovery.Entry],
    method: str,
    params: dict[str, Any],
    to_client: Callable[[dict[str, Any]], dict[str, Any]] = lambda outcome: outcome,
) -> dict[str, Any]:
    """Run ``local`` (this process's reload) while the siblings in ``entries`` are asked;
    the combined outcome, or ``local``'s alone when no sibling answered."""
    remote_task = asyncio.ensure_future(forward(entries, method, params))
    try:
        result = await local
    except BaseException:
        # The request was refused here (bad params, outside the roots): so it is there.
        remote_task.cancel()
        raise
    try:
        remote = await remote_task
    except Exception:  # noqa: BLE001 - the local reload happened; report it
        log.exception("reload server: forwarding %s to sibling processes failed", method)
        remote = []
    remote = [(pid, outcome) for pid, outcome in remote if outcome is not None]
    if not remote:
        return result
    return combine(os.getpid(), result, remote, to_client)
