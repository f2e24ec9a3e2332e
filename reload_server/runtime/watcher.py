"""Reloading on file changes, no editor needed.

A background thread waits for file-system events (watchfiles: inotify, FSEvents
or ReadDirectoryChangesW under one API; no polling) and turns each debounced
batch of changes into one transactional reload of the loaded modules whose
files changed.  Editors save in odd ways — write a temp file and rename it,
delete and recreate, write several times in a row — so a batch is judged by
what is on disk once it settles: a module is reloaded when its file exists and
differs from what is loaded.  Files that are not loaded modules are ignored.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..core import report, staleness, targets
from ..core.events import Outcome
from ..core.results import ReloadError
from .debuggers import hide_from_debuggers

log = logging.getLogger("reload_server")

# How long a burst of writes must be quiet before it is handled, and the most a
# burst may be held back, in milliseconds.
SETTLE_MS = 50
DEBOUNCE_MS = 1600
# How often the blocked watcher thread wakes with nothing to do.
IDLE_TIMEOUT_MS = 5000


def describe(outcome: Outcome) -> str:
    """One readable line for a reload or a rollback."""
    return report.watch_line(outcome)


def _print_line(outcome: Outcome) -> None:
    print(describe(outcome), file=sys.stderr, flush=True)


def changed_modules(paths: Iterable[str]) -> list[str]:
    """Loaded modules whose files are among ``paths`` and changed since loaded."""
    names: list[str] = []
    for path in paths:
        if not path.endswith(".py") or not os.path.isfile(path):
            continue
        for name in targets.modules_for_file(path):
            if (
                name not in names
                and staleness.is_stale(name)
                and targets.refusal(name, sys.modules.get(name)) is None
            ):
                names.append(name)
    return names


def _open_notify(paths: list[str]) -> Any:
    """Start watching ``paths`` with watchfiles' Rust notifier; the watches exist on return.

    The one use of watchfiles' private ``_rust_notify.RustNotify`` (checked
    against watchfiles 1.3.0, whose ``watch()`` drives it the same way).  The
    public ``watchfiles.watch()`` generator creates it and blocks in the same
    call, so it cannot say when the watches exist, and ``Watcher.start`` must
    not return before then or a save right after it would be missed.  The
    public API would also read ``WATCHFILES_*`` environment variables and turn
    a signal into ``KeyboardInterrupt`` in this thread: the flags below are
    fixed instead.
    """
    from watchfiles._rust_notify import RustNotify

    return RustNotify(
        watch_paths=paths,
        debug=False,
        force_polling=False,
        poll_delay_ms=300,  # used only when polling, which is never forced here
        recursive=True,
        ignore_permission_denied=False,
    )


class Watcher:
    """A running watch: :meth:`stop` ends it."""

    def __init__(self, paths: list[str], runner: Any, on_reload: Callable[[Outcome], None]) -> None:
        from .runners import make_runner

        self.paths = paths
        self._runner = make_runner(runner)
        self._on_reload = on_reload
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failed: BaseException | None = None  # why the watches could not be made
        # A save still reloads while a debugger holds the app at a breakpoint.
        self._thread = hide_from_debuggers(
            threading.Thread(target=self._run, name="reload_server-watch", daemon=True)
        )

    def start(self) -> Watcher:
        staleness.snapshot()
        self._thread.start()
        # Unbounded: returning before the watches exist would silently miss a
        # save made right after watch() returns.  The thread always sets it.
        self._ready.wait()
        if self._failed is not None:
            raise RuntimeError(
                f"cannot watch {', '.join(self.paths)}: {self._failed}"
            ) from self._failed
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._runner.close()

    def _run(self) -> None:
        try:
            # Imported only now: the host pays for watchfiles only when it watches.
            import watchfiles

            keep = watchfiles.PythonFilter()
            # Imported and indexed before the first event: the reimporter's first
            # use would import its modules, and that import would re-index the
            # loaded modules (tens of ms with thousands) on the next event.
            from ..core import transaction  # noqa: F401

            targets.index_modules()
            with _open_notify(self.paths) as notify:
                self._ready.set()
                while not self._stop.is_set():
                    raw = notify.watch(
                        debounce_ms=DEBOUNCE_MS,
                        step_ms=SETTLE_MS,
                        timeout_ms=IDLE_TIMEOUT_MS,
                        stop_event=self._stop,
                    )
                    if raw == "stop":
                        return
                    if isinstance(raw, str):  # "timeout", or "signal" (not ours to act on)
                        continue
                    paths = {p for change, p in raw if keep(watchfiles.Change(change), p)}
                    if paths:
                        self._handle(paths)
        except Exception as exc:
            if self._ready.is_set():
                log.exception("reload_server: the file watcher stopped")
            else:
                self._failed = exc  # start() raises it on the caller's thread
        finally:
            self._ready.set()

    def _handle(self, paths: set[str]) -> None:
        names = changed_modules(sorted(paths))
        if not names:
            return
        from ..core.transaction import reimport

        def job() -> Outcome:
            try:
                return reimport(*names)
            except ReloadError as e:
                return e

        future = self._runner.submit(job)
        future.add_done_callback(self._report)

    def _report(self, future) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error("reload_server: watched reload failed unexpectedly: %r", error)
            return
        try:
            self._on_reload(future.result())
        except Exception:
            log.exception("reload_server: on_reload callback failed")


def watch(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] = ".",
    *,
    runner: Any = "thread",
    on_reload: Callable[[Outcome], None] | None = None,
) -> Callable[[], None]:
    """Reload loaded modules when their files change under ``paths``; returns a stop function.

    Watches on a background thread with file-system events, debounced the way
    editors save; each batch of changed modules is reloaded in one transaction
    on ``runner`` (as for :func:`reload_server.serve`).  Every outcome goes to
    ``on_reload``; by default one line per reload or rollback is printed to
    stderr.  Connected editors get the diagnostics either way.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    resolved = [os.path.abspath(os.fspath(p)) for p in paths]
    missing = [p for p in resolved if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"cannot watch what does not exist: {', '.join(missing)}")
    watcher = Watcher(resolved, runner, on_reload or _print_line).start()
    return watcher.stop
