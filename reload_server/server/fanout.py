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
from ..wire.forwarding import ask, combine

log = logging.getLogger("reload_server")


def sibling_entries(own: str | None) -> list[discovery.Entry]:
    """The other live servers next to the discovery file ``own`` (none when it is None).

    Called on the server's loop before each reload: one directory listing when
    this process is the only one there, which is the common case.
    """
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
