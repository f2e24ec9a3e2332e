"""Fleet reloads over Celery: real ``celery worker`` processes (prefork pool) and a real redis.

Two workers, each with two pool children and a queue of its own, run
``ctasks.probe``, which answers ``[the code's version, the child's pid]``; the
test process is the client that imported the app (which called
``reload_server.celery.install(app)``).  A worker's main process is seen
through children forked from it again (``pool_restart``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.apps import cli
from support.brokers import REDIS_SERVER, redis_server
from support.celery_workers import CeleryWorker

import reload_server
from reload_server.core import fleet
from reload_server.core.results import ReloadError

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")

APP = """
from celery import Celery

import reload_server.celery

MARKS = {marks!r}
app = Celery("capp", broker={url!r}, backend={url!r}, include=["ctasks"])
app.conf.worker_prefetch_multiplier = 1
app.conf.worker_pool_restarts = True  # for the tests' own pool_restart
member = reload_server.celery.install(app)
"""

TASKS = """
import os
import time

from capp import MARKS, app
{extra}

@app.task
def probe():
    time.sleep(0.02)  # long enough for the other child to take the next probe
    return [{version!r}, os.getpid()]
"""

# New code that fails in the worker whose main process has a marker file.
FAILS_IN_MARKED = """
if os.path.exists(os.path.join(MARKS, f"fail-{os.getpid()}")):
    raise RuntimeError(f"refused in pid {os.getpid()}")
"""

# New code that does not return in the worker whose main process has a marker file.
HANGS_IN_MARKED = """
while os.path.exists(os.path.join(MARKS, f"hang-{os.getpid()}")):
    time.sleep(0.05)
"""


@pytest.fixture
def celery_fleet(project, tmp_path: Path) -> Iterator[SimpleNamespace]:
    marks = tmp_path / "marks"
    marks.mkdir()
    with redis_server(tmp_path) as url:
        project.write("capp.py", APP.format(marks=str(marks), url=url))
        tasks = project.write("ctasks.py", TASKS.format(extra="", version="old"))
        import capp
        import ctasks

        workers: list[CeleryWorker] = []
        try:
            for name in ("w1", "w2"):
                workers.append(CeleryWorker(capp.app, "capp", name, project.root))
            for worker in workers:
                worker.wait_ready()
            yield SimpleNamespace(
                app=capp.app,
                tasks=ctasks,
                path=tasks,
                workers=workers,
                marks=marks,
                project=project,
            )
        finally:
            for marker in marks.iterdir():
                marker.unlink()  # a worker held by a marker must be free to shut down
            for worker in workers:
                worker.stop()
            fleet.leave(capp.member)
            capp.app.close()
            sys.modules.pop("capp", None)
            sys.modules.pop("ctasks", None)


def edit(fleet_: SimpleNamespace, version: str, extra: str = "") -> None:
    fleet_.project.write("ctasks.py", TASKS.format(extra=extra, version=version))


def versions(fleet_: SimpleNamespace) -> dict[str, set[str]]:
    """Per worker, the versions its pool children run now."""
    return {w.node: set(w.run_everywhere(fleet_.tasks.probe).values()) for w in fleet_.workers}


def test_a_good_edit_reaches_every_worker_and_every_pool_child(celery_fleet):
    before = {w.node: set(w.children()) for w in celery_fleet.workers}
    edit(celery_fleet, "new")

    result = reload_server.reimport("ctasks")  # the client joined the workers at install()

    assert set(result.by_process) == {fleet.local_name(), *before}
    assert all(r.modules == ("ctasks",) for r in result.by_process.values())
    assert versions(celery_fleet) == {node: {"new"} for node in before}
    for worker in celery_fleet.workers:
        assert not set(worker.children()) & before[worker.node]


def test_a_good_edit_reaches_the_clients_eager_calls(celery_fleet):
    edit(celery_fleet, "new")

    reload_server.celery.reimport(celery_fleet.app, "ctasks")

    assert celery_fleet.tasks.probe.apply().get()[0] == "new"


def test_an_edit_failing_in_one_worker_changes_no_worker_and_names_that_worker(celery_fleet):
    w1, w2 = celery_fleet.workers
    (celery_fleet.marks / f"fail-{w2.pid}").touch()
    edit(celery_fleet, "new", FAILS_IN_MARKED)

    with pytest.raises(ReloadError) as caught:
        reload_server.celery.reimport(celery_fleet.app, "ctasks")

    failed = {n.message.split("]")[0][1:] for n in caught.value.notes}
    assert failed == {w2.node}
    assert f"refused in pid {w2.pid}" in " ".join(n.message for n in caught.value.notes)
    for worker in celery_fleet.workers:
        worker.restart_pool(celery_fleet.tasks.probe)  # children forked now show the main's code
    assert versions(celery_fleet) == {w1.node: {"old"}, w2.node: {"old"}}
    assert celery_fleet.tasks.probe.apply().get()[0] == "old"


def test_a_worker_that_does_not_prepare_by_the_deadline_aborts_the_reload_everywhere(
    celery_fleet,
):
    w1, w2 = celery_fleet.workers
    (celery_fleet.marks / f"hang-{w2.pid}").touch()
    edit(celery_fleet, "new", HANGS_IN_MARKED)

    with pytest.raises(ReloadError) as caught:
        reload_server.celery.reimport(celery_fleet.app, "ctasks", deadline=10.0)

    outcomes = dict(caught.value.processes)
    assert outcomes[w2.node]["phase"] == "deadline"
    assert outcomes[w1.node]["status"] == "failed"  # prepared, then aborted
    w1.restart_pool(celery_fleet.tasks.probe)
    assert versions(celery_fleet) == {w1.node: {"old"}, w2.node: {"old"}}
    assert celery_fleet.tasks.probe.apply().get()[0] == "old"


def test_the_cli_reloads_every_worker_and_reports_each(celery_fleet):
    w1, w2 = celery_fleet.workers
    edit(celery_fleet, "new")

    done = cli("--celery", "capp:app", str(celery_fleet.path), cwd=celery_fleet.project.root)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{w1.node}: reloaded ctasks" in done.stdout
    assert f"{w2.node}: reloaded ctasks" in done.stdout
    assert versions(celery_fleet) == {w1.node: {"new"}, w2.node: {"new"}}


def test_the_cli_exits_1_naming_the_worker_where_the_edit_failed(celery_fleet):
    w1, w2 = celery_fleet.workers
    (celery_fleet.marks / f"fail-{w1.pid}").touch()
    edit(celery_fleet, "new", FAILS_IN_MARKED)

    done = cli("--celery", "capp:app", str(celery_fleet.path), cwd=celery_fleet.project.root)

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"[{w1.node}] RuntimeError: refused in pid {w1.pid}" in done.stdout
    assert f"{w1.node}: reload failed" in done.stdout
    assert versions(celery_fleet) == {w1.node: {"old"}, w2.node: {"old"}}


def worker_elsewhere(fleet_: SimpleNamespace, name: str, ship_source: bool) -> CeleryWorker:
    """A worker of the same app whose files are a copy of the project's, as on another machine."""
    root = fleet_.project.root.parent / f"elsewhere-{name}"
    root.mkdir()
    app_source = (fleet_.project.root / "capp.py").read_text()
    if ship_source:
        app_source = app_source.replace("install(app)", "install(app, ship_source=True)")
    (root / "capp.py").write_text(app_source)
    (root / "ctasks.py").write_text((fleet_.project.root / "ctasks.py").read_text())
    return CeleryWorker(fleet_.app, "capp", name, root)


