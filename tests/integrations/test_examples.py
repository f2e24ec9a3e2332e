"""Each program in examples/ runs as a real process; a file is edited on disk, reloaded,
and the running program changes."""

from __future__ import annotations

import json
import os
import re
import urllib.request

import pytest
from support.apps import Proc, cli, discovery_pids, http_get
from support.paths import PYTHON
from support.sources import copy_example, edit
from support.waits import TIMEOUT, wait_until

from reload_server.wire import discovery
from reload_server.wire.client import LspClient


@pytest.fixture
def procs():
    started: list[Proc] = []

    def start(args: list[str], cwd) -> Proc:
        proc = Proc(args, cwd)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def test_asyncio_service_answers_with_new_code_reloaded_on_its_own_loop(tmp_path, procs):
    app = copy_example("asyncio_service", tmp_path)
    service = procs([PYTHON, "service.py", "--port", "0"], app)
    url = service.wait_for(r"serving (http://\S+/)").group(1)
    assert http_get(url + "hello").startswith("Hello, hello! (v1, request #1)")

    edit(
        app / "handlers.py",
        'GREETING = "Hello"',
        'import threading\n\nGREETING = "Howdy from " + threading.current_thread().name',
    )
    result = cli("handlers.py", cwd=app)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "reloaded handlers" in result.stdout
    # Module code ran on the loop's thread (the main thread); the counter went on.
    assert http_get(url + "hello") == "Howdy from MainThread, hello! (v1, request #2)"


def test_game_loop_reloads_only_inside_poll_on_the_main_thread(tmp_path, procs):
    app = copy_example("game_loop", tmp_path)
    game = procs([PYTHON, "game.py", "--tick", "0.05"], app)
    game.wait_for(r"tick \d+: x = ")

    edit(
        app / "world.py",
        'return f"x = {self.x:.1f}"',
        'import threading\n\n        return f"x = {self.x:.1f} on {threading.current_thread().name}"',
    )
    result = cli("world.py", cwd=app)

    assert result.returncode == 0, result.stdout + result.stderr
    after = len(game.out)
    line = game.wait_for(r"tick (\d+): x = ([\d.]+) on (\S+)", after=after)
    assert line.group(3) == "MainThread"
    # The world made at start-up kept its state: x went on from where it was.
    assert float(line.group(2)) > 0.5


def test_threaded_worker_reloads_on_save_with_the_launchers_watch(tmp_path, procs):
    app = copy_example("threaded_worker", tmp_path)
    worker = procs(
        [PYTHON, "-m", "reload_server", "--watch", "worker.py", "--interval", "0.1"], app
    )
    worker.wait_for(r"job \d+ -> squared")
    worker.wait_for(r"reload_server: watching ", stream="err")

    edit(app / "tasks.py", 'return f"squared {job * job}"', 'return f"cubed {job ** 3}"')

    worker.wait_for(r"^reload_server: reloaded tasks in [\d.]+ ms$", stream="err")
    worker.wait_for(r"job \d+ -> cubed")
    assert not any("listening on" in line for line in worker.err)


def _start_prefork(app, procs) -> tuple[Proc, str, list[int]]:
    server = procs(
        [PYTHON, "-m", "reload_server", "server.py", "--port", "0", "--workers", "3"], app
    )
    match = server.wait_for(r"serving (http://\S+/) with workers \[([\d, ]+)\]")
    workers = [int(p) for p in match.group(2).split(",")]
    wait_until(
        lambda: discovery_pids(app) == {server.pid, *workers},
        what="a discovery entry for the launcher and each worker",
    )
    return server, match.group(1), workers


def test_prefork_cli_reload_reaches_every_worker_and_reports_each(tmp_path, procs):
    app = copy_example("prefork", tmp_path)
    server, url, workers = _start_prefork(app, procs)
    assert http_get(url).startswith("v1 from worker")

    edit(app / "handler.py", 'return f"v1 from', 'return f"v2 from')
    result = cli("handler.py", cwd=app)

    assert result.returncode == 0, result.stdout + result.stderr
    reported = {
        int(pid) for pid in re.findall(r"^pid (\d+): reloaded handler", result.stdout, re.M)
    }
    assert reported == {server.pid, *workers}
    assert "(4 processes: 4 reloaded)" in result.stdout
    answers = {http_get(url) for _ in range(12)}
    assert all(a.startswith("v2 from worker") for a in answers), answers


def test_prefork_editor_request_to_one_process_reaches_all_of_them(tmp_path, procs):
    app = copy_example("prefork", tmp_path)
    server, url, workers = _start_prefork(app, procs)
    edit(app / "handler.py", 'return f"v1 from', 'return f"v2 from')
    parent = next(e for e in discovery.find(app) if e.pid == server.pid)

    with LspClient(parent.host, parent.port, timeout=TIMEOUT) as editor:
        editor.initialize({"clientName": "test-editor"})
        result = editor.request("reloadPath", {"path": str(app / "handler.py")})

    assert result["status"] == "reloaded"
    assert result["processes"][0]["process"] == f"pid {server.pid}"
    assert {int(p["process"][4:]): p["status"] for p in result["processes"]} == {
        pid: "reloaded" for pid in (server.pid, *workers)
    }
    assert http_get(url).startswith("v2 from worker")
    json.dumps(result)  # plain JSON all the way down
    assert os.path.exists(parent.path)


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read())


def test_flask_app_serves_an_edited_view_and_an_added_route_from_the_app_it_started_with(
    tmp_path, procs
):
    app = copy_example("flask_app", tmp_path)
    server = procs([PYTHON, "-m", "reload_server", "--listen", "0", "serve.py", "--port", "0"], app)
    url = server.wait_for(r"serving (http://\S+/)").group(1)
    wait_until(lambda: discovery_pids(app) == {server.pid}, what="the app's discovery entry")
    assert http_get(url) == "Hello from Flask (v1)"

    edit(
        app / "views.py",
        'return "Hello from Flask (v1)"',
        'return "Hello from Flask (v2)"\n\n\n@app.route("/new")\ndef new() -> str:\n'
        '    return "a new route"',
    )
    result = cli("views.py", cwd=app)

    assert result.returncode == 0, result.stdout + result.stderr
    assert (http_get(url), http_get(url + "new")) == ("Hello from Flask (v2)", "a new route")


def test_fastapi_app_under_uvicorn_serves_an_edited_route_an_added_route_and_a_new_field(
    tmp_path, procs
):
    app = copy_example("fastapi_app", tmp_path)
    server = procs([PYTHON, "-m", "reload_server", "--listen", "0", "serve.py", "--port", "0"], app)
    url = server.wait_for(r"serving (http://\S+/)").group(1)
    wait_until(lambda: discovery_pids(app) == {server.pid}, what="the app's discovery entry")
    assert json.loads(http_get(url)) == {"message": "Hello from FastAPI (v1)"}

    edit(app / "routes.py", "(v1)", "(v2)")
    edit(app / "routes.py", "    name: str", "    name: str\n    price: int = 0")
    edit(
        app / "routes.py",
        "@app.post",
        '@app.get("/new")\ndef new() -> str:\n    return "a new route"\n\n\n@app.post',
    )
    result = cli("routes.py", cwd=app)

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(http_get(url)) == {"message": "Hello from FastAPI (v2)"}
    assert json.loads(http_get(url + "new")) == "a new route"
    assert _post_json(url + "items", {"name": "pen", "price": 3}) == {"name": "pen", "price": 3}
