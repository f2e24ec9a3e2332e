"""Faults while reloading: each is reported clearly, the server keeps serving, and after a
failed reload the app's module is exactly as before (same objects, same state)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from support.probes import server_alive, snapshot
from support.raw import Raw, reload_path
from support.waits import TIMEOUT, wait_until

V1 = """\
try:
    STATE
except NameError:
    STATE = {"n": 0, "items": [1, 2]}


def f():
    return "v1"


class K:
    def m(self):
        return "v1"
"""

V2 = V1.replace('"v1"', '"v2"')


@pytest.fixture(scope="module")
def app(module_apps):
    return module_apps()


@pytest.fixture(scope="module")
def pyc_app(module_apps):
    """An app whose imports write .pyc files, as most users' do: a first reload
    knows the code each module ran, and re-runs only what changed."""
    return module_apps(env={"PYTHONDONTWRITEBYTECODE": ""})


def new_module(app: Any, text: str = V1, stem: str = "faulty") -> Any:
    mod = app.add_module(text, stem)
    # Live state and instances the app holds on to.
    app.exec(f"import {mod.name}; {mod.name}.STATE['n'] += 1; KEPT_{mod.name} = {mod.name}.K()")
    return mod


def reload_result(app: Any, mod: Any, force: bool = False) -> dict[str, Any]:
    reply = reload_path(app.address, mod.path, force)
    assert "result" in reply, reply
    return reply["result"]


def assert_unchanged(app: Any, mod: Any, before: dict[str, Any]) -> None:
    """The module is exactly as before the attempt, still runs the old code, and the server serves."""
    assert snapshot(app, mod.name) == before
    assert mod.eval("f()") == "v1"
    assert app.eval(f"KEPT_{mod.name}.m()") == "v1"
    assert mod.eval("STATE") == {"n": 1, "items": [1, 2]}
    assert server_alive(app)


def assert_rolled_back(outcome: dict[str, Any], mod: Any, what: str) -> None:
    assert outcome["status"] == "failed", outcome
    assert outcome["phase"] == "import", outcome
    assert outcome["rolledBack"] is True
    assert outcome["modules"] == [mod.name]
    assert what in outcome["message"], outcome["message"]
    located = [n for n in outcome["notes"] if n["severity"] == "error" and n["file"] == mod.path]
    assert located and located[0]["line"] is not None, outcome["notes"]


# -- the client goes away -------------------------------------------------------------------


def test_a_client_disconnecting_mid_reload_leaves_a_complete_reload_and_a_serving_server(
    app, tmp_path
):
    mod = new_module(app)
    started, go = tmp_path / "started", tmp_path / "go"
    mod.write(
        "import os, pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text('x')\n"
        "_deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({str(go)!r}) and time.monotonic() < _deadline:\n"
        "    time.sleep(0.01)\n" + V2
    )
    conn = Raw(app.address)
    conn.initialize()
    conn.request("reloadPath", {"path": mod.path})
    wait_until(started.exists, what="the reload to start")
    conn.close()  # gone while the new code runs
    go.write_text("go")

    wait_until(lambda: mod.eval("f()") == "v2", what="the reload to complete")
    assert app.eval(f"KEPT_{mod.name}.m()") == "v2"
    assert mod.eval("STATE") == {"n": 1, "items": [1, 2]}
    assert reload_result(app, mod)["status"] == "unchanged"
    assert server_alive(app)


# -- the new code raises what code should not raise -------------------------------------------


class_defs = {
    "SystemExit": "raise SystemExit(3)\n",
    "KeyboardInterrupt": "raise KeyboardInterrupt()\n",
    "BaseException subclass": "class Abort(BaseException):\n    pass\n\n\nraise Abort('stop')\n",
}


@pytest.mark.parametrize("raised", list(class_defs), ids=lambda s: s.replace(" ", "-"))
def test_a_base_exception_at_import_is_rolled_back_and_reported(app, raised):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    mod.write(V2 + class_defs[raised])

    outcome = reload_result(app, mod)

    assert_rolled_back(
        outcome, mod, raised.split()[0] if raised != "BaseException subclass" else "Abort"
    )
    assert_unchanged(app, mod, before)
    # The worker that ran the reload is still there: the next reload works.
    mod.write(V2)
    assert reload_result(app, mod)["status"] == "reloaded"
    assert mod.eval("f()") == "v2"


def test_infinite_recursion_at_import_is_rolled_back_and_reported(app):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    mod.write(V2 + "\n\ndef down(n):\n    return down(n + 1)\n\n\ndown(0)\n")

    outcome = reload_result(app, mod)

    assert_rolled_back(outcome, mod, "RecursionError")
    assert_unchanged(app, mod, before)


# -- hooks that raise -------------------------------------------------------------------------


def test_a_raising_unimport_hook_stops_the_reload_before_any_new_code_runs(app):
    mod = new_module(app, V1 + "\n\ndef __unimport__():\n    raise RuntimeError('unimport boom')\n")
    before = snapshot(app, mod.name)
    mod.write(V2 + "\n\nRAN = True\n")

    outcome = reload_result(app, mod)

    assert outcome["status"] == "failed"
    assert outcome["phase"] == "hook"
    assert "unimport boom" in outcome["message"]
    assert mod.eval("__dict__.get('RAN')") is None
    assert snapshot(app, mod.name) == before
    assert mod.eval("f()") == "v1"
    assert server_alive(app)


def test_a_raising_reimported_hook_is_reported_as_a_warning_and_the_reload_completes(app):
    mod = new_module(app)
    mod.write(V2 + "\n\ndef __reimported__(old):\n    raise RuntimeError('reimported boom')\n")

    outcome = reload_result(app, mod)

    assert outcome["status"] == "reloaded", outcome
    hook_notes = [n for n in outcome["notes"] if n["kind"] == "hook"]
    assert hook_notes and hook_notes[0]["severity"] == "warning"
    assert "reimported boom" in hook_notes[0]["message"]
    assert mod.eval("f()") == "v2"
    assert app.eval(f"KEPT_{mod.name}.m()") == "v2"
    assert mod.eval("STATE") == {"n": 1, "items": [1, 2]}
    assert server_alive(app)


# -- side effects at import ---------------------------------------------------------------------

WORKER = """
import threading, time

