"""Noticing debugpy's own ``autoReload``, which would apply every change a second time.

With ``"autoReload": {"enable": true}`` in a launch configuration, debugpy
(pydevd inside it) watches the sources and reloads a changed module itself, on
top of the reload this server does for the same save.  pydevd offers no public
way to turn its watcher off from inside the process, so the server says so
instead: once in its log, and once to each editor (see :class:`AutoReloadCheck`).

Nothing here imports debugpy: pydevd is looked at only when it is already
loaded, through attributes of its private API, each of which may be missing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Protocol

log = logging.getLogger("reload_server")

WARNING = "debugpy autoReload is on: changes would be applied twice; turn it off in launch.json"
# LSP's MessageType.Warning, without importing lsprotocol for one number.
LOG_WARNING = 2


def debugpy_auto_reload() -> bool:
    """Whether a debugger (pydevd, inside debugpy) in this process watches files to reload them."""
    constants = sys.modules.get("_pydevd_bundle.pydevd_constants")
    if constants is None:
        return False
    try:
        holder = getattr(constants, "GlobalDebuggerHolder", None)
        py_db = getattr(holder, "global_dbg", None)
        # PyDB._fsnotify_thread exists while autoReload is on (PyDB.setup_auto_reload_watcher).
        watcher = getattr(py_db, "_fsnotify_thread", None)
        return watcher is not None and not getattr(watcher, "_kill_received", False)
    except Exception:  # noqa: BLE001 - pydevd's internals may change; no warning is better than a crash
        log.debug("could not inspect pydevd for autoReload", exc_info=True)
        return False


class Told(Protocol):
    def log_message(self, text: str, kind: Any = ...) -> None: ...


class AutoReloadCheck:
    """Warns about debugpy's autoReload: in the log once, and once to each editor."""

    def __init__(self) -> None:
        self.on = False
        self._logged = False
        self._told: set[int] = set()  # ids of the sessions told; a session lives as long as its id

    def check(self, sessions: Iterable[Told]) -> None:
        """Look at pydevd (cheap: a few attribute reads) and warn whoever has not been told."""
        self.on = debugpy_auto_reload()
        if not self.on:
            return
        if not self._logged:
            self._logged = True
            log.warning("reload server: %s", WARNING)
        for session in sessions:
            if id(session) not in self._told:
                self._told.add(id(session))
                session.log_message(WARNING, LOG_WARNING)

    def forget(self, session: object) -> None:
        self._told.discard(id(session))
