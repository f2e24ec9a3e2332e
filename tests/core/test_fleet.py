"""A reload across processes is all or nothing (core/fleet.py), with real child processes."""

from __future__ import annotations

import os
import sys

import pytest
from support.fleet import PartProcess

from reload_server import ReloadError, reimport
from reload_server.core import fleet

OLD = "def f():\n    return 'old'\n"


@pytest.fixture
def parts(project):
    started: list[PartProcess] = []

    def start(count: int, *modules: str, bytecode: bool = False) -> list[PartProcess]:
        for _ in range(count):
            started.append(PartProcess(project.root, *modules, bytecode=bytecode))
        return started[-count:]

    yield start
    for part in started:
        part.close()


def fails_in(pid: int) -> str:
    return f"import os\nif os.getpid() == {pid}:\n    raise RuntimeError('broken here')\n"


def test_a_good_edit_reaches_every_process(project, parts):
    m = project.module("m", OLD)
    children = parts(2, "m")
    project.edit("m", "def f():\n    return 'new'\n")
    fleet.reimport_across(["m"], children)
    assert [m.f()] + [c.eval("m.f()") for c in children] == ["new"] * 3


def test_a_fleet_result_names_every_process(project, parts):
    project.module("m", OLD)
    children = parts(2, "m")
    project.edit("m", "def f():\n    return 'new'\n")
    result = fleet.reimport_across(["m"], children)
    assert set(result.by_process) == {fleet.local_name()} | {c.name for c in children}


def test_an_edit_failing_in_one_process_leaves_every_process_on_the_old_code(project, parts):
    m = project.module("m", OLD)
    children = parts(2, "m")
    project.edit("m", fails_in(children[1].proc.pid) + "def f():\n    return 'new'\n")
    with pytest.raises(ReloadError):
        fleet.reimport_across(["m"], children)
    assert [m.f()] + [c.eval("m.f()") for c in children] == ["old"] * 3


def test_the_error_names_the_process_that_failed(project, parts):
    project.module("m", OLD)
    children = parts(2, "m")
    project.edit("m", fails_in(children[1].proc.pid) + "def f():\n    return 'new'\n")
    with pytest.raises(ReloadError) as info:
        fleet.reimport_across(["m"], children)
    assert info.value.notes[0].message.startswith(f"[{children[1].name}] RuntimeError: broken")


def test_an_edit_failing_here_leaves_the_other_processes_on_the_old_code(project, parts):
    project.module("m", OLD)
    children = parts(1, "m")
    project.edit("m", fails_in(os.getpid()) + "def f():\n    return 'new'\n")
    with pytest.raises(ReloadError):
        fleet.reimport_across(["m"], children)
    assert children[0].eval("m.f()") == "old"


def test_a_process_that_hangs_in_prepare_aborts_the_reload_at_the_deadline(project, parts):
    m = project.module("m", OLD)
    children = parts(2, "m")
    gate = project.root / "gate"
    hang = (
        f"import os, time\nif os.getpid() == {children[0].proc.pid}:\n"
        f"    while not os.path.exists({str(gate)!r}):\n        time.sleep(0.05)\n"
    )
    project.edit("m", hang + "def f():\n    return 'new'\n")
    try:
        with pytest.raises(ReloadError) as info:
            fleet.reimport_across(["m"], children, deadline=3.0)
        assert info.value.phase == "deadline"
        assert [m.f(), children[1].eval("m.f()")] == ["old", "old"]
    finally:
        gate.touch()


def test_the_hung_process_rolls_back_by_itself_once_unblocked(project, parts):
    project.module("m", OLD)
    children = parts(1, "m")
    gate = project.root / "gate"
    hang = (
        f"import os, time\nif os.getpid() == {children[0].proc.pid}:\n"
        f"    while not os.path.exists({str(gate)!r}):\n        time.sleep(0.05)\n"
    )
    project.edit("m", hang + "def f():\n    return 'new'\n")
    with pytest.raises(ReloadError):
        fleet.reimport_across(["m"], children, deadline=2.0)
    gate.touch()
    # Its own deadline has passed: when its prepare ends, it aborts instead of waiting,
    # and releases the reload lock it held since the prepare began.
    lock = "__import__('reload_server.core.transaction', fromlist=['_']).reload_lock"
    assert children[0].eval(f"({lock}.acquire(timeout=60), {lock}.release())[0]") is True
    assert children[0].eval("m.f()") == "old"
    assert children[0].eval("__import__('reload_server').core.fleet._pending == {}") in (
        True,
        False,
    )


def test_after_join_a_plain_reimport_reloads_the_members_too(project, parts):
    m = project.module("m", OLD)
    children = parts(1, "m")
    project.edit("m", "def f():\n    return 'new'\n")
    fleet.join(children[0])
    try:
        reimport("m")
    finally:
        fleet.leave(children[0])
    assert [m.f(), children[0].eval("m.f()")] == ["new", "new"]


def test_shipped_text_wins_over_a_process_file(project, parts, tmp_path):
    other = tmp_path / "other_host"
    other.mkdir()
    (other / "m.py").write_text(OLD)
    project.module("m", OLD)
    child = PartProcess(other, "m")
    try:
        project.edit("m", "def f():\n    return 'new'\n")
        fleet.reimport_across(["m"], [child])
        assert child.eval("m.f()") == "new"
    finally:
        child.close()


def test_a_module_imported_after_the_reload_comes_from_the_shipped_text(project, parts, tmp_path):
    other = tmp_path / "other_host"
    other.mkdir()
    (other / "m.py").write_text(OLD)
    project.module("m", OLD)
    child = PartProcess(other)
    try:
        project.edit("m", "def f():\n    return 'new'\n")
        fleet.reimport_across(["m"], [child])
        assert child.eval("__import__('m').f()") == "new"
    finally:
        child.close()


def test_full_runs_the_whole_module_in_every_process(project, parts):
    m = project.module("m", "TOKEN = object()\n" + OLD)
    children = parts(2, "m")
    tokens = [id(m.TOKEN)] + [c.eval("id(m.TOKEN)") for c in children]
    project.edit("m", "TOKEN = object()\ndef f():\n    return 'new'\n")

    fleet.reimport_across(["m"], children, full=True)

    after = [id(m.TOKEN)] + [c.eval("id(m.TOKEN)") for c in children]
    assert [a != b for a, b in zip(after, tokens)] == [True] * 3
    assert [m.f()] + [c.eval("m.f()") for c in children] == ["new"] * 3


def test_without_full_an_unchanged_statement_runs_in_no_process(project, parts, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as for most users: see PartProcess
    m = project.module("m", "TOKEN = object()\n" + OLD)
    children = parts(2, "m", bytecode=True)
    tokens = [id(m.TOKEN)] + [c.eval("id(m.TOKEN)") for c in children]
    project.edit("m", "TOKEN = object()\ndef f():\n    return 'new'\n")

    fleet.reimport_across(["m"], children)

    assert [id(m.TOKEN)] + [c.eval("id(m.TOKEN)") for c in children] == tokens
