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
# Listeners subscribed with inherit=False, and the process that subscribed each.
_not_inherited: list[tuple[Listener, int]] = []
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    _lock._at_fork_reinit()
    pid = os.getpid()
    # The pid tells the parent's subscriptions from any the child made already.
    dropped = [listener for listener, owner in _not_inherited if owner != pid]
    _not_inherited[:] = [(listener, owner) for listener, owner in _not_inherited if owner == pid]
    _listeners[:] = [kept for kept in _listeners if not any(kept is d for d in dropped)]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def subscribe(listener: Listener, *, inherit: bool = True) -> Callable[[], None]:
    """Call ``listener(outcome)`` after every reload attempt; returns an unsubscribe function.

    Listeners run on the thread that did the reload, after the reload lock is
    released.  An exception in a listener is logged and does not affect the
    reload or the other listeners.  With ``inherit=False`` a child made by
    ``os.fork()`` does not keep the listener: for one bound to something only
    the parent has, such as an event loop run by a thread the child lacks.
    """
    with _lock:
        _listeners.append(listener)
        if not inherit:
            _not_inherited.append((listener, os.getpid()))

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)
            _not_inherited[:] = [item for item in _not_inherited if item[0] is not listener]

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
