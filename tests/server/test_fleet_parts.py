"""A sibling's part of a fleet reload, over the wire: ``reloadServer/prepare`` runs the new
code and holds it, ``reloadServer/finish`` commits it or rolls it back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from support.sources import write_source
from support.waits import TIMEOUT, wait_until

from reload_server.wire.client import LspClient, RpcError

LABEL = 'def label():\n    return "v1"\n'
LABEL_V2 = 'def label():\n    return "v2"\n'
LABEL_RAISES = 'def label():\n    return "v2"\n\n\nraise RuntimeError("not in this process")\n'


@pytest.fixture(scope="module")
def shared(shared_app_factory):
    # Imports write .pyc files, as they do for most users: a first reload then
    # knows the code each module ran and re-runs only what changed.
    return shared_app_factory(env={"PYTHONDONTWRITEBYTECODE": ""})


@pytest.fixture
def labels(shared):
    """A module of the app, and ``HELD_<name>``: its function, held by the app since before."""
    module = shared.add_module(LABEL, "labels")
    shared.exec(f"import {module.name}; HELD_{module.name} = {module.name}.label")
    return module


@pytest.fixture
def editor(shared):
    with LspClient(*shared.address, timeout=TIMEOUT) as client:
        client.initialize()
        yield client


def held(module) -> str:
    return module.app.eval(f"HELD_{module.name}()")


def lock_free(app) -> bool:
    """No reload holds the app's reload lock (a held part keeps it until it ends)."""
    return app.eval(
        "(lambda lock: lock.acquire(blocking=False) and (lock.release() or True))"
        "(__import__('reload_server').core.transaction.reload_lock)"
    )


def prepare(editor, module, reload_id: str, deadline: float = TIMEOUT, full: bool = False) -> dict:
    params = {"reloadId": reload_id, "modules": [module.name], "deadline": deadline}
    return editor.request("reloadServer/prepare", {**params, "full": full})


def finish(editor, reload_id: str, commit: bool) -> dict:
    return editor.request("reloadServer/finish", {"reloadId": reload_id, "commit": commit})


def test_between_prepare_and_commit_a_held_function_whose_body_changed_runs_the_new_body(
    shared, labels, editor
):
    labels.write(LABEL_V2)
    reload_id = uuid.uuid4().hex

    prepared = prepare(editor, labels, reload_id)
    looked_up, kept = labels.eval("label()"), held(labels)
    finish(editor, reload_id, commit=False)

    assert (prepared["status"], prepared["modules"]) == ("prepared", [labels.name])
    assert (looked_up, kept) == ("v2", "v2")


def test_between_prepare_and_commit_a_function_made_anew_is_new_only_through_the_module(
    shared, labels, editor
):
    labels.write(LABEL_V2.replace("label():", "label(unused=None):"))
    reload_id = uuid.uuid4().hex

    prepare(editor, labels, reload_id)
    looked_up, kept = labels.eval("label()"), held(labels)
    finish(editor, reload_id, commit=False)

    assert (looked_up, kept) == ("v2", "v1")


def test_a_part_asked_for_full_runs_the_whole_module(shared, labels, editor):
    labels.write(LABEL_V2)
    reload_id = uuid.uuid4().hex

    prepare(editor, labels, reload_id, full=True)
    looked_up, kept = labels.eval("label()"), held(labels)
    finish(editor, reload_id, commit=True)

    # Run whole, the def made a new function: the held one follows only at the commit.
    assert (looked_up, kept) == ("v2", "v1")
    assert held(labels) == "v2"


def test_finish_with_commit_makes_the_held_function_run_the_new_code(shared, labels, editor):
    labels.write(LABEL_V2)
    reload_id = uuid.uuid4().hex
    prepare(editor, labels, reload_id)

    final = finish(editor, reload_id, commit=True)

    assert final["status"] == "reloaded"
    assert final["modules"] == [labels.name]
    assert final["message"].startswith(f"reloaded {labels.name} in ")
    assert (labels.eval("label()"), held(labels)) == ("v2", "v2")


