"""What all connections share: the runner, the current diagnostics, the last reload.

The hub lives on the server's event loop.  It subscribes to
:mod:`reload_server.events`, so a reload from *any* source (a client, the app
calling ``reimport``, a watcher) updates every connected editor; those events
arrive on whatever thread reloaded and are moved onto the loop with
``call_soon_threadsafe`` because asyncio transports are not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import events
from ..events import Outcome
from ..results import Note
from ..runners import Runner
from .diagnostics import notes_by_file
from .paths import Roots
from .reloads import outcome_dict

# The GIL switch interval while a reload request is served (see Hub.run).
SWITCH_INTERVAL = 0.0005

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("reload_server")


class Hub:
    """Shared server state and broadcasts; every method runs on the server's loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        runner: Runner,
        roots: Roots,
        token: str | None,
        app: dict[str, Any],
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
        self._saved_switch_interval: float | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = events.subscribe(self._on_outcome)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.runner.close()

    # -- reloads ---------------------------------------------------------------

    async def run(self, job: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a reload job on the runner without blocking the loop; its ReloadOutcome."""
        self._active += 1
        if self._active == 1:
            self._quicken_thread_switches()
            self.broadcast_status()
        try:
            return await asyncio.wrap_future(self.runner.submit(job))
        finally:
            self._active -= 1
            if self._active == 0:
                self.broadcast_status()
                # After this step, in which the reply is written.
                self.loop.call_soon(self._restore_thread_switches)

    def _quicken_thread_switches(self) -> None:
        """While a reload is served, hand the GIL between threads every 0.5 ms.

        A request crosses threads several times (this loop, the reload worker,
        back), and each time the thread that wants the GIL waits out the
        interpreter's switch interval (5 ms by default) if app threads keep
        the CPU busy: tens of milliseconds per request.  The app's own setting
        is put back as soon as the reply is written.
        """
        if self._saved_switch_interval is None:
            current = sys.getswitchinterval()
            self._saved_switch_interval = current
            if current > SWITCH_INTERVAL:
                sys.setswitchinterval(SWITCH_INTERVAL)

    def _restore_thread_switches(self) -> None:
        if self._active == 0 and self._saved_switch_interval is not None:
            saved, self._saved_switch_interval = self._saved_switch_interval, None
            # Only if nobody changed it meanwhile.
            if sys.getswitchinterval() == min(saved, SWITCH_INTERVAL):
                sys.setswitchinterval(saved)

    def _on_outcome(self, outcome: Outcome) -> None:
        # Any thread: the reloading one.
        try:
            self.loop.call_soon_threadsafe(self._apply, outcome)
        except RuntimeError:
            # The loop is closed: the server stopped while a reload finished.
            log.debug("reload outcome after the server stopped: %s", outcome)

    def _apply(self, outcome: Outcome) -> None:
        self.last_reload = outcome_dict(outcome)
        changed = notes_by_file(outcome)
        for file, notes in changed.items():
            if notes:
                self.diagnostics[file] = notes
            else:
                self.diagnostics.pop(file, None)
        # A reload the server runs ends with run()'s "idle" status, which carries
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
