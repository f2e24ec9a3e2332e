"""Suite-wide rules and the shared fixtures (``project``, ``make_app``, ``shared_app_factory``, ``connect``).

CI strictness, decided in one place (:func:`_strict`, true when the ``CI``
environment variable is set to anything but ``""``, ``0`` or ``false``), and
not something pytest's arguments can turn off.  Under CI:

- no test may be skipped (at collection or at run time): the run fails;
- nothing may be deselected (``-k``, ``-m``, ``--deselect``): the run is refused;
- the run must be the whole suite: every part in :data:`REQUIRED_PARTS` must
  exist, and every test file under ``tests/`` must contribute at least one
  collected test; a run that names fewer paths (or ``--ignore``s some) is
  refused before anything runs.

Outside CI any selection runs and skips are only reported.  ``.ci/run`` sets
``CI=true`` and runs the bare ``pytest`` of README.md.
"""

from __future__ import annotations

import fnmatch
import importlib
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from support.apps import App, AppFactory
from support.ci import in_ci
from support.editor import Editor
from support.sources import write_source

TESTS = Path(__file__).resolve().parent

# The parts of the suite, each of which must exist and run in a CI run.
REQUIRED_PARTS = (
    "core/",
    "wire/",
    "runtime/",
    "server/",
    "cli/",
    "integrations/",
    "reliability/",
    "distributed/",
    "frameworks/",
    "libraries/",
    "editors/test_nvim.py",
    "editors/test_vscode.py",
    "bench/",
)

_skipped: list[str] = []
_deselected: list[str] = []


def _strict() -> bool:
    """Whether this run is held to CI's rules: the environment alone decides, never the arguments."""
    return in_ci()


def _test_files_on_disk(config: pytest.Config) -> set[Path]:
    patterns = config.getini("python_files")
    return {
        path
        for path in TESTS.rglob("*.py")
        if not any(part.startswith((".", "__")) for part in path.relative_to(TESTS).parts[:-1])
        and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    }


def _ci_problems(session: pytest.Session) -> list[str]:
    """Why this collection is not a whole-suite CI run (empty when it is)."""
    problems = []
    collected = {Path(item.path).resolve() for item in session.items}
    absent = [part for part in REQUIRED_PARTS if not (TESTS / part).exists()]
    if absent:
        problems.append("parts of the suite are gone: " + ", ".join(f"tests/{p}" for p in absent))
    for part in REQUIRED_PARTS:
        where = (TESTS / part).resolve()
        if (TESTS / part).exists() and not any(p == where or where in p.parents for p in collected):
            problems.append(f"tests/{part} has no test in this run")
    missing = sorted(
        str(p.relative_to(TESTS.parent)) for p in _test_files_on_disk(session.config) - collected
    )
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        problems.append(f"{len(missing)} test file(s) with no test in this run: {shown}")
    if _deselected:
        problems.append(f"{len(_deselected)} test(s) deselected, e.g. {_deselected[0]}")
    return problems


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001
    # A shell starts a background job (``pytest &``, ``nohup``) with Ctrl-C
    # ignored, and every child would inherit that: the tests that stop an app
    # with SIGINT, as a user's Ctrl-C does, would wait in vain.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_collection_finish(session: pytest.Session) -> None:
    if not _strict():
        return
    problems = _ci_problems(session)
    if problems:
        raise pytest.UsageError(
            "a CI run must be the whole suite, unskipped and unselected: " + "; ".join(problems)
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _strict() and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if _strict() and _skipped:
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
        # A first write is dated in the past (written well before any import); an
        # edit gets an mtime strictly later than the one it replaces.
        path = write_source(self.root / rel, textwrap.dedent(source), backdate_new=2.0)
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
            # The test's own modules go; reload_server's stay, as they would in
            # an app (the package caches the public names it forwards).
            if name != "reload_server" and not name.startswith("reload_server."):
                del sys.modules[name]
        importlib.invalidate_caches()


@pytest.fixture
def bytecode_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports leave a ``.pyc`` of the version they ran, as they do for most users (this
    machine kind sets PYTHONDONTWRITEBYTECODE): the first reload compares the new source
    with it."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


@pytest.fixture
def changed_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reloads re-run only what changed (the default), whatever an earlier test set."""
    from reload_server.core import transaction

    monkeypatch.setattr(transaction, "CHANGED_ONLY", True)


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
