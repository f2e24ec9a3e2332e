"""Fleet reloads over Celery: every worker's main process and its pool, all or nothing.

The transport is Celery's own remote control (broadcast commands with
replies over the broker): :func:`install` registers two commands that every
worker of the app answers — prepare a reload, then commit or abort it — and a
fleet member (:class:`CeleryWorkers`) that sends them.  Remote-control
commands run in a worker's main process; after a commit there the worker
restarts its pool, so that its children are forked again from the committed
main process.

A reload in a worker's main process, as in any process, brings the
registered tasks up to date through the Celery adapter
(:mod:`reload_server.adapters.celery`), which every reload uses while
Celery is imported: nothing here needs to switch it on.
"""

from __future__ import annotations

import threading
import time

from celery import signals
from celery.worker.control import control_command

from ..core import fleet
from ..core.results import ReloadResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from celery import Celery

    Outcome = dict[str, Any]

#: The remote-control commands :func:`install` registers.
PREPARE = "reload_server_prepare"
FINISH = "reload_server_finish"

#: Seconds the workers get to answer the ping that lists them.
PING_TIMEOUT = 1.0

# Shares of the time left that the coordinator listens for prepare replies, and
# that a worker's part gets before the worker answers that it is not prepared.
LISTEN = 0.95
ANSWER = 0.9


# -- the coordinator's side ------------------------------------------------------


class CeleryWorkers:
    """The workers of one Celery app, as a member of fleet reloads (:mod:`reload_server.core.fleet`).

    Each reload first pings the workers to learn who they are, so that a
    worker that does not answer the prepare in time is a failure rather than
    an absence.  A committed worker restarts its pool; :meth:`finish` returns
    once every such pool runs children forked after the commit.
    """

    def __init__(self, app: Celery, ping_timeout: float = PING_TIMEOUT) -> None:
        self.app = app
        self.name = f"celery {app.main or 'app'}"
        self.ping_timeout = ping_timeout
        self._workers: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def workers(self) -> list[str]:
        """The node names of the workers that answer a ping now."""
        replies = self.app.control.ping(timeout=self.ping_timeout)
        return sorted(node for reply in replies or () for node in reply)

    def prepare(
        self,
        reload_id: str,
        modules: list[str],
        texts: dict[str, str],
        deadline: float,
        *,
        full: bool = False,
    ) -> dict[str, Outcome]:
        end = time.monotonic() + deadline
        nodes = self.workers()
        with self._lock:
            self._workers[reload_id] = nodes
        if not nodes:
            return {}
        remaining = max(end - time.monotonic(), 0.0)
        arguments = {
            "reload_id": reload_id,
            "modules": modules,
            "texts": texts,
            "deadline": remaining,
            "full": full,
        }
        # Stop listening a little before the deadline, so that the coordinator hears
        # which worker was silent rather than that this member was.
        replies = self._ask(PREPARE, arguments, nodes, remaining * LISTEN)
        return {node: replies.get(node) or _silent(node, "prepare") for node in nodes}

    def finish(self, reload_id: str, commit: bool, deadline: float) -> dict[str, Outcome]:
        with self._lock:
            nodes = self._workers.pop(reload_id, [])
        if not nodes:
            return {}
        # Done within the coordinator's wait for this member, pool restarts included.
        end = time.monotonic() + deadline * LISTEN
        arguments = {"reload_id": reload_id, "commit": commit, "timeout": deadline * ANSWER}
        replies = self._ask(FINISH, arguments, nodes, deadline * LISTEN)
        out: dict[str, Outcome] = {}
        restarted: dict[str, list[int]] = {}
        for node in nodes:
            reply = replies.get(node)
            if reply is None:
                out[node] = _silent(node, "commit" if commit else "abort")
                continue
            out[node] = reply["outcome"]
            if reply.get("restarted"):
                restarted[node] = reply["children"]
        for node, before in restarted.items():
            if not self._wait_for_new_children(node, before, end):
                out[node] = {
                    **out[node],
                    "notes": [
                        *out[node].get("notes", []),
                        {
                            "severity": "warning",
                            "message": f"{node}: pool children forked before the reload "
                            "were still running at the deadline",
                            "kind": "update",
                        },
                    ],
                }
        return out

    def _ask(
        self, command: str, arguments: dict[str, Any], nodes: list[str], timeout: float
    ) -> dict[str, Any]:
        replies = self.app.control.broadcast(
            command,
            arguments=arguments,
            destination=nodes,
            reply=True,
            timeout=timeout,
            limit=len(nodes),
        )
        return {node: value for reply in replies or () for node, value in reply.items()}

    def _wait_for_new_children(self, node: str, before: list[int], end: float) -> bool:
        """Wait until ``node``'s pool holds as many children as before, none of them old ones."""
        old = set(before)
        while True:
            stats = self.app.control.inspect(
                destination=[node], timeout=self.ping_timeout, limit=1
            ).stats()
            children = ((stats or {}).get(node) or {}).get("pool", {}).get("processes")
            if children is not None and not old & set(children) and len(children) >= len(old):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)


def _silent(node: str, step: str) -> Outcome:
    return fleet.failure(f"{node} did not answer the {step} within the deadline", "deadline")


