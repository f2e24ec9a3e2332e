"""What all connections share, and what is broadcast to them: the sessions, the
current diagnostics, the last reload and the server's status.

The state lives on the server's event loop.  It subscribes to
:mod:`reload_server.core.events`, so a reload from *any* source (a client, the
app calling ``reimport``, a watcher) updates every connected editor.  It also
holds what requests need: the roots, the token, the discovery file (to find
sibling processes), the reload scheduler and the switch interval policy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ..core import events
from ..core.events import Outcome
from ..core.results import Note, ReloadResult
from ..runtime.runners import Runner
from ..wire.outcome import outcome_dict
from .debugger import AutoReloadCheck
from .diagnostics import notes_by_file
from .outcome_queue import OutcomeQueue
from .paths import Roots
from .scheduling import ReloadScheduler
from .stale_frames import StaleFrames
from .switching import SwitchInterval


class Writer(Protocol):
    def cork(self) -> None: ...

    def uncork(self) -> None: ...


class Peer(Protocol):
    """What the shared state needs of one connected client (a :class:`~.session.Session`)."""

    ready: bool
    writer: Writer

    def publish(self, changed: dict[str, list[Any]]) -> None: ...

    def log_outcome(self, outcome: dict[str, Any]) -> None: ...

    def send_status(self, status: dict[str, Any]) -> None: ...

    def log_message(self, text: str, kind: Any = ...) -> None: ...


class ServerState:
    """Shared server state and broadcasts; every method runs on the server's loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        runner: Runner,
        roots: Roots,
        token: str | None,
        app: dict[str, Any],
        switch_interval: float | None = None,
        discovery_file: str | None = None,
    ) -> None:
        self.loop = loop
        self.roots = roots
        self.token = token
        self.app = app
        # This server's discovery entry; its siblings are the other entries next to it.
        self.discovery_file = discovery_file
        self.sessions: set[Peer] = set()
        # App path -> the last reload's notes for it; absent means none.  What an
        # editor is shown adds the stale-call notes (shown()).
        self.diagnostics: dict[str, list[Note]] = {}
        self.last_reload: dict[str, Any] | None = None
        self.switching = SwitchInterval(switch_interval)
        self.outcomes = OutcomeQueue(loop, self._apply)
        self.reloads = ReloadScheduler(runner, self.outcomes, self.broadcast_status)
        self._unsubscribe: Callable[[], None] | None = None
        # Calls still running code from before a reload: INFO notes shown beside
        # the reload's own diagnostics of the same file (see shown()).
        self.stale_frames = StaleFrames(loop, self._publish_files)
        self.auto_reload = AutoReloadCheck()

    def start(self) -> None:
        # Not inherited by a forked child: the loop it wakes runs in the parent only.
        self._unsubscribe = events.subscribe(self.outcomes.put, inherit=False)
        self.auto_reload.check(())

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.switching.last_editor_left()
        self.reloads.close()
        self.stale_frames.close()

    # -- connections -----------------------------------------------------------

    def attach(self, session: Peer) -> None:
        self.sessions.add(session)
        if len(self.sessions) == 1:
            self.switching.first_editor_connected()

    def detach(self, session: Peer) -> None:
        self.sessions.discard(session)
        self.auto_reload.forget(session)
        if not self.sessions:
            self.switching.last_editor_left()

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

    def ready_sessions(self) -> list[Peer]:
        return [s for s in self.sessions if s.ready]

    # -- reload outcomes -------------------------------------------------------

    def _apply(self, outcomes: Iterable[Outcome]) -> None:
        with self.corked():
            for outcome in outcomes:
                self._apply_one(outcome)

    def _apply_one(self, outcome: Outcome) -> None:
        self.last_reload = outcome_dict(outcome)
        changed = notes_by_file(outcome)
        for file, notes in changed.items():
            if notes:
                self.diagnostics[file] = notes
            else:
                self.diagnostics.pop(file, None)
        if isinstance(outcome, ReloadResult) and outcome.modules:
            changed.update(dict.fromkeys(self.stale_frames.after_reload(outcome.files), []))
        changed = {file: self.shown(file) for file in changed}
        self.auto_reload.check(self.ready_sessions())
        # A reload the server runs ends with the scheduler's "idle" status, which
        # carries this outcome; one from elsewhere (watch(), the API) gets its status here.
        status = None if self.reloads.busy else self.status()
        for session in self.ready_sessions():
            session.publish(changed)
            session.log_outcome(self.last_reload)
            if status is not None:
                session.send_status(status)

    def clear(self, file: str) -> None:
        """Drop diagnostics of a file whose running code is its source again."""
        if self.diagnostics.pop(file, None) is not None:
            for session in self.ready_sessions():
                session.publish({file: self.shown(file)})

    def shown(self, file: str) -> list[Note]:
        """What a file's diagnostics show: the last reload's notes, then stale calls."""
        return self.diagnostics.get(file, []) + self.stale_frames.notes.get(file, [])

    def shown_all(self) -> dict[str, list[Note]]:
        """Every file's diagnostics, for an editor that just connected."""
        return {
            file: self.shown(file) for file in self.diagnostics.keys() | self.stale_frames.notes
        }

    def _publish_files(self, files: set[str]) -> None:
        with self.corked():
            for session in self.ready_sessions():
                session.publish({file: self.shown(file) for file in files})

    # -- status ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The ``reloadServer/status`` params, in app paths."""
        return {
            "state": "reloading" if self.reloads.busy else "idle",
            "app": {k: self.app[k] for k in ("pid", "argv", "cwd")},
            "lastReload": self.last_reload,
            "clients": len(self.ready_sessions()),
        }

    def broadcast_status(self) -> None:
        status = self.status()
        for session in self.ready_sessions():
            session.send_status(status)
