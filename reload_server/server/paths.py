"""Paths on the wire: client ↔ app path mappings, and roots.

An editor and the app may not see a file under the same path (the app runs in a
container, or on another machine with the sources synced).  As in debugpy, a
client sends ``pathMappings``: ``[{"localRoot": ..., "remoteRoot": ...}]`` where
*local* is the editor's side and *remote* the app's.  Request paths are mapped
local → remote before use; every path the server sends is mapped remote → local.

``file://`` URIs are read and written by :mod:`reload_server.core.uris`, the
one parser of the package.  Stdlib only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..core.uris import is_windows_path, path_to_uri, uri_to_path


def as_path(value: str) -> str:
    """Accept a path or a ``file://`` URI wherever a path is expected."""
    return uri_to_path(value) if value.startswith("file:") else value


@dataclass(frozen=True)
class Mapping:
    """One ``{"localRoot", "remoteRoot"}`` pair."""

    local: str
    remote: str


def parse_mappings(value: Any) -> list[Mapping]:
    """Validate ``initializationOptions.pathMappings``; raises ``ValueError`` with the reason."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("pathMappings must be a list of {localRoot, remoteRoot} objects")
    mappings = []
    for item in value:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("localRoot"), str)
            and isinstance(item.get("remoteRoot"), str)
            and item["localRoot"]
            and item["remoteRoot"]
        ):
            raise ValueError("each pathMappings entry needs string localRoot and remoteRoot")
        mappings.append(Mapping(item["localRoot"], item["remoteRoot"]))
    return mappings


def _strip(root: str) -> str:
    stripped = root.rstrip("/\\")
    return stripped or root[:1]


def _rebase(path: str, src: str, dst: str) -> str | None:
    """``path`` moved from under ``src`` to under ``dst``; None if it is not under ``src``.

    A Windows-style ``src`` compares case-insensitively and with either slash,
    since an editor on Windows may send ``C:\\x`` in one place and ``c:/x`` in a URI.
    """
    win_src = is_windows_path(src)
    if win_src:
        cmp_path, cmp_src = path.replace("\\", "/").lower(), _strip(src).replace("\\", "/").lower()
        path = path.replace("\\", "/")
    else:
        cmp_path, cmp_src = path, _strip(src)
    if cmp_path == cmp_src:
        rest = ""
    elif cmp_path.startswith(cmp_src.rstrip("/") + "/"):
        rest = path[len(cmp_src.rstrip("/")) + 1 :]
    else:
        return None
    dst_s = _strip(dst)
    if not rest:
        return dst_s
    sep = "\\" if is_windows_path(dst) else "/"
    return dst_s.rstrip("/\\") + sep + sep.join(rest.split("/"))


class PathMapper:
    """Maps paths between one client's view and the app's, longest root first."""

    def __init__(self, mappings: Iterable[Mapping] = ()) -> None:
        self.mappings = sorted(mappings, key=lambda m: len(m.local), reverse=True)
        self._by_remote = sorted(self.mappings, key=lambda m: len(m.remote), reverse=True)

    def to_app(self, value: str) -> str:
        """A path or URI from the client → an absolute, normalized path in the app."""
        path = as_path(value)
        for m in self.mappings:
            mapped = _rebase(path, m.local, m.remote)
            if mapped is not None:
                path = mapped
                break
        if os.path.isabs(path):
            return os.path.normpath(path)
        # Relative to the app's working directory at request time.
        return os.path.normpath(os.path.join(os.getcwd(), path))

    def to_client(self, path: str) -> str:
        """An absolute app path → the client's path for the same file."""
        for m in self._by_remote:
            mapped = _rebase(path, m.remote, m.local)
            if mapped is not None:
                return mapped
        return path

    def uri(self, path: str) -> str:
        """The client's ``file://`` URI for an app path."""
        return path_to_uri(self.to_client(path))

    def outcome(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """A ReloadOutcome dict with every path in it mapped to the client's side."""
        if not self.mappings:
            return outcome
        mapped = dict(outcome)
        mapped["files"] = [self.to_client(f) for f in outcome.get("files", [])]
        message = outcome.get("message", "")
        for app_file, client_file in zip(outcome.get("files", []), mapped["files"]):
            message = message.replace(app_file, client_file)
        mapped["message"] = message
        notes = []
        for note in outcome.get("notes", []):
            note = dict(note)
            if note.get("file"):
                note["file"] = self.to_client(note["file"])
            note["frames"] = [
                {**frame, "file": self.to_client(frame["file"])} for frame in note.get("frames", [])
            ]
            notes.append(note)
        mapped["notes"] = notes
        return mapped


class Roots:
    """The directories ``reloadPath`` may reload from; empty means anywhere."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]] | None) -> None:
        self.paths: tuple[str, ...] = tuple(os.path.abspath(os.fspath(r)) for r in (roots or ()))
        self._real = tuple(os.path.realpath(r) for r in self.paths)

    def allows(self, path: str) -> bool:
        """True if the file ``path`` really is (symlinks resolved) under one of the roots.

        Resolving symlinks first means a link inside a root cannot smuggle in a
        module that lives elsewhere (say, the standard library).
        """
        if not self.paths:
            return True
        real = os.path.realpath(path)
        return any(
            real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self._real
        )