def install(
    app: Celery, *, ping_timeout: float = PING_TIMEOUT, ship_source: bool = False
) -> CeleryWorkers:
    """Make every reload of this process, and of each worker of ``app``, a reload of all of them.

    Call it in the module that defines ``app``, next to ``Celery(...)``: the
    workers import that module, and the remote-control commands must be
    registered in the worker process.  In a worker it registers the commands,
    lets the pool be restarted after each committed reload (the worker's own
    switch; the ``worker_pool_restarts`` setting is left alone).  In any other process (a web app, a notebook, the CLI) it also
    joins the workers to this process's reloads: from then on a reload here
    — from the editor through ``serve()``, ``watch()``, ``reimport()`` — is
    prepared in this process and in every worker that answers a ping, then
    committed everywhere or aborted everywhere.  Returns the member it joined.

    A worker compiles its own files, not the source text a reload sends with
    the request: whoever can publish on the broker could otherwise run any
    code in it.  With ``ship_source=True`` (workers on machines whose files
    are not deployed with the client's) it compiles the text it is sent.
    """
    global _accept_source
    _accept_source = _accept_source or ship_source
    _register_commands()
    member = CeleryWorkers(app, ping_timeout)
    fleet.join(member)

    def in_worker(sender: Any = None, **_: object) -> None:
        # A worker reloads when told; spreading its own reloads would broadcast to itself.
        fleet.leave(member)
        if getattr(sender, "app", None) is app:
            # Read when the pool is made, after this signal: children get a restart switch.
            sender.pool_restarts = True

    signals.worker_init.connect(in_worker, weak=False)
    return member


def reimport(
    app: Celery,
    *modules: str,
    deadline: float = fleet.DEADLINE,
    here: bool = True,
    ping_timeout: float = PING_TIMEOUT,
) -> ReloadResult:
    """Reload ``modules`` in this process (unless ``here`` is false) and in every worker of ``app``.

    All or nothing: returns a :class:`ReloadResult` whose ``processes`` name
    every worker (by node name) and this process, or raises
    :class:`ReloadError` — nothing changed in any of them — whose notes name
    the workers that failed or did not answer within ``deadline`` seconds.
    The workers must have imported a module that called :func:`install`.
    """
    return fleet.reimport_across(
        modules, [CeleryWorkers(app, ping_timeout)], deadline=deadline, here=here
    )


# -- the worker's side ---------------------------------------------------------

_registered = False
# Whether this worker compiles the source text a reload ships (install(ship_source=True)).
_accept_source = False
# Reloads whose prepare this worker answered: only those are waited for when finished.
_answered: set[str] = set()
_answered_lock = threading.Lock()


def _register_commands() -> None:
    global _registered
    if _registered:
        return
    control_command(name=PREPARE)(_prepare_command)
    control_command(name=FINISH)(_finish_command)
    _registered = True


def _prepare_command(
    state: Any,
    reload_id: str,
    modules: list[str],
    texts: dict[str, str],
    deadline: float,
    full: bool = False,
) -> Outcome:
    """Prepare this worker's part; answers by ``deadline`` even if the new code has not finished."""
    answer: list[Outcome] = []
    done = threading.Event()

    def run() -> None:
        try:
            shipped = texts if _accept_source else {}
            answer.append(fleet.begin(reload_id, modules, shipped, deadline, full))
        finally:
            done.set()

    threading.Thread(target=run, name="reload_server-celery-prepare", daemon=True).start()
    # The command runs on the worker's event loop: it must answer while the coordinator listens.
    if not done.wait(deadline * ANSWER) or not answer:
        return _silent(state.hostname, "prepare")
    with _answered_lock:
        _answered.add(reload_id)
    return answer[0]


def _finish_command(state: Any, reload_id: str, commit: bool, timeout: float) -> dict[str, Any]:
    """Commit or abort this worker's part; after a commit, restart the pool on the new code."""
    with _answered_lock:
        answered = reload_id in _answered
        _answered.discard(reload_id)
    # A part still preparing is told to abort and not waited for: it aborts when its code returns.
    outcome = fleet.finish(reload_id, bool(commit) and answered, timeout if answered else 0)
    pool = state.consumer.pool
    children = list((getattr(pool, "info", None) or {}).get("processes", []))
    restarted = outcome.get("status") == "reloaded" and _restart_pool(state, len(children))
    return {"outcome": outcome, "children": children, "restarted": restarted}


def _restart_pool(state: Any, children: int) -> bool:
    """Replace the pool's children with ones forked from this (committed) process.

    Celery's restart marks every child to exit before it takes its next job,
    and sends one no-op job; an idle child blocks reading its next job, so
    each gets a no-op of its own to wake up to and exit, rather than a task.
    """
    from celery.utils.functional import noop

    # Tasks the reload added need a strategy, or the consumer would call them unregistered.
    state.consumer.update_strategies()
    pool = state.consumer.pool
    try:
        pool.restart()
    except NotImplementedError:  # solo and thread pools share the main process's modules
        return False
    for _ in range(children - 1):
        pool.apply_async(noop)
    return True
