"""Reloads as code actions: the trigger every LSP client can run without configuration.

``textDocument/codeAction`` on a Python file under the roots offers two source
actions, ``source.reloadModule`` and ``source.reloadStale``, whose commands are
the server's own ``workspace/executeCommand`` commands; running one does what
the request would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.raw import Raw
from support.sources import GREETING, GREETING_V2

KINDS = ["source.reloadModule", "source.reloadStale"]


def code_action(conn: Raw, uri: str, only: list[str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"diagnostics": []}
    if only is not None:
        context["only"] = only
    zero = {"line": 0, "character": 0}
    return conn.call(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": {"start": zero, "end": zero}, "context": context},
    )


def actions(conn: Raw, uri: str, only: list[str] | None = None) -> list[dict[str, Any]]:
    reply = code_action(conn, uri, only)
    assert "result" in reply, reply
    return reply["result"]


@pytest.fixture(scope="module")
def app(shared_app_factory):
    return shared_app_factory(
        {"inside/greeting.py": GREETING, "outside/other.py": GREETING, "inside/notes.txt": ""},
        ["inside.greeting", "outside.other"],
        serve={"roots": ["src/inside"]},
    )


@pytest.fixture
def conn(app):
    with Raw(app.address) as conn:
        conn.initialize()
        yield conn


def test_initialize_advertises_the_two_source_action_kinds(app):
    with Raw(app.address) as conn:
        result = conn.initialize()
    assert result["capabilities"]["codeActionProvider"] == {"codeActionKinds": KINDS}
    # Code actions change nothing of the text sync: no document content is streamed.
    assert result["capabilities"]["textDocumentSync"] == {
        "openClose": False,
        "change": 0,
        "save": {"includeText": False},
    }


def test_a_python_file_gets_the_two_reload_actions_running_the_commands(app, conn):
    uri = Path(app.path("inside/greeting.py")).as_uri()

    got = actions(conn, uri)

    assert [a["kind"] for a in got] == KINDS
    assert got[0]["command"]["command"] == "reload_server.reloadPath"
    assert got[0]["command"]["arguments"] == [uri]
    assert got[1]["command"]["command"] == "reload_server.reloadStale"
    assert got[1]["command"]["arguments"] == []
    assert all(a["title"] for a in got)


def test_running_the_reload_action_reloads_the_module(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    uri = Path(app.path("greeting.py")).as_uri()
    with Raw(app.address) as conn:
        conn.initialize()
        app.write("greeting.py", GREETING_V2)
        command = actions(conn, uri, ["source.reloadModule"])[0]["command"]

        # What a client does with an action's command: send it back as executeCommand.
        reply = conn.call(
            "workspace/executeCommand",
            {"command": command["command"], "arguments": command["arguments"]},
        )

    assert reply["result"]["status"] == "reloaded", reply
    assert app.eval("greeting.greet()") == "hello again"


def test_running_the_reload_changed_action_reloads_what_changed(make_app):
    app = make_app({"greeting.py": GREETING, "other.py": GREETING}, ["greeting", "other"])
    with Raw(app.address) as conn:
        conn.initialize()
        app.write("other.py", GREETING_V2)
        command = actions(conn, Path(app.path("greeting.py")).as_uri(), ["source.reloadStale"])[0][
            "command"
        ]

        reply = conn.call(
            "workspace/executeCommand",
            {"command": command["command"], "arguments": command["arguments"]},
        )

    assert reply["result"]["modules"] == ["other"], reply
    assert app.eval("other.greet()") == "hello again"


@pytest.mark.parametrize(
    ("only", "kinds"),
    [
        (["source"], KINDS),
        (["source.reloadModule"], ["source.reloadModule"]),
        (["source.reloadStale"], ["source.reloadStale"]),
        (["quickfix", "source.reloadStale"], ["source.reloadStale"]),
        (["quickfix"], []),
        (["refactor", "source.organizeImports"], []),
        (["sourc"], []),
        ([], []),
    ],
)
def test_context_only_keeps_the_kinds_asked_for(app, conn, only, kinds):
    uri = Path(app.path("inside/greeting.py")).as_uri()

    assert [a["kind"] for a in actions(conn, uri, only)] == kinds


def test_a_plain_path_is_taken_as_the_uri_is(app, conn):
    # Some clients send paths where URIs belong; the server accepts both everywhere.
    got = actions(conn, app.path("inside/greeting.py"))

    assert [a["kind"] for a in got] == KINDS


def test_no_actions_for_files_that_are_not_python_or_not_under_the_roots(app, conn):
    assert actions(conn, Path(app.path("inside/notes.txt")).as_uri()) == []
    assert actions(conn, Path(app.path("outside/other.py")).as_uri()) == []
    assert actions(conn, "untitled:Untitled-1") == []


def test_malformed_code_action_params_are_invalid_params(app, conn):
    reply = conn.call("textDocument/codeAction", {"textDocument": {"uri": 3}})

    assert reply["error"]["code"] == -32602, reply


def test_code_actions_need_initialize_first(app):
    with Raw(app.address) as conn:
        reply = code_action(conn, Path(app.path("inside/greeting.py")).as_uri())

    assert reply["error"]["code"] == -32002, reply
