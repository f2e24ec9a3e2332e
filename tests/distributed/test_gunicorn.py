"""gunicorn with ``preload_app`` and three sync workers: one reload reaches every worker
and the master (so that workers it forks later start with the new code), all or nothing."""

from __future__ import annotations

import pytest
from support.apps import cli
from support.gunicorn import Gunicorn, answer_source
from support.sources import write_source
from support.waits import TIMEOUT, wait_until

from reload_server.wire import discovery
from reload_server.wire.client import LspClient


@pytest.fixture
def gunicorn(tmp_path):
    """``gunicorn(answer_text)``: a running gunicorn whose ``answer.text()`` returns that."""
    started: list[Gunicorn] = []

    def start(text: str = "old", **source: bool) -> Gunicorn:
        write_source(tmp_path / "answer.py", answer_source(text, **source))
        server = Gunicorn(tmp_path, workers=3)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def reload_in_one_worker(server: Gunicorn) -> dict:
    """``reloadPath`` of answer.py sent to one worker's server, as an editor would."""
    worker = min(server.worker_pids())
    entry = next(e for e in discovery.find(server.root) if e.pid == worker)
    with LspClient(entry.host, entry.port, timeout=TIMEOUT * 2) as editor:
        editor.initialize()
        return editor.request("reloadPath", {"path": str(server.root / "answer.py")})


def processes(outcome: dict) -> dict[int, str]:
    return {int(p["process"].removeprefix("pid ")): p["status"] for p in outcome["processes"]}


def test_a_reload_sent_to_one_worker_makes_every_worker_answer_with_the_new_code(gunicorn):
    server = gunicorn("old")
    assert set(server.answers().values()) == {"old"}

    write_source(server.root / "answer.py", answer_source("new"))
    outcome = reload_in_one_worker(server)

    assert outcome["status"] == "reloaded", outcome
    assert processes(outcome) == {pid: "reloaded" for pid in {server.master, *server.worker_pids()}}
    assert set(server.answers().values()) == {"new"}


def test_an_edit_failing_in_one_worker_leaves_every_worker_on_the_old_code_and_names_it(
    gunicorn,
):
    server = gunicorn("old")
    victim = max(server.worker_pids())
    (server.root / f"fail-{victim}").touch()

    write_source(server.root / "answer.py", answer_source("new", fail_if_marked=True))
    outcome = reload_in_one_worker(server)

    assert outcome["status"] == "failed", outcome
    assert outcome["message"].startswith(
        f"pid {victim}: answer not reloaded: RuntimeError: marked to fail in {victim}"
    )
    assert set(processes(outcome)) == {server.master, *server.worker_pids()}
    assert set(server.answers().values()) == {"old"}


def test_a_worker_forked_after_a_cli_reload_answers_with_the_new_code(gunicorn):
    server = gunicorn("old")
    before = server.worker_pids()
    write_source(server.root / "answer.py", answer_source("new"))
    result = cli("answer.py", cwd=server.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"pid {server.master}: reloaded answer" in result.stdout

    killed = min(before)
    server.kill_worker(killed)
    replaced = server.answers(before - {killed} | {_new_worker(server, before)})

    assert set(replaced.values()) == {"new"}


def _new_worker(server: Gunicorn, before: set[int]) -> int:
    """The pid of the worker gunicorn forked in place of a killed one (once it serves)."""
    return wait_until(lambda: next(iter(server.worker_pids() - before), None), what="a new worker")
