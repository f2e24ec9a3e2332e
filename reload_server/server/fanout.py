"""One reload, every process of the project: the sibling servers as fleet members.

A program that forks workers (a pre-fork server, gunicorn, ``multiprocessing``)
or that a user runs several times has one server per process, each with a
discovery entry in the same ``.reload_server/`` directory.  A ``reloadPath`` /
``reloadStale`` request reaching one of them makes that server the
coordinator of a fleet reload (:func:`reload_server.core.fleet.reimport_across`):
each other live entry of the same project root is one :class:`Sibling`
member, asked to prepare (``reloadServer/prepare``) and then to commit or
abort (``reloadServer/finish``) over the stdlib client.  The members are
called on the reload job's threads, never on the server's loop.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ..core import fleet
from ..wire import discovery
from ..wire.forwarding import Unreachable, ask

# Seconds added to a request's deadline before giving up on its connection: the
# sibling answers by its deadline itself (a failure then), so this only covers the wire.
WIRE_MARGIN = 5.0


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


class Sibling:
    """Another process of the project, reached through its server: a fleet member.

    ``selection`` is what the sibling reloads besides the coordinator's module
    names, in its own terms: ``{"path": …, "force": …}`` for ``reloadPath``
    (the loaded modules of that file there), ``{"stale": {"roots": …}}`` for
    ``reloadStale`` (its own modules changed on disk).  Source texts are not
    sent: the processes of one host read the same files.
    """

    def __init__(self, entry: discovery.Entry, selection: dict[str, Any]) -> None:
        self.entry = entry
        self.selection = selection
        self.name = f"pid {entry.pid}"
        self._gone = False
        # Set while the prepare request waits for its answer (on the coordinator's thread).
        self._preparing = threading.Event()

    def prepare(
        self,
        reload_id: str,
        modules: list[str],
        texts: dict[str, str],
        deadline: float,
        *,
        full: bool = False,
    ) -> dict[str, dict[str, Any]]:
        params = {"reloadId": reload_id, "modules": modules, "deadline": deadline, **self.selection}
        if full:
            params["full"] = True
        self._preparing.set()
        try:
            return self._ask("reloadServer/prepare", params, deadline)
        finally:
            self._preparing.clear()

    def finish(self, reload_id: str, commit: bool, deadline: float) -> dict[str, dict[str, Any]]:
        if self._gone:
            return {}
        params = {"reloadId": reload_id, "commit": commit}
        if self._preparing.is_set():
            # It missed the deadline (its failure is on record): the abort goes out at
            # once, but the others' answer must not wait for a process that hangs.
            threading.Thread(
                target=self._ask,
                args=("reloadServer/finish", params, deadline),
                name=f"reload_server-abort-{self.name}",
                daemon=True,
            ).start()
            return {}
        return self._ask("reloadServer/finish", params, deadline)

    def _ask(self, method: str, params: dict[str, Any], deadline: float) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            answer = ask(self.entry, method, params, timeout=deadline + WIRE_MARGIN)
        except Unreachable as exc:
            return {self.name: unreachable(self.name, str(exc), time.perf_counter() - started)}
        if answer is None:
            # Exited meanwhile: no longer one of the project's processes.
            self._gone = True
            return {}
        if not isinstance(answer, dict) or "status" not in answer:
            return {self.name: unreachable(self.name, f"odd answer to {method}: {answer!r}", 0.0)}
        return {self.name: answer}

    def __repr__(self) -> str:
        return f"Sibling({self.name}, {self.entry.host}:{self.entry.port})"


def siblings(entries: list[discovery.Entry], selection: dict[str, Any]) -> list[Sibling]:
    """One member per sibling entry, each asked for ``selection``."""
    return [Sibling(e, selection) for e in entries]


def unreachable(name: str, why: str, seconds: float) -> dict[str, Any]:
    """The outcome of a process that could not be asked: a failure, which aborts the reload."""
    return fleet.failure(f"{name} could not be asked: {why}", "deadline", seconds)
