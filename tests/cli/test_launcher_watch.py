"""``python -m reload_server --watch``: reload on save with no editor, and still serve one."""

from __future__ import annotations

from support.apps import Proc, discovery_pids
from support.paths import PYTHON
from support.sources import copy_example, edit
from support.waits import TIMEOUT

from reload_server.wire.client import LspClient


def test_watch_with_listen_also_reports_each_reload_to_a_connected_editor(tmp_path):
    app = copy_example("threaded_worker", tmp_path)
    worker = Proc(
        [PYTHON, "-m", "reload_server", "--listen", "0", "--watch", ".", "worker.py"], app
    )
    try:
        port = int(worker.wait_for(r"listening on 127\.0\.0\.1:(\d+)", stream="err").group(1))
        worker.wait_for(r"reload_server: watching ", stream="err")
        with LspClient("127.0.0.1", port, timeout=TIMEOUT) as editor:
            editor.initialize({"clientName": "test-editor"})
            # Answered only after "initialized" was handled: the editor now gets broadcasts.
            editor.request("reloadStale", {"forwarded": True})
            edit(app / "tasks.py", 'return f"squared {job * job}"', 'return f"cubed {job ** 3}"')

            while True:
                message = editor.receive()
                if message.get("method") == "window/logMessage":
                    line = message["params"]["message"]
                    break

        assert line.startswith("reload_server: reloaded tasks in ")

        worker.wait_for(r"^reload_server: reloaded tasks in ", stream="err")
        worker.wait_for(r"job \d+ -> cubed")
    finally:
        worker.stop()


def test_watch_alone_starts_no_server(tmp_path):
    app = copy_example("threaded_worker", tmp_path)
    worker = Proc([PYTHON, "-m", "reload_server", "--watch", "worker.py"], app)
    try:
        worker.wait_for(r"reload_server: watching ", stream="err")
        worker.wait_for(r"job \d+ -> squared")
        assert discovery_pids(app) == set()
        assert not any("listening" in line for line in worker.err)
    finally:
        worker.stop()
