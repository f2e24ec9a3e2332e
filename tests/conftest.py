"""Suite-wide rules and the shared ``project`` fixture.

Under CI every part of the suite must run and nothing may be skipped.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

# Each part of the suite that a full run must contain at least one test from.
REQUIRED_PARTS = (
    "tests/core/",
    "tests/server/",
    "tests/editors/test_nvim.py",
    "tests/editors/test_vscode.py",
    "tests/bench/",
)

_skipped: list[str] = []


def _strict(config: pytest.Config) -> bool:
    return bool(os.environ.get("CI")) and not config.invocation_params.args


def pytest_collection_finish(session: pytest.Session) -> None:
    if not _strict(session.config):
        return
    paths = [item.nodeid for item in session.items]
    missing = [part for part in REQUIRED_PARTS if not any(p.startswith(part) for p in paths)]
    if missing:
        raise pytest.UsageError(f"CI run is missing parts of the suite: {', '.join(missing)}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _strict(session.config) and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if _strict(config) and _skipped:
        terminalreporter.write_line(
            f"CI: {len(_skipped)} test(s) skipped, which a CI run does not allow: "
            + ", ".join(_skipped[:10]),
            red=True,
        )


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
