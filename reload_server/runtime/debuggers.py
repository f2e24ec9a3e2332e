"""Keeping the server's own threads out of a debugger's reach.

A debugger such as debugpy (pydevd inside it) traces every thread and, at a
breakpoint, suspends them all.  A reload asked for while the app is paused must
still run, so the threads that serve editors and run reloads are marked with
the attributes pydevd looks for on a :class:`threading.Thread`: it neither
announces, traces nor suspends a thread with ``is_pydev_daemon_thread`` and
``pydev_do_not_trace`` set.  They must be set before the thread starts: pydevd
decides at start-up whether to trace a new thread (and, on Python 3.12 and
later, caches that decision per thread).  Nothing here imports a debugger.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself would cost the host milliseconds
if TYPE_CHECKING:
    import threading


def hide_from_debuggers(thread: threading.Thread) -> threading.Thread:
    """Mark a not-yet-started ``thread`` so debuggers leave it running; returns it."""
    if thread.ident is not None:
        raise RuntimeError(f"{thread.name}: mark a thread for debuggers before starting it")
    # pydevd's own names for its own threads (pydevd_daemon_thread.mark_as_pydevd_daemon_thread).
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    return thread
