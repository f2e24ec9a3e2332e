"""Failed reloads become diagnostics at the right place, for every client, and are cleared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lsprotocol import types
from support.sources import GREETING, GREETING_V2


@pytest.fixture(scope="module")
def shared(shared_app_factory):
    """One app for the tests of this file; each test reloads a module of its own."""
    return shared_app_factory()


@pytest.fixture
def greeting(shared):
    return shared.add_module(GREETING, "greeting")


# Line 4 (1-based), the "*" at column 13 (1-based): LSP line 3, character 12.
SYNTAX_ERROR = 'def greet():\n    return "hello again"\n\nvalue = (1 +* 2)\n'

ROLLBACK = (
    "def greet():\n"  # 1
    '    return "hello again"\n'  # 2
    "\n"  # 3
    "def load_config():\n"  # 4
    '    raise ValueError("bad config")\n'  # 5
    "\n"  # 6
    "load_config()\n"  # 7
)


async def test_syntax_error_is_a_diagnostic_at_its_exact_position(shared, greeting, connect):
    editor = await connect(shared)
    greeting.write(SYNTAX_ERROR)

    outcome = await editor.request("reloadPath", {"path": greeting.path})

    assert outcome["status"] == "failed"
    assert outcome["phase"] == "compile"
    note = outcome["notes"][0]
    assert (note["line"], note["column"], note["kind"]) == (4, 13, "syntax")
    diagnostics = await editor.wait_for(lambda: editor.diagnostics.get(greeting.uri))
    [diagnostic] = diagnostics
    assert diagnostic.range.start == types.Position(line=3, character=12)
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.source == "reload_server"
    assert "SyntaxError" in diagnostic.message
    assert greeting.eval("greet()") == "hello"  # the old code still runs


async def test_syntax_error_column_is_counted_in_utf16_units(shared, greeting, connect):
    editor = await connect(shared)
    # The emoji is one character for Python but two UTF-16 units for LSP; ")" is
    # character 21 (0-based) for Python, so 22 in UTF-16.
    greeting.write('def greet():\n    return "h\U0001f600llo" + )\n')

    await editor.request("reloadPath", {"path": greeting.path})

    [diagnostic] = await editor.wait_for(lambda: editor.diagnostics.get(greeting.uri))
    assert diagnostic.range.start == types.Position(line=1, character=22)


async def test_rolled_back_exception_is_a_diagnostic_at_the_raising_line(shared, greeting, connect):
    editor = await connect(shared)
    greeting.write(ROLLBACK)

    outcome = await editor.request("reloadPath", {"path": greeting.path})

    assert outcome["status"] == "failed"
    assert outcome["rolledBack"] is True
    [diagnostic] = await editor.wait_for(lambda: editor.diagnostics.get(greeting.uri))
    assert diagnostic.range.start.line == 4  # line 5, 0-based
    assert diagnostic.range.start.character == 4  # the code, not the indentation
    assert "ValueError: bad config" in diagnostic.message
    assert "rolled back; the old code is still running" in diagnostic.message
    related_lines = [
        (r.location.uri, r.location.range.start.line) for r in diagnostic.related_information
    ]
    assert (greeting.uri, 6) in related_lines  # the call at line 7
    assert (greeting.uri, 4) in related_lines  # the raise at line 5
    assert greeting.eval("greet()") == "hello"


async def test_next_successful_reload_clears_the_diagnostics(shared, greeting, connect):
    editor = await connect(shared)
    file_uri = greeting.uri
    greeting.write(SYNTAX_ERROR)
    await editor.request("reloadPath", {"path": greeting.path})
    await editor.wait_for(lambda: editor.diagnostics.get(file_uri))

    greeting.write(GREETING_V2)
    outcome = await editor.request("reloadPath", {"path": greeting.path})

    assert outcome["status"] == "reloaded"
    await editor.wait_for(lambda: editor.diagnostics.get(file_uri) == [])
    assert greeting.eval("greet()") == "hello again"


async def test_reverting_the_file_clears_the_diagnostics(shared, greeting, connect):
    editor = await connect(shared)
    file_uri = greeting.uri
    original_mtime = Path(greeting.path).stat().st_mtime_ns
    # The server has seen the file as the app loaded it.
    assert (await editor.request("reloadPath", {"path": greeting.path}))["status"] == "unchanged"
    greeting.write(SYNTAX_ERROR)
    await editor.request("reloadPath", {"path": greeting.path})
    await editor.wait_for(lambda: editor.diagnostics.get(file_uri))

    # Back to exactly what the app runs (an editor's undo + save, or git checkout).
    Path(greeting.path).write_text(GREETING)
    os.utime(greeting.path, ns=(original_mtime, original_mtime))
    outcome = await editor.request("reloadPath", {"path": greeting.path})

    assert outcome["status"] == "unchanged"
    await editor.wait_for(lambda: editor.diagnostics.get(file_uri) == [])


async def test_diagnostics_go_to_every_client_not_only_the_one_that_asked(
    shared, greeting, connect
):
    vscode = await connect(shared, name="vscode")
    neovim = await connect(shared, name="neovim")
    greeting.write(SYNTAX_ERROR)

    await vscode.request("reloadPath", {"path": greeting.path})

    [diagnostic] = await neovim.wait_for(lambda: neovim.diagnostics.get(greeting.uri))
    assert diagnostic.range.start == types.Position(line=3, character=12)


async def test_reloads_the_app_does_itself_are_published_too(shared, greeting, connect):
    editor = await connect(shared)
    greeting.write(ROLLBACK)

    # Not through the server: the app calls the API itself (as a watcher would).
    await shared.aexec(
        f"try:\n    reload_server.reimport({greeting.name!r})\nexcept reload_server.ReloadError:\n    pass\n"
    )

    [diagnostic] = await editor.wait_for(lambda: editor.diagnostics.get(greeting.uri))
    assert "ValueError: bad config" in diagnostic.message


async def test_a_client_connecting_later_gets_the_current_diagnostics(shared, greeting, connect):
    first = await connect(shared, name="first")
    greeting.write(SYNTAX_ERROR)
    await first.request("reloadPath", {"path": greeting.path})

    late = await connect(shared, name="late")

    [diagnostic] = await late.wait_for(lambda: late.diagnostics.get(greeting.uri))
    assert diagnostic.range.start.line == 3


async def test_each_reload_is_logged_and_reported_in_the_status(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    editor = await connect(app)
    await editor.wait_for(lambda: editor.statuses)
    assert editor.statuses[0]["lastReload"] is None
    assert editor.statuses[0]["clients"] == 1
    assert editor.statuses[0]["app"]["pid"] == app.proc.pid

    app.write("greeting.py", SYNTAX_ERROR)
    await editor.request("reloadPath", {"path": app.path("greeting.py")})

    await editor.wait_for(lambda: any(log.type == types.MessageType.Error for log in editor.logs))
    status = await editor.wait_for(
        lambda: (
            editor.statuses[-1]
            if editor.statuses[-1]["state"] == "idle" and editor.statuses[-1]["lastReload"]
            else None
        )
    )
    assert status["lastReload"]["status"] == "failed"
    error_logs = [log.message for log in editor.logs if log.type == types.MessageType.Error]
    assert "SyntaxError" in error_logs[-1] and "greeting.py:4" in error_logs[-1]
