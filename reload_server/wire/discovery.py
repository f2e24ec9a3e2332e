"""Discovery files: how editors and the command-line client find a running server.

In the spirit of nREPL's ``.nrepl-port``: ``serve()`` writes one small JSON file
per process, ``<root>/.reload_server/<pid>.json``, where ``<root>`` is the app's
working directory unless ``RELOAD_SERVER_ROOT`` names another, and
``RELOAD_SERVER_DISCOVERY_DIR`` replaces the whole directory.  The directory is
created 0700 and the file 0600 because it may hold the access token.  The file is
removed when the server stops; readers skip entries whose process is gone.

This module is stdlib-only: the command-line client imports it.
"""

from __future__ import annotations

import os
import sys
import time

from ..core.log import log

TYPE_CHECKING = False  # typing itself would cost the host milliseconds
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
DIR_NAME = ".reload_server"
ENV_ROOT = "RELOAD_SERVER_ROOT"
ENV_DIR = "RELOAD_SERVER_DISCOVERY_DIR"


class Entry:
    """One discovery file as read back: where a live server listens."""

    __slots__ = ("path", "pid", "host", "port", "token", "root", "started", "data")

    def __init__(
        self,
        path: str,
        pid: int,
        host: str,
        port: int,
        token: str | None,
        root: str | None,
        started: float,
        data: dict[str, Any],
    ) -> None:
        self.path = path
        self.pid = pid
        self.host = host
        self.port = port
        self.token = token
        self.root = root
        self.started = started
        self.data = data

    def __repr__(self) -> str:
        return f"Entry(pid={self.pid}, host={self.host!r}, port={self.port}, root={self.root!r})"


def root_dir() -> str:
    """The app's project root: ``RELOAD_SERVER_ROOT`` or the working directory."""
    return os.path.abspath(os.environ.get(ENV_ROOT) or os.getcwd())


def discovery_dir(root: str | None = None) -> str:
    """The directory this process writes its discovery file into."""
    override = os.environ.get(ENV_DIR)
    if override:
        return os.path.abspath(override)
    return os.path.join(root or root_dir(), DIR_NAME)


def _check_private(directory: str) -> None:
    """Refuse a discovery folder someone else could write to.

    Whoever can write there can swap our entry for one pointing at a server of
    theirs and collect the token an editor sends.  A folder of ours that is too
    open is tightened; one of another user's is refused.
    """
    st = os.lstat(directory)
    if not hasattr(os, "getuid"):
        return
    if st.st_uid != os.getuid() or os.path.islink(directory):
        raise PermissionError(
            f"{directory} belongs to another user (uid {st.st_uid}): not writing the discovery file there"
        )
    if st.st_mode & 0o077:
        os.chmod(directory, 0o700)


def write(host: str, port: int, token: str | None) -> str:
    """Write this process's discovery file and return its path.

    The file is written under a temporary name and renamed into place, so a
    reader never sees half a file; it is created 0600 from the start (not
    chmod-ed afterwards) so the token is never readable by others, whatever
    the umask.
    """
    root = root_dir()
    directory = discovery_dir(root)
    if os.path.isdir(directory):
        _check_private(directory)
    else:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # makedirs honours the umask, which may only remove bits: make sure.
        os.chmod(directory, 0o700)
        # Like .pytest_cache: the folder keeps itself out of the user's git.
        try:
            with open(os.path.join(directory, ".gitignore"), "x", encoding="utf-8") as f:
                f.write("# written by reload_server\n*\n")
        except OSError:
            pass
    pid = os.getpid()
    prune(directory)
    data = {
        "version": VERSION,
        "pid": pid,
        "host": host,
        "port": port,
        "token": token,
        "root": root,
        "cwd": os.getcwd(),
        "argv": list(sys.argv),
        "python": sys.executable,
        "started": time.time(),
    }
    path = os.path.join(directory, f"{pid}.json")
    tmp = os.path.join(directory, f".{pid}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # Created 0600 by os.open above, never wider.
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(encode(data))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def encode(value: Any) -> str:
    """JSON text for the few kinds a discovery entry holds (str, int, float, bool, None, list, dict).

    Written with the C string escaper of ``_json`` instead of :mod:`json`, whose
    import (its decoder and regular expressions) would cost ``serve()`` 2 ms.
    """
    from _json import encode_basestring_ascii as quote

    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} has no JSON form")
        return float.__repr__(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(encode(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{quote(str(k))}: {encode(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} into a discovery file")


def remove(path: str) -> None:
    """Remove a discovery file written by :func:`write`, and its directory if now empty."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        log.warning("could not remove discovery file %s", path, exc_info=True)
        return
    directory = os.path.dirname(path)
    try:
        # Leaves the directory alone when other apps still have entries in it.
        if set(os.listdir(directory)) <= {".gitignore"}:
            ignore = os.path.join(directory, ".gitignore")
            if os.path.exists(ignore):
                os.unlink(ignore)
            os.rmdir(directory)
    except OSError:
        pass


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def read(path: str) -> Entry | None:
    """Parse one discovery file; None if unreadable or not a discovery entry."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return Entry(
            path=path,
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            token=data.get("token"),
            root=data.get("root"),
            started=float(data.get("started", 0.0)),
            data=data,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def entries_in(directory: str, *, live_only: bool = True) -> list[Entry]:
    """The entries in one discovery directory, newest first."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        entry = read(os.path.join(directory, name))
        if entry is None or (live_only and not pid_alive(entry.pid)):
            continue
        found.append(entry)
    found.sort(key=lambda e: e.started, reverse=True)
    return found


def prune(directory: str) -> None:
    """Remove entries of processes that are gone (say, a forked worker ended with ``os._exit``)."""
    for entry in entries_in(directory, live_only=False):
        if entry.pid != os.getpid() and not pid_alive(entry.pid):
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def same_project(entries: list[Entry], root: str | None) -> list[Entry]:
    """The entries among ``entries`` that belong to the project ``root`` (all when None)."""
    if root is None:
        return list(entries)
    return [
        e for e in entries if e.root is None or os.path.abspath(e.root) == os.path.abspath(root)
    ]


def siblings(own_file: str) -> list[Entry]:
    """The other live servers of this process's project: entries next to ``own_file``
    (this process's discovery file) with the same root, this process excluded."""
    own = read(own_file)
    root = own.root if own is not None else None
    return [
        e for e in same_project(entries_in(os.path.dirname(own_file)), root) if e.pid != os.getpid()
    ]


def find(path: str | os.PathLike[str] | None = None) -> list[Entry]:
    """Live servers for ``path`` (a file or directory; default the working directory), newest first.

    Looks in ``RELOAD_SERVER_DISCOVERY_DIR`` when set, then in ``.reload_server/``
    of the path's directory and of each parent, as editors do; the nearest
    directory with a live entry wins.
    """
    override = os.environ.get(ENV_DIR)
    if override:
        found = entries_in(os.path.abspath(override))
        if found:
            return found
    start = os.path.abspath(os.fspath(path) if path is not None else os.getcwd())
    current = start if os.path.isdir(start) else os.path.dirname(start)
    while True:
        found = entries_in(os.path.join(current, DIR_NAME))
        if found:
            return found
        parent = os.path.dirname(current)
        if parent == current:
            return []
        current = parent
