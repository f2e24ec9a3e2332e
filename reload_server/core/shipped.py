"""Source text shipped by a fleet reload, served to later imports of those modules.

A process on another machine may hold an older file than the coordinator's.
A fleet reload compiles the shipped text for the modules this process has
loaded; a module it imports only later must not come from the stale file
either, so once text was shipped here a finder at the front of
``sys.meta_path`` answers for those names, while the file on disk differs.
"""

from __future__ import annotations

import os
import sys
import threading
from importlib.machinery import PathFinder, SourceFileLoader
from stat import S_ISREG

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import
if TYPE_CHECKING:
    from collections.abc import Mapping

_texts: dict[str, str] = {}
_lock = threading.Lock()


def remember(texts: Mapping[str, str]) -> None:
    """Serve ``texts`` (module name -> source) to imports from now on; the newest text wins."""
    if not texts:
        return
    with _lock:
        _texts.update(texts)
        if not any(isinstance(f, ShippedFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, ShippedFinder())


def source_text(data: bytes) -> str:
    """Source bytes as the text a fleet ships: UTF-8, every line ending made ``\\n``.

    Line endings are normalized because they change nothing in the compiled
    code: a checkout with CRLF endings holds the same source as one with LF.
    """
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def on_disk(file: str, text: str) -> os.stat_result | None:
    """``file``'s stat when it is a regular file holding ``text`` (by :func:`source_text`), else None."""
    try:
        with open(file, "rb") as f:
            st = os.fstat(f.fileno())
            if S_ISREG(st.st_mode) and source_text(f.read()) == text:
                return st
    except (OSError, UnicodeDecodeError):
        pass
    return None


def text(name: str) -> str | None:
    """The newest text shipped here for module ``name``, or None."""
    with _lock:
        return _texts.get(name)


class ShippedFinder:
    """Finds modules whose text was shipped here, where the disk's source differs from it."""

    @classmethod
    def find_spec(cls, fullname: str, path=None, target=None):  # noqa: ANN001 - importlib's protocol
        shipped = text(fullname)
        if shipped is None:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, SourceFileLoader) or not spec.origin:
            return None
        if on_disk(spec.origin, shipped) is not None:
            return None  # the disk has it: the usual loader, .pyc and all
        spec.loader = ShippedLoader(fullname, spec.origin, shipped.encode("utf-8"))
        return spec


class ShippedLoader(SourceFileLoader):
    """Loads the shipped bytes as if they were the file; never reads or writes bytecode for them."""

    def __init__(self, fullname: str, path: str, data: bytes) -> None:
        super().__init__(fullname, path)
        self._data = data

    def get_data(self, path: str) -> bytes:
        if path == self.path:
            return self._data
        raise OSError("no bytecode for shipped source")

    def set_data(self, path: str, data: bytes, *, _mode: int = 0o666) -> None:
        """Write nothing: the bytecode would claim the file on disk compiles to it."""
