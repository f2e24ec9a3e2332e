"""The one ``file://`` URI parser: URIs ↔ file-system paths, Windows drives and UNC included.

Stdlib only, and in ``core`` so that resolving a target, the server and the
command-line client all read a URI the same way.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlparse

_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
_SLASH_DRIVE = re.compile(r"^/[A-Za-z]:")


def is_windows_path(path: str) -> bool:
    """True for a Windows-style path: a drive letter, or backslashes and no slash."""
    return bool(_DRIVE.match(path)) or ("\\" in path and "/" not in path)


def uri_to_path(uri: str) -> str:
    """The file-system path of a ``file://`` URI (Windows drive URIs included)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ValueError(f"not a file URI: {uri!r}")
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        # UNC path: file://server/share/x -> //server/share/x
        return f"//{parsed.netloc}{path}"
    if _SLASH_DRIVE.match(path):
        return path[1:]
    return path


def path_to_uri(path: str) -> str:
    """A ``file://`` URI for an absolute path (POSIX or Windows style)."""
    if is_windows_path(path):
        return "file:///" + quote(path.replace("\\", "/"), safe="/:")
    return "file://" + quote(path, safe="/")
