"""Fleet reloads over a Dask cluster, carried by Dask's own channels.

The client process coordinates (:func:`.core.fleet.reimport_across`); every
worker is a participant, reached with ``Client.run``:

- *prepare*: each worker starts its part with :func:`.core.fleet.begin` on a
  thread of its own (``Client.run`` calls in on the worker's event loop, which
  must not block while new module code runs) and answers once prepared, or
  with a deadline failure when its prepare has not returned in time;
- *finish*: each worker commits or aborts its pending part.

The source text of every committed reload is kept in the scheduler's metadata
(``Client.set_metadata``); the worker plugin reads it when a worker starts, so
a worker that joins later — or restarts — adopts the current code
(:func:`.core.fleet.adopt`) before it runs a task.  No connection of our own
is opened: everything goes through the client, the scheduler and the plugin.
"""

from __future__ import annotations

import asyncio
import importlib.util
import marshal
import os
import sys
import threading
from types import ModuleType
from typing import Any

from distributed import Client, WorkerPlugin

from ..core import fleet, shipped, sources, targets
from ..core.results import ReloadResult

#: The plugin's name on the scheduler, and the metadata key of the shipped texts.
PLUGIN = "reload_server"
TEXTS_KEY = [PLUGIN, "texts"]

Outcome = dict[str, Any]


def install(client: Client) -> DaskMember:
    """Make every worker of ``client``'s cluster take part in this process's reloads.

    Registers a worker plugin (so workers that join later, or restart, start
    on the code of the last reload) and joins the workers to this process:
    from then on every reload here — ``reload_server.reimport()``, the editor
    through ``serve()``, ``watch()``, the notebook magic — is prepared in this
    process and on every worker, then committed everywhere or nowhere.
    Returns the member standing for the cluster; installing twice is harmless.
    """
    member = _member(client)
    if not member.installed:
        client.register_plugin(ReloadPlugin(), name=PLUGIN)
        member.installed = True
    fleet.join(member)
    return member


def uninstall(client: Client) -> None:
    """Undo :func:`install`: reloads here are this process's alone again; workers keep their code."""
    member = _members.get(id(client))
    if member is None or not member.installed:
        return
    member.installed = False
    fleet.leave(member)
    try:
        client.unregister_worker_plugin(PLUGIN)
    except (KeyError, ValueError):
        pass  # already gone from the scheduler


def reimport(
    client: Client,
    *modules: str | ModuleType | os.PathLike[str],
    deadline: float = fleet.DEADLINE,
) -> ReloadResult:
    """Reload ``modules`` in this process and on every worker of ``client``, all or nothing.

    Each worker has ``deadline`` seconds to prepare (run the new code and its
    checks); then every process commits, or, if any failed or did not answer,
    every process aborts and :class:`~reload_server.ReloadError` is raised,
    its notes prefixed with the failing worker's address.  The result's
    ``by_process`` holds one result per worker address (and this process's,
    as ``"pid N"``).  Workers need not have the new files: the source text is
    shipped.  Works with or without :func:`install`.
    """
    return fleet.reimport_across(modules, [_member(client)], deadline=deadline)


# One member per client, kept: it remembers the texts of every committed reload.
_members: dict[int, DaskMember] = {}
_members_lock = threading.Lock()


def _member(client: Client) -> DaskMember:
    with _members_lock:
        member = _members.get(id(client))
        if member is None or member.client is not client:
            member = _members[id(client)] = DaskMember(client)
        return member


