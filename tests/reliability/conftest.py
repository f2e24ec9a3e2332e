"""Fixtures for the reliability tests: real app processes, real sockets, real files."""

from __future__ import annotations

from typing import Any

import pytest
from support.apps import AppFactory
from support.tally import COUNTS


@pytest.fixture(scope="module")
def module_apps(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Apps shared by the tests of one module (each test adds modules of its own)."""
    factory = AppFactory(tmp_path_factory.mktemp("apps"))
    yield factory
    factory.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if COUNTS:
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items()))
        terminalreporter.write_line(f"reliability: {parts}")
