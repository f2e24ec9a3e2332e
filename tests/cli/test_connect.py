"""``python -m reload_server connect``: the stdio bridge, driven over its stdin/stdout
as an editor would, against real apps that start, stop and restart under it."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.apps import App, child_env
from support.paths import PYTHON
from support.sources import GREETING, GREETING_V2
from support.waits import TIMEOUT, wait_until

from reload_server.wire.framing import FrameReader, encode

GREETING_V3 = 'def greet():\n    return "hello once more"\n'
BROKEN = 'def greet():\n    return "hello"\n\nvalue = (1 +* 2)\n'
REQUEST_FAILED = -32803


class StdioEditor:
    """The bridge as a subprocess, and the editor's side of its stdin/stdout."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "reload_server", "connect", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=child_env(),
        )
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = 0
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        reader = FrameReader()
        while True:
            data = self.proc.stdout.read1(65536)
            if not data:
                return
            for body in reader.feed(data):
                with self._lock:
                    self.received.append(json.loads(body))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(encode({"jsonrpc": "2.0", **message}))
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, "params": params if params is not None else {}})

    def request(self, method: str, params: Any = None) -> dict[str, Any]:
        """The whole reply (``result`` or ``error``) to a new request."""
        self._ids += 1
        msg_id = self._ids
        self.send({"id": msg_id, "method": method, "params": params if params is not None else {}})
        return self.wait_for(
            lambda m: m.get("id") == msg_id and "method" not in m, f"the reply to {method}"
        )

    def messages(self, predicate: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.received if predicate(m)]

    def wait_for(self, predicate: Callable[[dict[str, Any]], Any], what: str) -> dict[str, Any]:
        def found() -> Any:
            matches = self.messages(predicate)
            return matches[-1] if matches else None

        try:
            return wait_until(found, TIMEOUT, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nbridge stderr:\n{self.stderr.decode()}") from None

    def logs(self) -> list[str]:
        return [m["params"]["message"] for m in self.messages(is_method("window/logMessage"))]

    def initialize(self, options: dict[str, Any], root: Path) -> dict[str, Any]:
        reply = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {},
                "clientInfo": {"name": "test-stdio-editor"},
                "initializationOptions": options,
            },
        )
        self.notify("initialized")
        return reply

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.request("shutdown")
                self.notify("exit")
            except (OSError, AssertionError):
                pass
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(TIMEOUT)


def is_method(method: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("method") == method


def saved(path: str) -> dict[str, Any]:
    return {"textDocument": {"uri": Path(path).as_uri()}}


@pytest.fixture
def apps():
    """Factory: ``apps(root)`` starts an app (importing ``greeting``) whose project is ``root``."""
    started: list[App] = []

    def start(root: Path) -> App:
        app = App(
            root,
            {} if (root / "src").exists() else {"greeting.py": GREETING},
            ["greeting"],
            None,
            "thread",
            None,
        )
        started.append(app)
        assert app.address is not None, app.error
        return app

    yield start
    for app in started:
        app.close()


@pytest.fixture
def editors():
    """Factory: ``editors(cwd, *args)`` starts a bridge; all are ended after the test."""
    started: list[StdioEditor] = []

    def start(cwd: Path, *args: str) -> StdioEditor:
        editor = StdioEditor(cwd, *args)
        started.append(editor)
        return editor

    yield start
    for editor in started:
        editor.close()


def test_requests_and_notifications_pass_through(tmp_path, apps, editors):
    app = apps(tmp_path / "proj")
    editor = editors(app.root)

    reply = editor.initialize({}, app.root)
    assert "experimental" in reply["result"]["capabilities"], (reply, editor.stderr, app.stderr())
    assert (
        reply["result"]["capabilities"]["experimental"]["reloadServer"]["app"]["pid"]
        == app.proc.pid
    )

    app.write("greeting.py", GREETING_V2)
    outcome = editor.request("reloadPath", {"path": app.path("greeting.py")})["result"]
    assert outcome["status"] == "reloaded", outcome
    assert app.eval("greeting.greet()") == "hello again"

    app.write("greeting.py", BROKEN)
    command = {"command": "reload_server.reloadPath", "arguments": [app.path("greeting.py")]}
    outcome = editor.request("workspace/executeCommand", command)["result"]
    assert outcome["status"] == "failed"
    published = editor.wait_for(
        lambda m: (
            m.get("method") == "textDocument/publishDiagnostics" and m["params"]["diagnostics"]
        ),
        "the syntax error's diagnostic",
    )
    assert published["params"]["diagnostics"][0]["range"]["start"]["line"] == 3
    assert app.eval("greeting.greet()") == "hello again"

    assert editor.request("noSuchMethod")["error"]["code"] == -32601
    assert editor.close() == 0


def test_an_address_connects_there(tmp_path, apps, editors):
    app = apps(tmp_path / "proj")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    host, port = app.address
    editor = editors(elsewhere, f"{host}:{port}")

    editor.initialize({}, elsewhere)
    app.write("greeting.py", GREETING_V2)
    outcome = editor.request("reloadPath", {"path": app.path("greeting.py")})["result"]

    assert outcome["status"] == "reloaded", outcome
    assert app.eval("greeting.greet()") == "hello again"


def test_after_an_app_restart_the_session_is_replayed_and_saves_still_reload(
    tmp_path, apps, editors
):
    root = tmp_path / "proj"
    first = apps(root)
    editor = editors(root)
    path = first.path("greeting.py")
    editor.initialize({"reloadOnSave": True}, root)
    editor.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": Path(path).as_uri(),
                "languageId": "python",
                "version": 1,
                "text": "",
            }
        },
    )
    first.write("greeting.py", GREETING_V2)
    editor.notify("textDocument/didSave", saved(path))
    wait_until(
        lambda: first.eval("greeting.greet()") == "hello again", what="the first app reloaded"
    )

    first.close()
    editor.wait_for(
        lambda m: m.get("method") == "window/logMessage" and "went away" in m["params"]["message"],
        "the bridge saying the app went away",
    )
    # A request while no app runs gets an error, and the bridge stays.
    reply = editor.request("reloadStale")
    assert reply["error"]["code"] == REQUEST_FAILED
    assert "no running app found" in reply["error"]["message"]

    second = apps(root)
    editor.wait_for(
        lambda m: (
            m.get("method") == "window/logMessage"
            and f"pid {second.proc.pid}" in m["params"]["message"]
        ),
        "the bridge connecting to the new app",
    )
    second.write("greeting.py", GREETING_V3)
    editor.notify("textDocument/didSave", saved(path))

    wait_until(
        lambda: second.eval("greeting.greet()") == "hello once more",
        what="the new app reloading on save",
    )
    # The replayed initialize was answered to the bridge, not to the editor.
    assert len(editor.messages(lambda m: m.get("id") == 1)) == 1
    assert editor.close() == 0


