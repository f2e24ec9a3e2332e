"""Plain clients see the outcome: ``initializationOptions.notify`` and ``window/showMessage``.

A client that ignores ``reloadServer/status`` and keeps log lines out of sight
(Emacs eglot) learns of a failed reload from a ``window/showMessage``: by
default for failures, with ``"all"`` for successes too, never with ``"off"``.
Each client gets what it asked for, whoever caused the reload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.raw import Raw
from support.sources import GREETING, GREETING_V2

BROKEN = "def greet(:\n"
RAISES = "raise RuntimeError('boom')\n"

ERROR, INFO = 1, 3


def exchange(conn: Raw, method: str, params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send a request; the notifications that came before its reply, and the reply."""
    msg_id = conn.request(method, params)
    seen = []
    while True:
        msg = conn.receive()
        if msg.get("id") == msg_id and "method" not in msg:
            return seen, msg
        seen.append(msg)


def until_now(conn: Raw, app: Any) -> list[dict[str, Any]]:
    """Every notification sent so far: messages on one connection keep their order, so
    once the reply to a request that reloads nothing is in, all before it are too."""
    seen, _ = exchange(conn, "reloadPath", {"path": app.path("no_such_module.py")})
    return seen


def shown(messages: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [
        (m["params"]["type"], m["params"]["message"])
        for m in messages
        if m.get("method") == "window/showMessage"
    ]


def connected(app: Any, **options: Any) -> Raw:
    conn = Raw(app.address)
    conn.initialize(options)
    return conn


@pytest.fixture
def app(make_app):
    return make_app({"greeting.py": GREETING}, ["greeting"])


def test_by_default_a_failed_reload_pops_up_one_line_saying_the_old_code_runs(app):
    with connected(app) as conn:
        app.write("greeting.py", BROKEN)
        seen, reply = exchange(conn, "reloadPath", {"path": app.path("greeting.py")})

    assert reply["result"]["status"] == "failed"
    [(kind, text)] = shown(seen)
    assert kind == ERROR
    assert text.startswith("reload_server: greeting not reloaded: SyntaxError: ")
    assert "the old code is still running" in text
    assert "\n" not in text
    # Before the status that ends the reload, as every notification of the reload is.
    methods = [m["method"] for m in seen]
    assert methods.index("window/showMessage") < len(methods) - 1
    assert seen[-1]["method"] == "reloadServer/status"
    assert seen[-1]["params"]["state"] == "idle"


def test_a_rolled_back_failure_says_so_once(app):
    with connected(app) as conn:
        app.write("greeting.py", GREETING + RAISES)
        seen, reply = exchange(conn, "reloadPath", {"path": app.path("greeting.py")})

    assert reply["result"]["rolledBack"] is True
    [(kind, text)] = shown(seen)
    assert kind == ERROR
    assert "RuntimeError: boom" in text
    assert text.count("the old code is still running") == 1
    assert "rolled back" in text
    assert app.eval("greeting.greet()") == "hello"


def test_by_default_a_successful_reload_pops_up_nothing(app):
    with connected(app) as conn:
        app.write("greeting.py", GREETING_V2)
        seen, reply = exchange(conn, "reloadPath", {"path": app.path("greeting.py")})

    assert reply["result"]["status"] == "reloaded"
    assert shown(seen) == []


def test_all_pops_up_successes_too(app):
    with connected(app, notify="all") as conn:
        app.write("greeting.py", GREETING_V2)
        seen, reply = exchange(conn, "reloadPath", {"path": app.path("greeting.py")})

    assert shown(seen) == [(INFO, f"reload_server: {reply['result']['message']}")]
    assert reply["result"]["message"].startswith("reloaded greeting in ")


def test_off_pops_up_nothing(app):
    with connected(app, notify="off") as conn:
        app.write("greeting.py", BROKEN)
        seen, reply = exchange(conn, "reloadPath", {"path": app.path("greeting.py")})

    assert reply["result"]["status"] == "failed"
    assert shown(seen) == []
    # The log line and the diagnostics are still sent.
    assert any(m["method"] == "window/logMessage" for m in seen)


def test_each_client_is_told_as_it_asked_whoever_caused_the_reload(app):
    with (
        connected(app, notify="off") as quiet,
        connected(app) as plain,
        connected(app, notify="all") as chatty,
    ):
        app.write("greeting.py", BROKEN)
        exchange(quiet, "reloadPath", {"path": app.path("greeting.py")})
        app.write("greeting.py", GREETING_V2)
        exchange(quiet, "reloadPath", {"path": app.path("greeting.py")})
        plain_seen = until_now(plain, app)
        chatty_seen = until_now(chatty, app)

    assert [kind for kind, _ in shown(plain_seen)] == [ERROR]
    assert [kind for kind, _ in shown(chatty_seen)] == [ERROR, INFO]


def test_a_failed_save_pops_up_for_a_client_that_only_asked_for_reload_on_save(app):
    uri = Path(app.path("greeting.py")).as_uri()
    with connected(app, reloadOnSave=True) as conn:
        app.write("greeting.py", BROKEN)
        conn.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        seen = until_now(conn, app)

    assert [kind for kind, _ in shown(seen)] == [ERROR]


@pytest.mark.parametrize("value", ["always", "", None, True, 1, ["errors"], {"errors": 1}])
def test_an_invalid_notify_is_invalid_params_and_the_client_may_try_again(app, value):
    with Raw(app.address) as conn:
        reply = conn.call(
            "initialize",
            {"processId": None, "capabilities": {}, "initializationOptions": {"notify": value}},
        )
        assert reply["error"]["code"] == -32602, reply
        assert "notify" in reply["error"]["message"]

        result = conn.initialize({"notify": "off"})

    assert "capabilities" in result
