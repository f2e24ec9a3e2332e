"""Where a reload job runs, and whether its request is answered in the same turn of the loop.

A reload is answered in the same turn of the loop that read the request whenever
it can be, because every turn and every hand-over between threads costs a wait
for the GIL in an app whose threads keep the CPU busy (see ``bench/README.md``).
So the loop may block, briefly, on a reload: a target that reloaded quickly last
time runs right on the server's thread (runners that allow it), and any other
job is given :data:`BLOCKING_WAIT` to finish before the request is answered
later instead, while other clients are served.  Every method runs on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from ..core.transaction import reload_lock
from ..runtime.runners import Runner, run_into
from .outcome_queue import OutcomeQueue

# How long the loop waits, blocked, for a reload to finish so that it can answer
# in the same turn; a slower reload is awaited without blocking other clients.
BLOCKING_WAIT = 0.25
# A target whose last reload took less than this is reloaded on the server's
# own thread (runners that allow it): no hand-over to the reload thread and back.
FAST_RELOAD = 0.1

Outcome = dict[str, Any]


class ReloadScheduler:
    """Runs reload jobs through the runner, or on the loop's thread when that is quicker."""

    def __init__(
        self,
        runner: Runner,
        outcomes: OutcomeQueue,
        on_busy_changed: Callable[[], None],
    ) -> None:
        self.runner = runner
        self._outcomes = outcomes
        self._on_busy_changed = on_busy_changed
        self._running = 0
        # Reload targets (see run()): True when their last reload took under FAST_RELOAD.
        self._was_fast: dict[object, bool] = {}

    @property
    def busy(self) -> bool:
        """True while a reload this scheduler started has not finished."""
        return self._running > 0

    def run(
        self, job: Callable[[], Outcome], *, answer_now: bool = True, key: object = None
    ) -> Outcome | asyncio.Future[Outcome]:
        """Run a reload job; its ReloadOutcome, or a future for it.

        With the "thread" runner, a target (``key``: the file, say) whose last
        reload took under :data:`FAST_RELOAD` runs right here, on the server's
        thread, if no other reload holds the reload lock.  Any other job goes to
        the runner, and the loop waits up to :data:`BLOCKING_WAIT` for it; a
        slower job is awaited instead.  With ``answer_now`` false, every job is
        handed to the runner and awaited.
        """
        self._running += 1
        if self._running == 1:
            self._on_busy_changed()
        try:
            if answer_now and self._may_run_here(key):
                future = self._run_here(job, key)
            else:
                future = self._submit(job, key)
            if answer_now and not future.done():
                with self._outcomes.loop_blocked():
                    concurrent.futures.wait([future], BLOCKING_WAIT)
        except BaseException:
            self._finished()
            raise
        if not future.done():
            return asyncio.ensure_future(self._later(future))
        self._finished()
        return future.result()

    def close(self) -> None:
        self.runner.close()

    def _may_run_here(self, key: object) -> bool:
        return (
            key is not None
            and self._was_fast.get(key, False)
            and getattr(self.runner, "may_run_on_server_thread", False)
        )

    def _run_here(self, job: Callable[[], Outcome], key: object) -> concurrent.futures.Future[Any]:
        if not reload_lock.acquire(blocking=False):
            # Another thread reloads: waiting for it here would stall every client.
            return self._submit(job, key)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        started = time.perf_counter()
        with self._outcomes.loop_blocked():
            try:
                run_into(job, future)
            finally:
                reload_lock.release()
            self._was_fast[key] = time.perf_counter() - started < FAST_RELOAD
        return future

    def _submit(self, job: Callable[[], Outcome], key: object) -> concurrent.futures.Future[Any]:
        if key is None:
            return self.runner.submit(job)

        def timed() -> Outcome:
            # The job's own time, not the hand-over to the runner's thread: on a
            # busy machine that wait alone can exceed FAST_RELOAD, and it is the
            # very wait that running on the server's thread saves.
            started = time.perf_counter()
            try:
                return job()
            finally:
                # Any thread: one dict item set, atomic.
                self._was_fast[key] = time.perf_counter() - started < FAST_RELOAD

        return self.runner.submit(timed)

    async def _later(self, future: concurrent.futures.Future[Any]) -> Outcome:
        try:
            return await asyncio.wrap_future(future)
        finally:
            self._finished()

    def _finished(self) -> None:
        # A job publishes its outcome before it returns, from whichever thread ran it;
        # when that thread finished while the loop was not blocked on it (the worker
        # got the GIL first, as a fresh runner's new thread does), the outcome still
        # waits for a drain the loop has scheduled.  Applied now, the status that
        # ends the reload carries it, and nothing after it does.
        self._outcomes.drain()
        self._running -= 1
        if self._running == 0:
            self._on_busy_changed()