def test_without_an_app_initialize_succeeds_and_requests_say_how_to_start_one(
    tmp_path, apps, editors
):
    root = tmp_path / "proj"
    root.mkdir()
    editor = editors(root)

    reply = editor.initialize({"reloadOnSave": True}, root)
    sync = reply["result"]["capabilities"]["textDocumentSync"]
    assert sync["save"] == {"includeText": False}

    error = editor.request("reloadPath", {"path": str(root / "src" / "greeting.py")})["error"]
    assert error["code"] == REQUEST_FAILED
    assert f"no running app found for {root}" in error["message"]
    assert "python -m reload_server app.py" in error["message"]

    # The app appears later: the bridge finds it, and requests and saves work.
    app = apps(root)
    editor.wait_for(
        lambda m: m.get("method") == "window/logMessage" and "connected" in m["params"]["message"],
        "the bridge connecting to the app",
    )
    app.write("greeting.py", GREETING_V2)
    outcome = editor.request("reloadPath", {"path": app.path("greeting.py")})["result"]
    assert outcome["status"] == "reloaded", outcome

    app.write("greeting.py", GREETING_V3)
    editor.notify("textDocument/didSave", saved(app.path("greeting.py")))
    wait_until(lambda: app.eval("greeting.greet()") == "hello once more", what="a reload on save")
    assert editor.close() == 0


def test_without_an_address_app_the_error_names_the_address(tmp_path, editors):
    with socket_bound() as port:
        editor = editors(tmp_path, f"127.0.0.1:{port}")
        editor.initialize({}, tmp_path)
        error = editor.request("reloadStale")["error"]
    assert error["code"] == REQUEST_FAILED
    assert f"no running app at 127.0.0.1:{port}" in error["message"]
    assert f"--listen {port}" in error["message"]


def test_exit_without_shutdown_ends_the_bridge_with_status_1(tmp_path, editors):
    editor = editors(tmp_path)
    editor.initialize({}, tmp_path)
    editor.notify("exit")
    assert editor.proc.wait(TIMEOUT) == 1


class socket_bound:
    """A port nobody listens on (bound, not listening: connections are refused)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_requests_before_initialize_get_server_not_initialized(tmp_path, editors):
    editor = editors(tmp_path)

    error = editor.request("reloadStale")["error"]

    assert error["code"] == -32002
    editor.initialize({}, tmp_path)
    assert editor.request("reloadStale")["error"]["code"] == REQUEST_FAILED
