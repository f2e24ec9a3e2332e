"""Where reloads run.

A reload executes the new module code and swaps functions and classes under the
app's feet, so *which thread* does it matters to apps whose objects belong to one
thread.  A runner takes a job (a callable with no arguments) and returns a
:class:`concurrent.futures.Future` for its result; the server awaits that future
without blocking its own event loop, so other clients keep being served while a
reload runs.

- ``"thread"`` (default): a dedicated worker thread.  The reimporter serializes
  reloads with its process-wide lock, so this is right for any app that does not
  care which thread runs module code.
- an :class:`asyncio.AbstractEventLoop` owned by the app: the job runs as a
  callback on that loop, between the app's own tasks, so no task ever sees a
  half-done reload.  The loop must be running.
- ``"poll"``: the job waits in a queue until the app calls :func:`poll` from its
  own loop (a game loop, a Qt timer); use it when the app's objects may only be
  touched from its main thread and that thread does not run asyncio.
- a :class:`concurrent.futures.Executor`: jobs are submitted to it.

This module is stdlib-only and cheap to import.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from . import runner_kind
from .debuggers import hide_from_debuggers

log = logging.getLogger("reload_server")

T = TypeVar("T")

# Jobs for "poll" runners, process-wide: poll() is called without naming a runner.
_queue: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
    queue.SimpleQueue()
)


class Runner(Protocol):
    """Runs reload jobs somewhere and reports through futures."""

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Schedule ``job`` and return a future for its result."""
        ...

    def close(self) -> None:
        """Stop accepting jobs and cancel those not started."""
        ...


def run_into(job: Callable[[], T], future: concurrent.futures.Future[T]) -> None:
    """Run ``job`` and settle ``future`` with its result or exception (unless cancelled)."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = job()
    except BaseException as exc:
        future.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
    else:
        future.set_result(result)


def _run_job(job: Callable[[], T], future: concurrent.futures.Future[T]) -> None:
    """Like :func:`run_into`, but a worker must outlive any job: nothing is re-raised."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = job()
    except BaseException as exc:  # noqa: BLE001 - the future carries it to whoever waits
        future.set_exception(exc)
    else:
        future.set_result(result)


class ThreadRunner:
    """Runs jobs on one dedicated worker thread, one at a time.

    The worker is a thread of our own rather than a ``ThreadPoolExecutor``'s,
    which starts its threads where nothing can mark them first: it must be
    hidden from debuggers before it starts (see :mod:`.debuggers`), so that a
    reload still runs while a debugger holds the app's threads at a breakpoint.
    """

    # Jobs may as well run on the server's own thread: no app thread is involved.
    may_run_on_server_thread = True

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put((job, future))
            if self._thread is None:
                # Daemon, as the server's own thread: exit never waits for an idle worker.
                thread = threading.Thread(
                    target=self._work, name="reload_server-reload_0", daemon=True
                )
                hide_from_debuggers(thread)
                thread.start()
                self._thread = thread
        return future

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            _run_job(*item)
            del item  # nothing of a finished job stays alive while the worker waits

    def close(self) -> None:
        # Do not wait: a reload in progress finishes on its own; queued ones are dropped.
        with self._lock:
            self._closed = True
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[1].cancel()
        self._jobs.put(None)

    def __repr__(self) -> str:
        return "ThreadRunner()"


class ExecutorRunner:
    """Submits jobs to an executor the app owns (and closes: we never shut it down)."""

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self._executor = executor

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        return self._executor.submit(job)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"ExecutorRunner({self._executor!r})"


class _Tracked:
    """A runner that hands its jobs elsewhere and can cancel those not yet run."""

    def __init__(self) -> None:
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def _track(self, refusal: str | None) -> concurrent.futures.Future[Any]:
        """A new future, registered unless the runner refuses (then failed with ``refusal``)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                refusal = "the reload runner is closed"
            if refusal is None:
                self._pending.add(future)
        if refusal is not None:
            future.set_exception(RuntimeError(refusal))
        else:
            future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        for future in pending:
            future.cancel()


class LoopRunner(_Tracked):
    """Runs jobs as callbacks on an asyncio event loop owned by the app."""

    def __init__(self, loop: Any) -> None:
        super().__init__()
        self._loop = loop

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        closed = "the app's event loop is closed" if self._loop.is_closed() else None
        future = self._track(closed)
        if not future.done():
            # A plain callback, not a task: it runs to completion between the app's
            # tasks, which is exactly what "reload on the app's loop" should mean.
            self._loop.call_soon_threadsafe(run_into, job, future)
        return future

    def __repr__(self) -> str:
        return f"LoopRunner({self._loop!r})"


class PollRunner(_Tracked):
    """Queues jobs until the app calls :func:`poll` on its own thread."""

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        future = self._track(None)
        if not future.done():
            _queue.put((job, future))
        return future

    def __repr__(self) -> str:
        return "PollRunner()"


def poll() -> int:
    """Run the reloads queued by ``runner="poll"`` on the calling thread; returns how many ran.

    Call it from the app's own loop or timer (a game loop, a Qt timer) so that
    new code is swapped in on the thread that owns the app's objects.

    Never blocks waiting for work: with nothing queued it returns 0 at once, so
    it is cheap to call every frame or timer tick.
    """
    count = 0
    while True:
        try:
            job, future = _queue.get_nowait()
        except queue.Empty:
            return count
        if future.cancelled():
            continue
        run_into(job, future)
        count += 1


def after_fork_in_child() -> None:
    """In a forked child: forget reloads the parent queued for ``poll()``.

    Their futures belong to the parent's server, whose loop does not run here.
    """
    global _queue
    _queue = queue.SimpleQueue()


def make_runner(spec: Any) -> Runner:
    """The runner for a ``runner=`` argument of ``serve()`` or ``watch()``.

    Raises ``ValueError`` for an unknown name and ``TypeError`` for anything
    that is neither a name, an event loop nor an executor.
    """
    which = runner_kind.kind(spec)
    if which == "thread":
        return ThreadRunner()
    if which == "poll":
        return PollRunner()
    if which == "loop":
        return LoopRunner(spec)
    return ExecutorRunner(spec)