def test_a_worker_compiles_its_own_files_not_the_source_sent_with_the_reload(celery_fleet):
    far = worker_elsewhere(celery_fleet, "w3", ship_source=False)
    try:
        far.wait_ready()
        edit(celery_fleet, "new")

        reload_server.celery.reimport(celery_fleet.app, "ctasks")

        assert set(far.run_everywhere(celery_fleet.tasks.probe).values()) == {"old"}
        assert set(celery_fleet.workers[0].run_everywhere(celery_fleet.tasks.probe).values()) == {
            "new"
        }
    finally:
        far.stop()


def test_a_worker_installed_with_ship_source_runs_the_text_sent_with_the_reload(celery_fleet):
    far = worker_elsewhere(celery_fleet, "w3", ship_source=True)
    try:
        far.wait_ready()
        edit(celery_fleet, "new")

        reload_server.celery.reimport(celery_fleet.app, "ctasks")

        assert set(far.run_everywhere(celery_fleet.tasks.probe).values()) == {"new"}
    finally:
        far.stop()


# -- registered tasks in one process (no broker needed) --------------------------

LOCAL_APP = """
from celery import Celery

import reload_server.celery

app = Celery("lapp", broker="memory://")
member = reload_server.celery.install(app)
"""


@pytest.fixture
def local_app(project) -> Iterator[SimpleNamespace]:
    project.write("lapp.py", LOCAL_APP)
    import lapp

    fleet.leave(lapp.member)  # no workers: this process's reloads stay its own
    try:
        yield SimpleNamespace(app=lapp.app, project=project)
    finally:
        lapp.app.close()


def test_a_reloaded_task_module_gives_the_registered_task_the_new_function(local_app):
    local_app.project.write(
        "ltasks.py", "from lapp import app\n\n@app.task\ndef double(x):\n    return 2 * x\n"
    )
    import ltasks

    registered = local_app.app.tasks["ltasks.double"]
    local_app.project.write(
        "ltasks.py", "from lapp import app\n\n@app.task\ndef double(x):\n    return x + x + 1\n"
    )

    reload_server.reimport("ltasks")

    assert local_app.app.tasks["ltasks.double"] is registered
    assert registered.apply((3,)).get() == 7
    assert ltasks.double(3) == 7


def test_a_task_added_by_an_edit_that_fails_is_not_registered(local_app):
    local_app.project.write("ltasks.py", "from lapp import app\n")
    import ltasks  # noqa: F401

    local_app.project.write(
        "ltasks.py",
        "from lapp import app\n\n@app.task\ndef added():\n    return 1\n\nraise RuntimeError('no')\n",
    )

    with pytest.raises(ReloadError):
        reload_server.reimport("ltasks")

    assert "ltasks.added" not in local_app.app.tasks
