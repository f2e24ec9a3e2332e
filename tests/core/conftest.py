"""Fixtures for reimporter specs: real modules in a temporary directory, edited on disk."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest


class Project:
    """A directory on sys.path whose modules the test writes, imports and edits."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, source: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = path.stat().st_mtime_ns if path.exists() else None
        path.write_text(textwrap.dedent(source))
        # A first write is dated in the past (written well before any import); an
        # edit gets an mtime strictly later than the one it replaces, so a fast
        # test never looks unchanged to stale detection.
        now = time.time_ns()
        stamp = now - 2 * 10**9 if previous is None else max(now, previous + 10**6)
        os.utime(path, ns=(stamp, stamp))
        importlib.invalidate_caches()
        return path

    def module(self, name: str, source: str | None = None):
        if source is not None:
            self.write(name.replace(".", "/") + ".py", source)
        return importlib.import_module(name)

    def package(self, name: str, source: str = ""):
        self.write(name.replace(".", "/") + "/__init__.py", source)
        return importlib.import_module(name)

    def edit(self, name: str, source: str, package: bool = False) -> Path:
        rel = name.replace(".", "/") + ("/__init__.py" if package else ".py")
        return self.write(rel, source)


@pytest.fixture
def project(tmp_path: Path):
    root = tmp_path / "proj"
    root.mkdir()
    sys.path.insert(0, str(root))
    before = set(sys.modules)
    try:
        yield Project(root)
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            del sys.modules[name]
        importlib.invalidate_caches()
