"""The server's lifetime inside the app: start, stop, discovery file, runners, cost."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
import subprocess
import textwrap

import pytest
from support.apps import child_env
from support.paths import PYTHON
from support.sources import GREETING, GREETING_V2
from support.waits import TIMEOUT

from reload_server.wire.client import LspClient, RpcError

LIVE_SERVER_THREADS = "[t.name for t in threading.enumerate() if t.name == 'reload_server']"


def test_stop_joins_the_thread_and_frees_the_port(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    host, port = app.address
    with LspClient(host, port, timeout=10) as client:
        client.initialize()
    assert app.eval(LIVE_SERVER_THREADS) == ["reload_server"]

    app.exec("reload_server.stop()")

    assert app.eval(LIVE_SERVER_THREADS) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=5).close()
    with socket.socket() as sock:
        # A closed connection may linger in TIME_WAIT (the server closes first on
        # exit); SO_REUSEADDR still refuses the bind while anything listens there.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # nobody holds the port any more


def test_stop_closes_open_connections(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    client = LspClient(*app.address, timeout=10)
    client.initialize()

    app.exec("reload_server.stop()")

    with pytest.raises(ConnectionError):
        while True:
            client.receive()  # notifications, then the end of the stream
    client.close()


def test_serve_again_after_stop(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.exec("reload_server.stop()")

    host, port = app.eval("reload_server.serve(0)")

    with LspClient(host, port, timeout=10) as client:
        client.initialize()
        assert client.request("reloadStale", {})["status"] == "unchanged"


def test_a_second_serve_raises(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])

    app.exec("try:\n    reload_server.serve(0)\nexcept RuntimeError as e:\n    error = str(e)\n")

    assert "already runs" in app.eval("error")


def test_a_bind_error_is_raised_in_the_caller(make_app):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]

        app = make_app(serve={"address": port}, expect_error=True)

    assert app.address is None
    assert app.error.startswith("OSError")
    assert app.eval("reload_server.serve(0)")  # and the app may try again


def test_discovery_file_is_private_and_says_where_to_connect(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"], serve={"token": "tok"})
    directory = app.root / ".reload_server"
    path = directory / f"{app.proc.pid}.json"

    data = json.loads(path.read_text())

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (data["pid"], data["host"], data["port"], data["token"]) == (
        app.proc.pid,
        app.address[0],
        app.address[1],
        "tok",
    )
    assert data["version"] == 1
    assert data["cwd"] == str(app.root)


def test_discovery_file_is_removed_on_stop(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    path = app.root / ".reload_server" / f"{app.proc.pid}.json"
    assert path.exists()

    app.exec("reload_server.stop()")

    assert not path.exists()


def test_discovery_file_is_removed_at_exit(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    path = app.root / ".reload_server" / f"{app.proc.pid}.json"

    assert app.close() == 0  # end of stdin: the app returns from main and exits

    assert not path.exists()


def test_discovery_dir_can_be_set_by_environment(make_app, tmp_path):
    elsewhere = tmp_path / "discovery"
    app = make_app(
        {"greeting.py": GREETING}, ["greeting"], env={"RELOAD_SERVER_DISCOVERY_DIR": str(elsewhere)}
    )

    assert (elsewhere / f"{app.proc.pid}.json").exists()
    assert not (app.root / ".reload_server").exists()


def test_no_discovery_file_when_disabled(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"], serve={"discovery": False})

    assert not (app.root / ".reload_server").exists()


def _run(code: str) -> str:
    result = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=child_env(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_reload_server_does_not_import_pygls():
    out = _run(
        """
        import sys
        import reload_server
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'cattrs', 'asyncio'))
        print(heavy)
        """
    )
    assert out == "[]"


def test_pygls_is_imported_on_the_server_thread_not_the_callers():
    out = _run(
        """
        import sys, threading

        class Spy:
            seen = {}
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('pygls', 'lsprotocol'):
                    Spy.seen.setdefault(threading.current_thread().name, set()).add(name.split('.')[0])
                return None

        sys.meta_path.insert(0, Spy())
        import reload_server
        reload_server.serve(0)
        reload_server.stop()
        print(sorted((k, sorted(v)) for k, v in Spy.seen.items()))
        """
    )
    assert out == "[('reload_server', ['lsprotocol', 'pygls'])]"


@pytest.mark.parametrize(
    ("runner", "thread"),
    [("thread", "reload_server-reload"), ("loop", "MainThread"), ("poll", "MainThread")],
)
async def test_the_runner_decides_which_thread_runs_the_reload(make_app, connect, runner, thread):
    probe = "import threading\nRAN_ON = threading.current_thread().name\n"
    app = make_app({"probe.py": probe}, ["probe"], runner=runner)
    editor = await connect(app)
    # The statement that records the thread is new, so it runs in the reload.
    app.write("probe.py", probe + "VERSION = 2\nRAN_ON = threading.current_thread().name\n")

    outcome = await editor.request("reloadPath", {"path": app.path("probe.py")})

    assert outcome["status"] == "reloaded"
    assert (await app.aeval("probe.RAN_ON")).startswith(thread)
    assert await app.aeval("probe.VERSION") == 2


async def test_poll_runner_waits_for_the_app_to_poll(make_app, connect):
    # The app's loop is busy (not polling) for a while: the reload must wait for it.
    app = make_app({"greeting.py": GREETING}, ["greeting"], runner="poll")
    editor = await connect(app)
    app.write("greeting.py", GREETING_V2)
    busy_task = asyncio.ensure_future(
        app.aexec("import time\ntime.sleep(1.0)\nbefore = greeting.greet()")
    )
    await asyncio.sleep(0.2)
    outcome = await editor.request("reloadPath", {"path": app.path("greeting.py")})
    await busy_task

    assert outcome["status"] == "reloaded"
    assert await app.aeval("before") == "hello"  # nothing changed while the app did not poll
    assert await app.aeval("greeting.greet()") == "hello again"


def test_pygls_does_not_write_into_the_apps_log(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.exec("import logging\nlogging.basicConfig(level=logging.DEBUG)")
    app.write("greeting.py", GREETING_V2)
    with LspClient(*app.address, timeout=10) as client:
        client.initialize()
        client.request("reloadPath", {"path": app.path("greeting.py")})
        with pytest.raises(RpcError):
            client.request(
                "reloadPath", {"path": 42}
            )  # a client's mistake is no traceback in the app
    app.eval("1")  # everything above has been handled

    log = app.stderr()
    assert "pygls" not in log
    assert "Sending data" not in log


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "None"), ({"RELOAD_SERVER_LISTEN": "127.0.0.1:0"}, "serving on 127.0.0.1")],
    ids=["unset", "set"],
)
def test_serve_from_env_serves_only_when_asked(env, expected):
    code = textwrap.dedent(
        """
        from reload_server.server.control import serve_from_env
        address = serve_from_env()
        print(None if address is None else f"serving on {address[0]}")
        """
    )
    result = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=child_env(**env)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
