"""Fixtures for the server tests; the helpers they use live in ``server_support``.

Test modules import helpers from ``server_support``, never from ``conftest``:
another folder's ``conftest`` may hold that module name in a full run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from server_support import App, AppFactory, Editor


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
