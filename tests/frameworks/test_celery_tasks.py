"""Celery: the task objects held before a reload run the new code (reload_server/adapters/celery.py).

No broker: each test holds the task object ``@app.task`` returned at import
(or ``app.tasks[name]``), as a producer, a beat process or a test does, and
runs it eagerly with ``apply()`` after the reload.

Celery is imported by each test's modules, not by this file: the ``project``
fixture then takes it out of ``sys.modules`` with them, and each test starts
from a fresh Celery, whose global constructors of tasks (run for every app
finalized later) know no module of an earlier test.
"""

from __future__ import annotations

import pytest

from reload_server import ReloadError, reimport

APP = """
from celery import Celery

app = Celery("capp", broker="memory://", backend="cache+memory://")
"""

TASKS = """
from capp import app

@app.task
def add(x, y):
    return x + y

@app.task
def double(x):
    return 2 * x
"""

# One module that makes its app and its tasks: a whole re-run makes the app anew.
APP_AND_TASKS = """
from celery import Celery

app = Celery("solo", broker="memory://", backend="cache+memory://")

@app.task
def greet(who):
    return f"hello {who}"
"""

SHARED = """
from celery import shared_task

@shared_task
def mul(x, y):
    return x * y
"""

RETRIES = """
from capp import app

attempts = []

@app.task(bind=True, autoretry_for=(ValueError,), max_retries=1, default_retry_delay=0)
def flaky(self):
    attempts.append(self.request.retries)
    raise ValueError("again")
"""


def run(task, *args: object) -> object:
    return task.apply(args=args).get(disable_sync_subtasks=False, propagate=False)


@pytest.fixture
def tasks(project):
    """The app and the tasks module, each task already run once through the object held."""
    capp = project.module("capp", APP)
    ctasks = project.module("ctasks", TASKS)
    assert run(ctasks.add, 1, 2) == 3
    return capp.app, ctasks


@pytest.mark.parametrize("full", [False, True], ids=["changed-only", "full"])
def test_a_held_task_runs_its_edited_body(project, tasks, full):
    app, ctasks = tasks
    held = ctasks.add
    project.edit("ctasks", TASKS.replace("return x + y", "return x + y + 100"))
    reimport("ctasks", full=full)
    assert (run(held, 1, 2), run(app.tasks["ctasks.add"], 1, 2)) == (103, 103)


def test_a_task_the_edit_left_alone_stays_registered_as_it_was(project, tasks):
    app, ctasks = tasks
    untouched = app.tasks["ctasks.double"]
    project.edit("ctasks", TASKS.replace("return x + y", "return x + y + 100"))
    reimport("ctasks")
    assert (app.tasks["ctasks.double"] is untouched, run(untouched, 4)) == (True, 8)


def test_the_registered_task_is_the_one_held_before_the_reload(project, tasks):
    app, ctasks = tasks
    registered = app.tasks["ctasks.add"]
    project.edit("ctasks", TASKS.replace("return x + y", "return x - y"))
    reimport("ctasks")
    assert app.tasks["ctasks.add"] is registered and run(registered, 5, 2) == 3


def test_a_task_the_edit_adds_is_registered(project, tasks):
    app, _ = tasks
    project.edit("ctasks", TASKS + "\n@app.task\ndef triple(x):\n    return 3 * x\n")
    reimport("ctasks")
    assert run(app.tasks["ctasks.triple"], 2) == 6


def test_a_task_the_edit_removes_is_unregistered(project, tasks):
    app, _ = tasks
    project.edit("ctasks", TASKS.split("@app.task\ndef double")[0])
    reimport("ctasks")
    assert ("ctasks.double" in app.tasks, "ctasks.add" in app.tasks) == (False, True)


def test_a_held_task_is_registered_under_its_new_name(project, tasks):
    app, ctasks = tasks
    held = app.tasks["ctasks.add"]
    project.edit(
        "ctasks", TASKS.replace("@app.task\ndef add", '@app.task(name="sums.add")\ndef add')
    )
    reimport("ctasks")
    assert (app.tasks["sums.add"] is held, held.name, "ctasks.add" in app.tasks) == (
        True,
        "sums.add",
        False,
    )


def test_a_held_task_is_given_itself_once_bind_is_added(project, tasks):
    _, ctasks = tasks
    held = ctasks.double
    project.edit(
        "ctasks",
        TASKS.replace(
            "@app.task\ndef double(x):\n    return 2 * x",
            "@app.task(bind=True)\ndef double(self, x):\n    return f'{self.name}: {2 * x}'",
        ),
    )
    reimport("ctasks")
    assert run(held, 4) == "ctasks.double: 8"


def test_a_held_task_retries_as_often_as_its_new_max_retries(project, tasks):
    app, _ = tasks
    retries = project.module("retries", RETRIES)
    held = retries.flaky
    run(held)
    assert retries.attempts == [0, 1]
    project.edit("retries", RETRIES.replace("max_retries=1", "max_retries=3"))
    reimport("retries")
    retries.attempts.clear()
    run(held)
    assert retries.attempts == [0, 1, 2, 3]


def test_a_failed_edit_leaves_the_held_task_running_its_old_code(project, tasks):
    app, ctasks = tasks
    held = ctasks.add
    project.edit(
        "ctasks",
        TASKS.replace("return x + y", "return x * y")
        + "\n@app.task\ndef triple(x):\n    return 3 * x\n\nraise RuntimeError('broken')\n",
    )
    with pytest.raises(ReloadError):
        reimport("ctasks")
    assert (run(held, 2, 5), "ctasks.triple" in app.tasks) == (7, False)


def test_a_refused_edit_keeps_the_old_tasks_registered_as_they_were(project, tasks):
    app, ctasks = tasks
    registered = dict(app.tasks)
    project.edit(
        "ctasks",
        TASKS.replace("@app.task\ndef add", '@app.task(name="sums.add")\ndef add').replace(
            "return x + y", "return x * y"
        )
        + "\ndef __reload_check__(module):\n    raise RuntimeError('refused')\n",
    )
    with pytest.raises(ReloadError, match="refused"):
        reimport("ctasks")
    assert (dict(app.tasks) == registered, run(registered["ctasks.add"], 2, 5)) == (True, 7)


def test_a_held_shared_task_runs_its_edited_body(project, tasks):
    app, _ = tasks
    shared = project.module("shared", SHARED)
    held = shared.mul
    assert run(held, 2, 3) == 6
    project.edit("shared", SHARED.replace("return x * y", "return x * y * 10"))
    reimport("shared")
    assert (run(held, 2, 3), run(app.tasks["shared.mul"], 2, 3)) == (60, 60)


def test_a_module_that_makes_its_app_again_keeps_the_app_its_tasks_run_on(project):
    solo = project.module("solo", APP_AND_TASKS)
    app, held = solo.app, solo.greet
    assert run(held, "you") == "hello you"
    project.edit("solo", APP_AND_TASKS.replace('f"hello {who}"', 'f"hi {who}"'))
    reimport("solo", full=True)
    assert (solo.app is app, held.app is app, run(app.tasks["solo.greet"], "you")) == (
        True,
        True,
        "hi you",
    )


def test_a_remade_app_with_another_broker_is_refused(project):
    solo = project.module("solo", APP_AND_TASKS)
    held = solo.greet
    project.edit(
        "solo",
        APP_AND_TASKS.replace('broker="memory://"', 'broker="memory://other"').replace(
            'f"hello {who}"', 'f"hi {who}"'
        ),
    )
    with pytest.raises(ReloadError, match="broker_url"):
        reimport("solo", full=True)
    assert run(held, "you") == "hello you"
