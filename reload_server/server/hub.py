"""What all connections share: the runner, the current diagnostics, the last reload.

The hub lives on the server's event loop.  It subscribes to
:mod:`reload_server.core.events`, so a reload from *any* source (a client, the app
calling ``reimport``, a watcher) updates every connected editor; those events
arrive on whatever thread reloaded and are queued for the loop, because asyncio
transports are not thread-safe.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..core import events
from ..core.events import Outcome
from ..core.results import Note
from ..core.transaction import reload_lock
from ..runtime.runners import Runner, run_into
from ..wire.outcome import outcome_dict
from .diagnostics import notes_by_file
from .paths import Roots

# How long the loop waits, blocked, for a reload to finish so that it can answer
# in the same turn; a slower reload is awaited without blocking other clients.
INLINE_WAIT = 0.25
# A target whose last reload took less than this is reloaded on the server's
# own thread (runner "thread" only): no hand-over to the reload thread and back.
INLINE_BUDGET = 0.1

# The GIL switch interval while a message is handled (see Hub.handling).
HANDLING_SWITCH_INTERVAL = 0.0001

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("reload_server")


def set_switch_interval(seconds: float) -> float:
    """Set the GIL switch interval; returns it as the interpreter stores it.

    CPython keeps whole microseconds, truncated: setting back a value read with
    ``sys.getswitchinterval()`` as is can lose one each time (0.000199 s
    becomes 198 µs), so values are rounded to the microsecond first.
    """
    sys.setswitchinterval((round(seconds * 1e6) + 0.5) / 1e6)
    return sys.getswitchinterval()


class Hub:
    """Shared server state and broadcasts; every method runs on the server's loop
    unless it says otherwise."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        runner: Runner,
        roots: Roots,
        token: str | None,
        app: dict[str, Any],
        switch_interval: float | None = None,
    ) -> None:
        self.loop = loop
        self.runner = runner
        self.roots = roots
        self.token = token
        self.app = app
        self.sessions: set[Session] = set()
        # App path -> notes shown for it now; absent means no diagnostics.
        self.diagnostics: dict[str, list[Note]] = {}
        self.last_reload: dict[str, Any] | None = None
        self._active = 0
        self._switch = switch_interval
        self._saved_switch_interval: float | None = None
        self._lowered_to = 0.0
        self._hurried: tuple[float, float] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # Reload outcomes from any thread, applied on the loop in order.
        self._outcomes: collections.deque[Outcome] = collections.deque()
        self._waiting_inline = False
        # Reload targets (see reload()): True when their last reload was quick.
        self._quick: dict[object, bool] = {}

    def start(self) -> None:
        self._unsubscribe = events.subscribe(self._on_outcome)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.calm()
        self._restore_thread_switches()
        self.runner.close()

    # -- connections -----------------------------------------------------------

    def attach(self, session: Session) -> None:
        self.sessions.add(session)
        if len(self.sessions) == 1:
            self._quicken_thread_switches()

    def detach(self, session: Session) -> None:
        self.sessions.discard(session)
        if not self.sessions:
            self.calm()
            self._restore_thread_switches()

    @contextlib.contextmanager
    def corked(self) -> Iterator[None]:
        """Hold every session's writes and send each session's in one write at the end."""
        for session in self.sessions:
            session.writer.cork()
        try:
            yield
        finally:
            for session in list(self.sessions):
                session.writer.uncork()

    def hurry(self) -> None:
        """Switch threads every 0.1 ms until :meth:`calm`: a client's message is coming.

        Handling a reload request blocks the server's thread several times
        (reading the message and the file, writing the reply), and each time
        the thread waits up to a switch interval for the GIL if app threads
        keep the CPU busy.  The interval comes back as soon as the reply is
        written: a few milliseconds per request.
        """
        if self._hurried is not None:
            return
        before = sys.getswitchinterval()
        if before <= HANDLING_SWITCH_INTERVAL:
            return
        self._hurried = (before, set_switch_interval(HANDLING_SWITCH_INTERVAL))

    def calm(self) -> None:
        """Put back the switch interval :meth:`hurry` replaced."""
        if self._hurried is not None:
            before, fast = self._hurried
            self._hurried = None
            # Only if nobody changed it meanwhile.
            if sys.getswitchinterval() == fast:
                set_switch_interval(before)

    # -- reloads ---------------------------------------------------------------

    def reload(
        self, job: Callable[[], dict[str, Any]], *, inline: bool = True, key: object = None
    ) -> dict[str, Any] | asyncio.Future[Any]:
        """Run a reload job; its ReloadOutcome, or a future for it.

        A reload is answered in the same turn of the loop that read the request
        whenever it can be, because every turn and every hand-over between
        threads costs a wait for the GIL in an app whose threads keep the CPU
        busy.  With the "thread" runner, a target (``key``: the file, say) whose
        last reload took under :data:`INLINE_BUDGET` runs right here, on the
        server's thread, if no other reload holds the reload lock.  Any other
        job goes to the runner, and the loop waits up to :data:`INLINE_WAIT`
        for it; a slower job is awaited instead, and other clients are served
        meanwhile.  With ``inline`` false, every job is awaited that way.
        """
        self._active += 1
        if self._active == 1:
            self.broadcast_status()
        try:
            if inline and self._runs_here(key):
                future = self._run_here(job, key)
            else:
                future = self._submit(job, key)
            if inline and not future.done():
                self._waiting_inline = True
                try:
                    concurrent.futures.wait([future], INLINE_WAIT)
                finally:
                    # Cleared before draining: an outcome queued after the drain
                    # schedules its own (see _on_outcome).
                    self._waiting_inline = False
                self.drain()
        except BaseException:
            self._finished()
            raise
        if not future.done():
            return asyncio.ensure_future(self._later(future))
        self._finished()
        return future.result()

    def _runs_here(self, key: object) -> bool:
        return (
            key is not None
            and self._quick.get(key, False)
            and getattr(self.runner, "inline_ok", False)
        )

    def _run_here(self, job: Callable[[], Any], key: object) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if not reload_lock.acquire(blocking=False):
            # Another thread reloads: waiting for it here would stall every client.
            return self._submit(job, key)
        started = time.perf_counter()
        self._waiting_inline = True
        try:
            run_into(job, future)
        finally:
            self._waiting_inline = False
            reload_lock.release()
        self._quick[key] = time.perf_counter() - started < INLINE_BUDGET
        self.drain()
        return future

    def _submit(self, job: Callable[[], Any], key: object) -> concurrent.futures.Future[Any]:
        started = time.perf_counter()
        future = self.runner.submit(job)
        if key is not None:

            def learn(_: concurrent.futures.Future[Any]) -> None:
                # Any thread: one dict item set, atomic.
                self._quick[key] = time.perf_counter() - started < INLINE_BUDGET

            future.add_done_callback(learn)
        return future

    async def _later(self, future: concurrent.futures.Future[Any]) -> dict[str, Any]:
        try:
            return await asyncio.wrap_future(future)
        finally:
            self._finished()

    def _finished(self) -> None:
        self._active -= 1
        if self._active == 0:
            self.broadcast_status()

    def _quicken_thread_switches(self) -> None:
        """Hand the GIL between threads every ``switch_interval`` while editors
        are connected (``serve()``'s 0.5 ms unless the app said ``None``).

        A message wakes the server's thread, which must then take the GIL; while
        app threads keep the CPU busy, that waits out the interpreter's switch
        interval, 5 ms by default, once per busy thread that wins the GIL
        first, before :meth:`hurry` can shorten the waits that follow.  At
        0.5 ms CPU-bound threads lose no measurable throughput (0.1 ms would
        cost them up to some 5 %).  The app's own setting comes back when the last
        client disconnects.
        """
        if self._switch is None or self._saved_switch_interval is not None:
            return
        current = sys.getswitchinterval()
        self._saved_switch_interval = current
        self._lowered_to = current
        if current > self._switch:
            self._lowered_to = set_switch_interval(self._switch)

    def _restore_thread_switches(self) -> None:
        if self._saved_switch_interval is not None:
            saved, self._saved_switch_interval = self._saved_switch_interval, None
            # Only if nobody changed it meanwhile.
            if sys.getswitchinterval() == self._lowered_to:
                set_switch_interval(saved)

    def _on_outcome(self, outcome: Outcome) -> None:
        # Any thread: the reloading one.
        self._outcomes.append(outcome)
        if self._waiting_inline:
            return  # the loop drains right after its wait
        try:
            self.loop.call_soon_threadsafe(self.drain)
        except RuntimeError:
            # The loop is closed: the server stopped while a reload finished.
            log.debug("reload outcome after the server stopped: %s", outcome)

    def drain(self) -> None:
        """Apply the reload outcomes queued so far, in order."""
        if not self._outcomes:
            return
        with self.corked():
            while self._outcomes:
                self._apply(self._outcomes.popleft())

    def _apply(self, outcome: Outcome) -> None:
        self.last_reload = outcome_dict(outcome)
        changed = notes_by_file(outcome)
        for file, notes in changed.items():
            if notes:
                self.diagnostics[file] = notes
            else:
                self.diagnostics.pop(file, None)
        # A reload the server runs ends with reload()'s "idle" status, which carries
        # this outcome; one from elsewhere (watch(), the API) gets its status here.
        status = None if self._active else self.status()
        for session in self.ready_sessions():
            session.publish(changed)
            session.log_outcome(self.last_reload)
            if status is not None:
                session.send_status(status)

    def clear(self, file: str) -> None:
        """Drop diagnostics of a file whose running code is its source again."""
        if self.diagnostics.pop(file, None) is not None:
            for session in self.ready_sessions():
                session.publish({file: []})

    # -- sessions --------------------------------------------------------------

    def ready_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.ready]

    def status(self) -> dict[str, Any]:
        """The ``reloadServer/status`` params, in app paths."""
        return {
            "state": "reloading" if self._active else "idle",
            "app": {k: self.app[k] for k in ("pid", "argv", "cwd")},
            "lastReload": self.last_reload,
            "clients": len(self.ready_sessions()),
        }

    def broadcast_status(self) -> None:
        status = self.status()
        for session in self.ready_sessions():
            session.send_status(status)
