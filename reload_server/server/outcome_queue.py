"""Reload outcomes from any thread, handed to the server's loop in order.

A reload from *any* source (a client, the app calling ``reimport``, a watcher)
publishes its outcome on the thread that reloaded; asyncio transports are not
thread-safe, so outcomes wait here until the loop applies them.  While the loop
itself is blocked waiting for a reload (see :mod:`.scheduling`), waking it
would only cost a turn: it drains the queue as soon as the wait ends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator

from ..core.events import Outcome

log = logging.getLogger("reload_server")


class OutcomeQueue:
    """Outcomes queued by any thread, applied on the loop, in order.

    ``apply`` gets every outcome queued at the time, as one batch: what they
    cause is sent to each client in one write.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, apply: Callable[[Iterable[Outcome]], None]
    ) -> None:
        self._loop = loop
        self._apply = apply
        self._queue: collections.deque[Outcome] = collections.deque()
        self._loop_is_waiting = False

    def put(self, outcome: Outcome) -> None:
        """Queue an outcome (any thread: the reloading one)."""
        self._queue.append(outcome)
        if self._loop_is_waiting:
            return  # the loop drains right after its wait
        try:
            self._loop.call_soon_threadsafe(self.drain)
        except RuntimeError:
            # The loop is closed: the server stopped while a reload finished.
            log.debug("reload outcome after the server stopped: %s", outcome)

    @contextlib.contextmanager
    def loop_blocked(self) -> Iterator[None]:
        """While the loop blocks on a reload: queue outcomes without waking it; drain after."""
        self._loop_is_waiting = True
        try:
            yield
        finally:
            # Cleared before draining: an outcome queued after the drain schedules its own.
            self._loop_is_waiting = False
        self.drain()

    def drain(self) -> None:
        """Apply the outcomes queued so far, in order (on the loop)."""
        if self._queue:
            self._apply(self._take_all())

    def _take_all(self) -> Iterator[Outcome]:
        # Taken one at a time: one queued while the batch is applied joins it.
        while self._queue:
            yield self._queue.popleft()