class DaskMember:
    """All the workers of one Dask cluster, as one member of this process's fleet."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.name = f"dask {client.scheduler.address}"
        # Every text a committed reload shipped, newest per module: what a new worker adopts.
        self.texts: dict[str, str] = {}
        self._asked: dict[str, tuple[set[str], dict[str, str]]] = {}
        self._lock = threading.Lock()
        self.installed = False

    def prepare(
        self,
        reload_id: str,
        modules: list[str],
        texts: dict[str, str],
        deadline: float,
        *,
        full: bool = False,
    ) -> dict[str, Outcome]:
        if self.client.status in ("closing", "closed"):
            # A closed client has no workers to keep in step: reloads are this process's again.
            fleet.leave(self)
            with _members_lock:
                _members.pop(id(self.client), None)
            return {}
        # Each worker answers a little before the coordinator stops waiting, so
        # that a worker that hangs is named, not the whole cluster.
        answer_within = max(deadline - _margin(deadline), 0.05)
        codes = _compiled(texts)
        try:
            answers = self.client.run(
                _prepare_on_worker,
                reload_id,
                list(modules),
                dict(texts),
                codes,
                answer_within,
                deadline,
                full,
                on_error="return",
            )
        finally:
            _forget_compiled(texts, codes)
        with self._lock:
            self._asked[reload_id] = (set(answers), dict(texts))
        return {address: _outcome(address, a) for address, a in answers.items()}

    def finish(self, reload_id: str, commit: bool, deadline: float) -> dict[str, Outcome]:
        with self._lock:
            asked, texts = self._asked.pop(reload_id, (set(), {}))
        if not asked:
            return {}
        if commit:
            # Publish first: a worker starting from now on adopts the new code.
            with self._lock:
                self.texts.update(texts)
                current = dict(self.texts)
            self.client.set_metadata(TEXTS_KEY, current)
        answers = self.client.run(
            _finish_on_worker, reload_id, commit, deadline, workers=sorted(asked), on_error="return"
        )
        outcomes = {address: _outcome(address, a) for address, a in answers.items()}
        if commit:
            self._catch_up(asked, current)
        return outcomes

    def _catch_up(self, asked: set[str], texts: dict[str, str]) -> None:
        """Bring workers that joined while the reload ran (after the metadata was read) up to date."""
        joined = set(self.client.nthreads()) - asked
        if joined:
            self.client.run(_adopt_on_worker, texts, workers=sorted(joined), on_error="return")


# What a worker must share with this process to run code compiled here.
_BYTECODE = (importlib.util.MAGIC_NUMBER, sys.flags.optimize)


def _compiled(texts: dict[str, str]) -> dict[str, tuple[str, bytes, tuple]]:
    """The texts compiled once here, by module name: each with the file it was compiled as.

    A worker whose module has the same file (the same host, or the same
    layout) and the same Python runs this code instead of compiling the text
    itself: compiling is most of a reload's cost, and would be paid once per
    worker.  This process's own prepare takes it too, when it comes first.
    """
    out: dict[str, tuple[str, bytes, tuple]] = {}
    for name, text in texts.items():
        file = targets.source_file(sys.modules.get(name))
        if file is None:
            continue
        data = text.encode("utf-8")
        try:
            code = compile(data, file, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue  # each process reports it from its own compile
        sources.precompiled(file, data, code)
        out[name] = (file, marshal.dumps(code), _BYTECODE)
    return out


def _forget_compiled(texts: dict[str, str], codes: dict[str, tuple[str, bytes, tuple]]) -> None:
    for name, (file, _, _) in codes.items():
        sources.precompiled(file, texts[name].encode("utf-8"), None)


def _margin(deadline: float) -> float:
    return min(2.0, deadline / 4)


def _outcome(address: str, answer: object) -> Outcome:
    if isinstance(answer, dict) and "status" in answer:
        return answer
    if isinstance(answer, BaseException):
        message = f"{type(answer).__name__}: {answer}"
    else:
        message = f"unexpected answer {answer!r}"
    return fleet.failure(f"{address} could not take part: {message}", "deadline")


class ReloadPlugin(WorkerPlugin):
    """On every worker, at its start: adopt the code of the cluster's last committed reload."""

    async def setup(self, worker: Any) -> None:
        texts = await worker.scheduler.get_metadata(keys=TEXTS_KEY, default=None)
        if texts:
            # New module code may take a while to run: off the event loop, but
            # awaited, so the worker runs no task before it has the code.
            await asyncio.get_running_loop().run_in_executor(None, _adopt, texts)


# -- on the worker ---------------------------------------------------------------

# reload id -> set once this worker's begin() returned (prepared or failed).
_preparing: dict[str, threading.Event] = {}
_preparing_lock = threading.Lock()


async def _prepare_on_worker(
    reload_id: str,
    modules: list[str],
    texts: dict[str, str],
    codes: dict[str, tuple[str, bytes, tuple]],
    answer_within: float,
    deadline: float,
    full: bool = False,
) -> Outcome:
    """Start this worker's part; answer when prepared, or after ``answer_within`` seconds."""
    usable = _usable_codes(texts, codes)
    done = threading.Event()
    box: list[Outcome] = []
    with _preparing_lock:
        _preparing[reload_id] = done

    def run() -> None:
        try:
            # A prepared part waits for the decision for twice the deadline
            # before it aborts by itself: long enough for a commit decided at
            # the deadline to arrive.
            box.append(fleet.begin(reload_id, modules, texts, 2 * deadline, full))
        except BaseException as e:  # noqa: BLE001 - reported to the coordinator
            box.append(fleet.failure(f"{type(e).__name__}: {e}", "import"))
        finally:
            for file, data in usable:
                sources.precompiled(file, data, None)
            done.set()

    threading.Thread(target=run, name="reload_server-dask-prepare", daemon=True).start()
    loop = asyncio.get_running_loop()
    if await loop.run_in_executor(None, done.wait, answer_within):
        return box[0]
    return fleet.failure(
        f"{fleet.local_name()} did not prepare within the deadline ({answer_within:g} s)",
        "deadline",
    )


def _usable_codes(
    texts: dict[str, str], codes: dict[str, tuple[str, bytes, tuple]]
) -> list[tuple[str, bytes]]:
    """Offer the coordinator's compiled code to this worker's prepare where it fits; returns what was offered."""
    offered = []
    for name, (file, dumped, bytecode) in codes.items():
        if bytecode != _BYTECODE or targets.source_file(sys.modules.get(name)) != file:
            continue
        data = texts[name].encode("utf-8")
        sources.precompiled(file, data, marshal.loads(dumped))
        offered.append((file, data))
    return offered


async def _finish_on_worker(reload_id: str, commit: bool, deadline: float) -> Outcome:
    with _preparing_lock:
        done = _preparing.pop(reload_id, None)
    if done is None:
        return fleet.failure(f"{fleet.local_name()}: no reload {reload_id} here", "deadline")
    if not done.is_set():
        # Still running the new code: the decision (abort: the coordinator
        # commits only when everyone prepared) is taken when it returns.
        fleet.finish(reload_id, commit, 0)
        return fleet.failure(
            f"{fleet.local_name()}: still preparing; it aborts when its new code returns",
            "deadline",
        )
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, fleet.finish, reload_id, commit, deadline)


def _adopt(texts: dict[str, str]) -> None:
    """Take on the shipped code unless this worker already has exactly that code."""
    differ = {n: t for n, t in texts.items() if shipped.text(n) != t}
    if differ:
        fleet.adopt(differ)


async def _adopt_on_worker(texts: dict[str, str]) -> None:
    await asyncio.get_running_loop().run_in_executor(None, _adopt, texts)
