"""Source files as tests write them: saved the way an editor saves, mtimes always moving on.

Every change a test makes to a module file goes through :func:`write_source`, so a
fast test never writes a file that looks unchanged (same mtime) to stale detection.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from support.paths import EXAMPLES

# Sample module texts the server tests load and edit.
GREETING = 'def greet():\n    return "hello"\n'
GREETING_V2 = 'def greet():\n    return "hello again"\n'

# How far an existing file's mtime is pushed when a write did not move it.
_BUMP_NS = 10_000_000


def write_source(path: Path, text: str, *, backdate_new: float = 0.0) -> Path:
    """Write a module file; an existing file's mtime always moves forward.

    With ``backdate_new`` a file that did not exist is dated that many seconds
    in the past: written well before the import that follows, as a real
    project's files are.
    """
    existed = path.exists()
    before = path.stat().st_mtime_ns if existed else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if not existed and backdate_new:
        past = time.time_ns() - int(backdate_new * 1e9)
        os.utime(path, ns=(past, past))
    elif path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + _BUMP_NS, before + _BUMP_NS))
    return path


def edit(path: Path, old: str, new: str) -> Path:
    """Replace text in a file, as an editor saving it would."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    return write_source(path, text.replace(old, new))


def copy_example(name: str, dest: Path) -> Path:
    """A copy of ``examples/<name>`` under ``dest``, for a test to run and edit."""
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    # The first version must look older than any edit a fast test makes.
    past = time.time() - 5
    for path in target.glob("*.py"):
        os.utime(path, (past, past))
    return target


def uri(path: str | Path) -> str:
    """The ``file://`` URI of ``path``, as an editor sends it."""
    return Path(path).resolve().as_uri()
