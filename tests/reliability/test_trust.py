"""Security rules, one test each: who can connect, what a request can make the app do."""

from __future__ import annotations

import inspect
import ipaddress
import os
import re
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from support.probes import snapshot
from support.raw import Raw

import reload_server
from reload_server.server import control

TOKEN = "0123456789abcdef-token"
GREETING = 'def greet():\n    return "hello"\n'
GREETING_V2 = 'def greet():\n    return "hello again"\n'


# -- who may connect ---------------------------------------------------------------------------


def test_the_server_listens_on_loopback_by_default(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])

    host, port = app.address
    assert ipaddress.ip_address(host).is_loopback
    # The socket really bound is the loopback one (not a wildcard reported as loopback).
    bound = app.eval(
        "__import__('socket').fromfd(reload_server.server.control._running.listener_fd, "
        "__import__('socket').AF_INET, __import__('socket').SOCK_STREAM).getsockname()"
    )
    assert ipaddress.ip_address(bound[0]).is_loopback and bound[1] == port


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.1"])
def test_a_non_loopback_bind_is_refused_without_a_token(host):
    threads_before = {t.name for t in threading.enumerate()}

    with pytest.raises(ValueError, match="allow_remote"):
        reload_server.serve((host, 0), allow_remote=True)

    assert control.address() is None
    assert "reload_server" not in {t.name for t in threading.enumerate()} - threads_before


def test_the_token_is_compared_in_constant_time(make_app):
    from reload_server.server.session import Session

    source = inspect.getsource(Session.initialize)
    assert "hmac.compare_digest(" in source
    assert "== self.hub.token" not in source and "!= self.hub.token" not in source

    app = make_app({"greeting.py": GREETING}, ["greeting"], serve={"token": TOKEN})
    app.exec(
        "import hmac\n"
        "COMPARED = []\n"
        "_real_compare = hmac.compare_digest\n"
        "def _spy(a, b):\n"
        "    COMPARED.append((a, b))\n"
        "    return _real_compare(a, b)\n"
        "hmac.compare_digest = _spy\n"
    )
    for options in ({"token": "0123456789abcdef-tokeX"}, {}, {"token": None}, {"token": 7}):
        with Raw(app.address) as conn:
            reply = conn.call(
                "initialize",
                {"processId": None, "capabilities": {}, "initializationOptions": options},
            )
            assert reply["error"]["code"] == -32001, reply
            conn.drain_until_closed()  # and the connection is closed
    with Raw(app.address) as conn:
        conn.initialize({"token": TOKEN})

    compared = app.eval("[(a.decode(), b.decode()) for a, b in COMPARED]")
    assert compared == [["0123456789abcdef-tokeX", TOKEN], [TOKEN, TOKEN]]


def test_the_discovery_file_is_private_in_a_directory_only_the_user_can_write(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])

    file = Path(app.eval("reload_server.server.control._running.discovery_file"))
    directory = file.parent
    assert directory == app.root / ".reload_server"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert file.stat().st_uid == directory.stat().st_uid == os.getuid()


def test_a_discovery_directory_others_can_write_is_not_trusted(make_app, tmp_path):
    # Someone else made the directory first (a shared project root, a discovery dir under
    # /tmp): whoever can write it can replace the entry and collect editors' tokens.
    shared = tmp_path / "shared-discovery"
    shared.mkdir()
    os.chmod(shared, 0o777)
    app = make_app(
        {"greeting.py": GREETING},
        ["greeting"],
        serve={"token": TOKEN},
        env={"RELOAD_SERVER_DISCOVERY_DIR": str(shared)},
    )

    written = app.eval("reload_server.server.control._running.discovery_file")
    if written is not None:
        directory = Path(written).parent
        mode = stat.S_IMODE(directory.stat().st_mode)
        assert mode & 0o022 == 0, f"token written into a directory with mode {oct(mode)}"
        assert directory.stat().st_uid == os.getuid()


# -- what a request can make the app do ---------------------------------------------------------


NEVER = """\
import pathlib
pathlib.Path({marker!r}).write_text("imported!")
"""


def test_reload_requests_never_import_a_file_that_was_not_loaded(make_app, tmp_path):
    marker = tmp_path / "imported-marker"
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    never = app.write("never_loaded.py", NEVER.format(marker=str(marker)))

    with Raw(app.address) as conn:
        conn.initialize({"reloadOnSave": True})
        outcomes = [
            conn.call("reloadPath", {"path": str(never)}),
            conn.call("reloadPath", {"path": str(never), "force": True}),
            conn.call("reloadPath", {"uri": never.as_uri(), "force": True}),
            conn.call(
                "workspace/executeCommand",
                {"command": "reload_server.reloadPath", "arguments": [str(never)]},
            ),
            conn.call("reloadStale", {}),
        ]
        conn.notify("textDocument/didSave", {"textDocument": {"uri": never.as_uri()}})
        conn.call("reloadStale", {"root": str(app.src)})  # the didSave was handled before this

    assert [o["result"]["status"] for o in outcomes] == ["not_loaded"] * 4 + ["unchanged"]
    assert not marker.exists()
    assert app.eval("'never_loaded' in sys.modules") is False


