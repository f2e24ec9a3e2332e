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
from typing import Any

import pytest
from lsprotocol import types
from support.server_support import App, AppFactory, Editor

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


@pytest.fixture
def make_app(tmp_path: Path) -> Any:
    """Factory: ``make_app(modules={"m.py": src}, imports=["m"], serve={...}, runner="thread")``."""
    factory = AppFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def shared_app_factory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """For tests that only talk to an app and never edit its files: one app per module."""
    factory = AppFactory(tmp_path_factory.mktemp("shared"))
    yield factory
    factory.close()


@pytest.fixture
async def connect() -> Any:
    """Factory: ``await connect(app, options={...}, name="vscode")`` → a connected :class:`Editor`."""
    editors: list[Editor] = []

    async def _connect(
        app_or_address: App | tuple[str, int],
        options: dict[str, Any] | None = None,
        name: str = "test-editor",
        capabilities: types.ClientCapabilities | None = None,
    ) -> Editor:
        address = app_or_address.address if isinstance(app_or_address, App) else app_or_address
        assert address is not None
        editor = Editor(name)
        editors.append(editor)
        await editor.connect(address, options, capabilities)
        return editor

    yield _connect
    for editor in editors:
        await editor.close()
