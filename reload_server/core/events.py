"""Listeners for reload outcomes.

The reimporter publishes every outcome (a :class:`ReloadResult` or a
:class:`ReloadError`) here, whoever asked for the reload; the server, the
watcher and loggers subscribe.  The reimporter knows nothing of them.
"""

from __future__ import annotations

import os
import threading

from .results import ReloadError, ReloadResult

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import

if TYPE_CHECKING:
    from collections.abc import Callable

    Listener = Callable[["Outcome"], None]

Outcome = ReloadResult | ReloadError

_listeners: list[Listener] = []
_lock = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_lock._at_fork_reinit)


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener(outcome)`` after every reload attempt; returns an unsubscribe function.

    Listeners run on the thread that did the reload, after the reload lock is
    released.  An exception in a listener is logged and does not affect the
    reload or the other listeners.
    """
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def publish(outcome: Outcome) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(outcome)
        except Exception:
            import logging  # only when needed: the host may not use logging at all

            logging.getLogger("reload_server").exception("reload listener %r failed", listener)