@pytest.fixture
def rooted(make_app):
    app = make_app(
        {"inside/greeting.py": GREETING, "outside/other.py": GREETING},
        ["inside.greeting", "outside.other"],
        serve={"roots": ["src/inside"]},
    )
    app.write("outside/other.py", GREETING_V2)
    return app


def _refused(reply: dict[str, Any]) -> bool:
    return reply.get("error", {}).get("code") == -32003


def test_dot_dot_paths_never_reach_outside_the_roots(rooted):
    app = rooted
    inside = app.src / "inside"
    tries = [
        str(inside / ".." / "outside" / "other.py"),
        "src/inside/../outside/other.py",
        (inside.as_uri() + "/%2e%2e/outside/other.py"),
        str(inside / "a" / ".." / ".." / "outside" / "other.py"),
    ]
    with Raw(app.address) as conn:
        conn.initialize({"reloadOnSave": True})
        replies = [conn.call("reloadPath", {"path": p, "force": True}) for p in tries]
        replies.append(conn.call("reloadStale", {"root": str(inside / "..")}))
        replies.append(
            conn.call(
                "workspace/executeCommand",
                {"command": "reload_server.reloadPath", "arguments": [tries[0]]},
            )
        )
        conn.notify("textDocument/didSave", {"textDocument": {"uri": Path(tries[0]).as_uri()}})
        conn.call("reloadStale", {})  # handled after the didSave

    assert all(_refused(r) for r in replies), replies
    assert app.eval("sys.modules['outside.other'].greet()") == "hello"


def test_symlinks_never_reach_outside_the_roots(rooted):
    app = rooted
    inside = app.src / "inside"
    os.symlink(app.src / "outside" / "other.py", inside / "file_link.py")
    os.symlink(app.src / "outside", inside / "dir_link")
    with Raw(app.address) as conn:
        conn.initialize()
        replies = [
            conn.call("reloadPath", {"path": str(inside / "file_link.py"), "force": True}),
            conn.call("reloadPath", {"path": str(inside / "dir_link" / "other.py"), "force": True}),
            conn.call("reloadStale", {"root": str(inside / "dir_link")}),
        ]

    assert all(_refused(r) for r in replies), replies
    assert app.eval("sys.modules['outside.other'].greet()") == "hello"


def test_the_server_never_evaluates_text_taken_from_a_request(make_app, tmp_path):
    marker = tmp_path / "pwned"
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.exec("import json, os.path\njson.SENTINEL = 'kept'\nos.path.SENTINEL = 'kept'")
    json_before = snapshot(app, "json")
    code = f"__import__('os').system('touch {marker}')"
    with Raw(app.address) as conn:
        conn.initialize(
            {"clientName": code, "pathMappings": [{"localRoot": code, "remoteRoot": "/"}]}
        )
        replies = [
            conn.call("reloadPath", {"path": p, "force": True})
            for p in (code, "json", "os.path", "greeting", f"{code}.py")
        ]
        replies.append(conn.call("reloadStale", {"root": code}))
        replies.append(
            conn.call("workspace/executeCommand", {"command": code, "arguments": [code]})
        )
        replies.append(
            conn.call(
                "workspace/executeCommand",
                {"command": "reload_server.reloadPath", "arguments": ["json"]},
            )
        )
        replies.append(conn.call(code, {"path": code}))

    statuses = [r.get("result", {}).get("status") or r["error"]["code"] for r in replies]
    assert statuses == ["not_loaded"] * 5 + ["unchanged", -32601, "not_loaded", -32601]
    assert not marker.exists()
    # Module names are data: "json" is the file ./json, not the json module.
    assert snapshot(app, "json") == json_before
    assert app.eval("json.SENTINEL, os.path.SENTINEL") == ["kept", "kept"]
    assert app.eval("sys.modules['greeting'].greet()") == "hello"


def test_the_server_package_contains_no_eval_exec_or_dynamic_import():
    server = Path(control.__file__).parent
    calls = re.compile(r"(?<![\w.])(eval|exec|compile|__import__)\(|import_module\(|pickle|marshal")
    for file in server.glob("*.py"):
        found = calls.search(file.read_text())
        assert found is None, f"{found.group(0)} in {file.name}"
