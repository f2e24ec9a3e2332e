"""Which loaded modules changed on disk since they were loaded.

One ``os.stat`` per module file and a comparison with the ``(mtime, size)``
recorded when the module was loaded or last reloaded.  A module we have not seen
before counts as stale if its source was written after it was imported (as
noted by :mod:`.importclock`), or, for modules imported before reload_server,
after the process started and after its ``.pyc`` where there is one; otherwise
its current state becomes the baseline.  Erring this way reloads a module once
more than needed at worst, which is harmless; an edit is not missed.  :func:`snapshot` records baselines for
everything loaded, which the server and the watcher do when they start.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from .importclock import installed_ns, started_ns
from .targets import modules_shape, never_reloaded, source_file

_baseline: dict[str, tuple[str, int, int]] = {}


def _process_start_ns() -> int:
    """When this process started (Linux), else when reload_server was imported."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        ticks = int(fields[19])
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return (boot * 10**9) + ticks * 10**9 // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return installed_ns


# Boot time has one-second resolution, so this errs early: a file written just
# before the process started may count as stale once, never the reverse.
_epoch_ns = _process_start_ns()


def record(name: str, file: str, stat: os.stat_result) -> None:
    """Remember that module ``name`` now runs the source ``file`` as it was at ``stat``."""
    _baseline[name] = (file, stat.st_mtime_ns, stat.st_size)
    _forget_candidates()


def snapshot() -> int:
    """Record the on-disk state of every loaded module not yet known; returns how many."""
    count = 0
    for name, module in list(sys.modules.items()):
        if name in _baseline:
            continue
        file = source_file(module)
        if file is None:
            continue
        try:
            st = os.stat(file)
        except OSError:
            continue
        _first_look(name, module, file, st)
        count += 1
    return count


def _first_look(name: str, module: ModuleType, file: str, st: os.stat_result) -> bool:
    """Record a baseline for a module seen for the first time; True if it looks stale."""
    stale = st.st_mtime_ns > started_ns.get(name, _epoch_ns)
    cached = getattr(module, "__cached__", None)
    if stale and isinstance(cached, str):
        try:
            stale = os.stat(cached).st_mtime_ns < st.st_mtime_ns
        except OSError:
            pass
    if stale:
        _baseline[name] = (file, -1, -1)
    else:
        _baseline[name] = (file, st.st_mtime_ns, st.st_size)
    _forget_candidates()
    return stale


def is_stale(name: str) -> bool:
    """True if module ``name``'s source changed on disk since it was loaded."""
    module = sys.modules.get(name)
    file = source_file(module)
    if file is None:
        return False
    try:
        st = os.stat(file)
    except OSError:
        return False
    known = _baseline.get(name)
    if known is None or known[0] != file:
        return _first_look(name, module, file, st)
    return known[1] != st.st_mtime_ns or known[2] != st.st_size


# What modified() looks at, as (name, module, file, absolute file, baseline):
# rebuilt only when sys.modules changed shape or a baseline changed, so that a
# check costs little more than its stats.
_candidates: list[tuple[str, ModuleType, str, str, tuple[str, int, int] | None]] = []
_candidates_key: tuple[int, object, int] = (-1, None, 0)


def _forget_candidates() -> None:
    global _candidates_key
    _candidates_key = (-1, None, 0)


def _rebuild() -> list[tuple[str, ModuleType, str, str, tuple[str, int, int] | None]]:
    global _candidates, _candidates_key
    key = modules_shape()
    candidates = []
    for name, module in list(sys.modules.items()):
        # Listing a module that can never be reloaded would make
        # `reimport(*modified())` fail as a whole.
        if never_reloaded(name) is not None:
            continue
        file = getattr(module, "__file__", None)
        if file.__class__ is not str or not file.endswith(".py"):
            continue
        full = file if os.path.isabs(file) else os.path.abspath(file)
        known = _baseline.get(name)
        candidates.append((name, module, file, full, known if known and known[0] == file else None))
    _candidates, _candidates_key = candidates, key
    return candidates


def modified(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of loaded modules whose source changed on disk since they were loaded.

    With ``path``, only modules whose file lies under it (a directory) or is it
    (a file).  ``reimport(*modified())`` reloads everything stale.  The main script (``__main__``) and reload_server's own modules are never
    listed: they cannot be reloaded.
    """
    prefixes: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    if path is not None:
        text = os.fspath(path)
        given = {os.path.abspath(text), os.path.realpath(text)}
        exact = tuple(given)
        prefixes = tuple(p.rstrip(os.sep) + os.sep for p in given)
    candidates = _candidates if modules_shape() == _candidates_key else _rebuild()
    stale = []
    stat = os.stat
    current = sys.modules.get
    for name, module, file, full, known in candidates:
        if current(name) is not module:
            # Replaced under the same name: look at everything again.
            _forget_candidates()
            return modified(path)
        if prefixes and not (full.startswith(prefixes) or full in exact):
            continue
        try:
            st = stat(file)
        except OSError:
            continue
        if known is None:
            if _first_look(name, module, file, st):
                stale.append(name)
        elif known[1] != st.st_mtime_ns or known[2] != st.st_size:
            stale.append(name)
    return stale