RESULTS = []
STOP = threading.Event()


def _work():
    while not STOP.is_set():
        RESULTS.append(f())
        time.sleep(0.005)


WORKER = threading.Thread(target=_work, daemon=True)
WORKER.start()
LOG = open(__file__ + ".log", "a")
"""


def test_a_module_starting_threads_and_opening_files_at_import_reloads_and_keeps_serving(
    pyc_app,
):
    app = pyc_app
    mod = new_module(app, V1 + WORKER)
    old_thread, old_log = app.eval(f"(id({mod.name}.WORKER), id({mod.name}.LOG))")
    mod.write(V2 + WORKER)

    outcome = reload_result(app, mod)

    assert outcome["status"] == "reloaded", outcome
    # Only the edited function changed: no second thread, no second file.
    assert app.eval(f"(id({mod.name}.WORKER), id({mod.name}.LOG))") == [old_thread, old_log]
    assert app.eval(f"{mod.name}.WORKER.is_alive() and not {mod.name}.LOG.closed")
    # The thread started at import now runs the new code.
    app.exec(f"{mod.name}.RESULTS.clear()")
    wait_until(lambda: mod.eval("RESULTS[-3:]") == ["v2"] * 3, what="the threads to run v2")
    app.exec(f"{mod.name}.STOP.set()")
    assert server_alive(app)


def test_a_failed_reload_that_started_a_thread_and_opened_a_file_keeps_the_old_ones(app):
    mod = new_module(app, V1 + WORKER)
    before = snapshot(app, mod.name)
    mod.write(V2 + WORKER + "\nraise RuntimeError('after the side effects')\n")

    outcome = reload_result(app, mod)

    assert_rolled_back(outcome, mod, "after the side effects")
    assert snapshot(app, mod.name) == before  # WORKER, LOG, STOP: the old objects
    assert app.eval(f"{mod.name}.WORKER.is_alive() and not {mod.name}.LOG.closed")
    assert mod.eval("f()") == "v1"
    app.exec(f"{mod.name}.STOP.set()")
    assert server_alive(app)


# -- a reload racing an import of the same module -----------------------------------------------


def test_a_reload_asked_while_another_thread_imports_the_module_is_answered_and_consistent(
    app, tmp_path
):
    started, go = tmp_path / "imp-started", tmp_path / "imp-go"
    name = "racing_import"
    app.write(
        f"{name}.py",
        "import os, pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text('x')\n"
        "_deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({str(go)!r}) and time.monotonic() < _deadline:\n"
        "    time.sleep(0.01)\n" + V1,
    )
    app.exec(
        "import importlib\n"
        "IMPORTED = {}\n"
        "def _imp():\n"
        f"    IMPORTED['m'] = importlib.import_module({name!r})\n"
        "IMPORTER = threading.Thread(target=_imp)\n"
        "IMPORTER.start()\n"
    )
    wait_until(started.exists, what="the import to start")
    conn = Raw(app.address)
    conn.initialize()
    msg_id = conn.request("reloadPath", {"path": app.path(f"{name}.py"), "force": True})
    results: dict[str, Any] = {}

    def read() -> None:
        results.update(conn.replies({msg_id}, timeout=TIMEOUT * 2))

    reader = threading.Thread(target=read)
    reader.start()
    go.write_text("go")
    reader.join(TIMEOUT * 2)
    conn.close()

    reply = results[msg_id][0]
    assert reply["result"]["status"] in ("reloaded", "failed", "not_loaded"), reply
    assert reply["result"]["message"]
    app.exec("IMPORTER.join(30)")
    assert app.eval("not IMPORTER.is_alive()")
    assert app.eval(f"IMPORTED['m'] is sys.modules[{name!r}]")
    assert app.eval(f"sys.modules[{name!r}].f()") == "v1"
    assert server_alive(app)


# -- the file is gone, unreadable, or not a file -----------------------------------------------


def test_a_module_deleted_between_save_and_reload_fails_clearly_and_changes_nothing(app):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    mod.write(V2)
    os.unlink(mod.path)

    outcome = reload_result(app, mod)

    assert outcome["status"] == "failed", outcome
    assert outcome["phase"] == "compile"
    assert "No such file" in outcome["message"]
    assert_unchanged(app, mod, before)


def test_a_module_file_replaced_by_a_directory_fails_clearly_and_changes_nothing(app):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    os.unlink(mod.path)
    os.mkdir(mod.path)  # unreadable as a file, even for root

    outcome = reload_result(app, mod)

    assert outcome["status"] == "failed", outcome
    assert outcome["phase"] == "compile"
    assert "directory" in outcome["message"].lower()
    assert_unchanged(app, mod, before)


def test_a_module_file_replaced_by_a_fifo_fails_clearly_instead_of_hanging(make_app):
    # A named pipe blocks whoever opens it for reading until a writer comes: the
    # reload must not wait for one (it would hold the reload lock for ever).
    app = make_app({"piped.py": V1}, ["piped"])
    path = app.path("piped.py")
    os.unlink(path)
    os.mkfifo(path)
    try:
        reply = reload_path(app.address, path, force=True)
    finally:
        # Unblock a reader stuck on the pipe, whatever happened.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK) if _has_reader(path) else None
        if fd is not None:
            os.write(fd, V1.encode())
            os.close(fd)
    assert reply["result"]["status"] == "failed", reply
    assert reply["result"]["phase"] == "compile"
    assert app.eval("sys.modules['piped'].f()") == "v1"


def _has_reader(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False


def test_a_module_that_is_not_utf8_fails_to_compile_and_changes_nothing(app):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    with open(mod.path, "wb") as f:
        f.write(V2.encode() + b"\nNAME = '\xff\xfe caf\xe9'\n")
    os.utime(mod.path, ns=(os.stat(mod.path).st_mtime_ns + 10**9,) * 2)

    outcome = reload_result(app, mod)

    assert outcome["status"] == "failed", outcome
    assert outcome["phase"] == "compile"
    assert "utf-8" in outcome["message"].lower()
    note = outcome["notes"][0]
    assert note["file"] == mod.path and note["line"] is not None
    assert_unchanged(app, mod, before)


def test_a_directory_as_the_target_is_not_loaded_and_nothing_runs(app):
    mod = new_module(app)
    before = snapshot(app, mod.name)

    outcome = reload_result(app, type("D", (), {"path": str(app.src)})(), force=True)

    assert outcome["status"] == "not_loaded", outcome
    assert "not the source of any loaded module" in outcome["message"]
    assert_unchanged(app, mod, before)


def test_a_symlink_loop_as_the_target_is_not_loaded_and_nothing_runs(app, tmp_path):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    a, b = tmp_path / "loop_a.py", tmp_path / "loop_b.py"
    os.symlink(b, a)
    os.symlink(a, b)

    reply = reload_path(app.address, str(a), force=True)

    assert reply["result"]["status"] == "not_loaded", reply
    assert_unchanged(app, mod, before)


def test_a_path_that_is_no_valid_file_name_gets_invalid_params(app):
    mod = new_module(app)
    before = snapshot(app, mod.name)
    for bad in ("\ud800.py", mod.path + "\x00", "file:///x%00.py"):
        reply = reload_path(app.address, bad)
        assert reply["error"]["code"] == -32602, reply
    assert_unchanged(app, mod, before)
