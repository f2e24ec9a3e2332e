"""Who else takes part in this process's reloads: the registry :func:`.transaction.reimport` asks.

Empty unless an engine (``reload_server.dask.install``) joined other processes
to this one.  The registry holds the callable that spreads a reload over them,
set by :mod:`.fleet` when the first member joins; the transaction only asks
for it, so it need not import the fleet (which imports the transaction).
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import
if TYPE_CHECKING:
    from collections.abc import Callable

_lock = threading.Lock()
_members: list[object] = []
_spread: Callable | None = None
# Set while a spread reload runs on some thread: its own local reimport must not spread again.
_spreading = threading.local()


def join(member: object, spread: Callable) -> None:
    """Add ``member``; ``spread(modules, full=...)`` will run this process's reloads from now on."""
    global _spread
    with _lock:
        if member not in _members:
            _members.append(member)
        _spread = spread


def leave(member: object) -> None:
    """Remove ``member``; with no member left, reloads are this process's alone again."""
    global _spread
    with _lock:
        if member in _members:
            _members.remove(member)
        if not _members:
            _spread = None


def current() -> list[object]:
    """The members now, in the order they joined."""
    with _lock:
        return list(_members)


def spreader() -> Callable | None:
    """The callable that spreads a reload over the members, or None to reload here alone."""
    if getattr(_spreading, "active", False):
        return None
    return _spread


class spreading:
    """Context manager marking the current thread as running a spread reload."""

    def __enter__(self) -> None:
        _spreading.active = True

    def __exit__(self, *exc: object) -> None:
        _spreading.active = False
