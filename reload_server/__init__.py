"""reload_server: hot reload for long-running Python programs, driven from the editor.

The public API is the few names below.  Importing this package is cheap (a few
milliseconds, the reimporter included, so that the first reload does not pay
for it); the language-server machinery (pygls, lsprotocol) is only ever
imported on the server's own thread.
"""

from __future__ import annotations

import time

from . import importclock as _importclock
from .events import Outcome, subscribe
from .results import Frame, Note, ReloadError, ReloadResult

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterable
    from types import ModuleType
    from typing import Any

__version__ = "0.1.0"

# For stale detection: modules imported from now on have their import time noted.
_imported_ns = time.time_ns()
_importclock.install()

from . import reimporter as _reimporter  # noqa: E402 - after the clock, which it reads

__all__ = [
    "Frame",
    "Note",
    "ReloadError",
    "ReloadResult",
    "modified",
    "poll",
    "reimport",
    "serve",
    "serve_from_env",
    "stop",
    "subscribe",
    "watch",
]


def reimport(*modules: str | ModuleType | os.PathLike[str]) -> ReloadResult:
    """Reload modules in place, all or nothing.

    Each argument is a module name (``"myapp.handlers"``), a module object, or
    the path of a loaded module's source file.  The new code of every target is
    compiled first, then executed in dependency order; if anything fails, every
    target is restored exactly as it was and :class:`ReloadError` is raised with
    notes saying where.  On success, old references run the new code: functions
    held anywhere, existing instances, subclasses in other modules and
    ``from m import x`` copies.  Returns a :class:`ReloadResult`.
    """
    return _reimporter.reimport(*modules)


def modified(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of loaded modules whose source changed on disk since they were loaded.

    With ``path``, only modules whose file lies under it (a directory) or is it
    (a file).  ``reimport(*modified())`` reloads everything stale.
    """
    from .staleness import modified as _modified

    return _modified(path)


def serve(
    address: int | tuple[str, int] = 0,
    *,
    token: str | None = None,
    allow_remote: bool = False,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    runner: Any = "thread",
    discovery: bool = True,
    switch_interval: float | None = 0.0005,
) -> tuple[str, int]:
    """Start the reload server on a background thread and return ``(host, port)``.

    ``address`` is a port or ``(host, port)``; port 0 picks a free one; the host
    defaults to 127.0.0.1.  Binding a non-loopback host needs
    ``allow_remote=True`` and a ``token``.  ``roots`` restricts which files
    ``reloadPath`` may reload.  ``runner`` says where reloads run: ``"thread"``
    (the default, under the reload lock), an asyncio event loop owned by the
    app, or ``"poll"`` (queued until the app calls :func:`poll`).
    ``switch_interval`` (seconds, 0.5 ms by default) is the GIL switch
    interval kept while an editor is connected (never raised: a shorter one of
    the app's stays), so that the server answers within a few milliseconds
    even while app threads keep the CPU busy; the app's own value comes back
    when the last editor disconnects, and ``None`` leaves it alone.  Returns at
    once; a second call while a server runs raises ``RuntimeError``.
    """
    from .server.control import serve as _serve

    return _serve(
        address,
        token=token,
        allow_remote=allow_remote,
        roots=roots,
        runner=runner,
        discovery=discovery,
        switch_interval=switch_interval,
    )


def serve_from_env() -> tuple[str, int] | None:
    """Start the server if ``RELOAD_SERVER_LISTEN`` is set; returns its address, or None.

    ``RELOAD_SERVER_LISTEN`` is ``[host:]port``; ``RELOAD_SERVER_TOKEN`` supplies
    the token.  Lets a program opt in from its environment without code changes
    between development and production.
    """
    from .server.control import serve_from_env as _serve_from_env

    return _serve_from_env()


def stop(timeout: float = 5.0) -> None:
    """Stop the reload server, close its connections and remove its discovery file."""
    from .server.control import stop as _stop

    _stop(timeout)


def poll() -> int:
    """Run reloads queued for this thread (``serve(runner="poll")``); returns how many ran.

    Call it from the app's own loop or timer (a game loop, a Qt timer) so that
    new code is swapped in on the thread that owns the app's objects.
    """
    from .runners import poll as _poll

    return _poll()


def watch(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] = ".",
    *,
    runner: Any = "thread",
    on_reload: Callable[[Outcome], None] | None = None,
) -> Callable[[], None]:
    """Reload loaded modules when their files change under ``paths``; returns a stop function.

    Watches on a background thread with file-system events, debounced the way
    editors save; each batch of changed modules is reloaded in one transaction
    on ``runner`` (as for :func:`serve`).  Every outcome goes to ``on_reload``;
    by default one line per reload or rollback is printed to stderr.  Connected
    editors get the diagnostics either way.
    """
    from .watcher import watch as _watch

    return _watch(paths, runner=runner, on_reload=on_reload)


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext reload_server``: reload stale modules before each cell, transactionally."""
    from .ipython import load_ipython_extension as _load

    _load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext reload_server``."""
    from .ipython import unload_ipython_extension as _unload

    _unload(shell)