def test_finish_with_abort_leaves_the_old_code_everywhere(shared, labels, editor):
    labels.write(LABEL_V2)
    reload_id = uuid.uuid4().hex
    prepare(editor, labels, reload_id)

    final = finish(editor, reload_id, commit=False)

    assert final["status"] == "failed"
    assert final["phase"] == "abort"
    assert final["rolledBack"] is True
    assert (labels.eval("label()"), held(labels)) == ("v1", "v1")


def test_a_part_given_no_decision_by_its_deadline_rolls_back_by_itself(shared, labels, editor):
    labels.write(LABEL_V2)
    reload_id = uuid.uuid4().hex
    prepare(editor, labels, reload_id, deadline=0.5)

    wait_until(lambda: lock_free(shared), what="the part to end at its deadline")
    late = finish(editor, reload_id, commit=True)

    assert late["status"] == "failed"
    assert "no decision came within the deadline" in late["message"]
    assert (labels.eval("label()"), held(labels)) == ("v1", "v1")


def test_a_part_whose_new_code_raises_answers_prepare_with_the_failure(shared, labels, editor):
    labels.write(LABEL_RAISES)
    reload_id = uuid.uuid4().hex

    answer = prepare(editor, labels, reload_id)

    assert answer["status"] == "failed"
    assert answer["phase"] == "import"
    assert answer["message"].startswith(f"{labels.name} not reloaded: RuntimeError")
    assert answer["notes"][0]["line"] == 5
    # Not told yet: the coordinator adds "the old code is still running" once, itself.
    assert answer["notes"][0]["message"] == "RuntimeError: not in this process"
    assert (labels.eval("label()"), held(labels)) == ("v1", "v1")


def test_a_reload_aborted_before_its_part_started_never_prepares(shared, labels, editor):
    labels.write(LABEL_V2)
    reload_id = uuid.uuid4().hex

    early = finish(editor, reload_id, commit=False)
    answer = prepare(editor, labels, reload_id)

    assert early["status"] == "failed"
    assert answer["status"] == "failed"
    assert answer["phase"] == "abort"
    assert (labels.eval("label()"), held(labels)) == ("v1", "v1")


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("reloadServer/prepare", {"modules": ["x"]}),
        ("reloadServer/prepare", {"reloadId": "r", "modules": "x"}),
        ("reloadServer/prepare", {"reloadId": "r", "deadline": -1}),
        ("reloadServer/prepare", {"reloadId": "r", "stale": {"roots": "src"}}),
        ("reloadServer/prepare", {"reloadId": "r", "full": "yes"}),
        ("reloadServer/finish", {"reloadId": "r"}),
        ("reloadServer/finish", ["r", True]),
    ],
)
def test_fleet_requests_of_the_wrong_shape_get_invalid_params(shared, editor, method, params):

    with pytest.raises(RpcError) as caught:
        editor.request(method, params)

    assert caught.value.code == -32602


def test_a_poll_apps_part_is_prepared_and_committed_in_its_poll(make_app):
    app = make_app({"polled.py": LABEL}, ["polled"], runner="poll")
    app.exec("HELD = polled.label")
    # The new code says which thread ran it: the app's, in poll(), not the server's.
    write_source(
        Path(app.path("polled.py")),
        f"import threading\n\nRAN_ON = threading.current_thread().name\n\n\n{LABEL_V2}",
    )
    reload_id = uuid.uuid4().hex

    with LspClient(*app.address, timeout=TIMEOUT) as editor:
        editor.initialize()
        prepared = editor.request(
            "reloadServer/prepare", {"reloadId": reload_id, "modules": ["polled"]}
        )
        final = finish(editor, reload_id, commit=True)

    assert prepared["status"] == "prepared"
    assert final["status"] == "reloaded"
    assert app.eval("(HELD(), polled.label(), polled.RAN_ON)") == ["v2", "v2", "MainThread"]
