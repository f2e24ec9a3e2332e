"""Edits that arrive in steps (an editor that truncates, then writes): specification tests.

A reload may run on an empty or half-written file, and then again on the
whole file.  What the program held since start-up must run the final code.
"""

from __future__ import annotations

import sys

import pytest

from reload_server import ReloadError, reimport

FULL = "def f():\n    return 'f1'\nclass C:\n    def hello(self):\n        return 'hello1'\n"
FINAL = "def f():\n    return 'f2'\nclass C:\n    def hello(self):\n        return 'hello2'\n"


def _truncate_then_write(project, name: str, final: str, partial: str = "") -> None:
    project.edit(name, partial)
    reimport(name)
    project.edit(name, final)
    reimport(name)


def test_a_from_import_copy_runs_the_final_code_after_an_empty_file_then_the_full_one(project):
    project.module("m", FULL)
    consumer = project.module("consumer", "from m import f\n")
    _truncate_then_write(project, "m", FINAL)
    assert consumer.f() == "f2"


def test_a_from_import_copy_is_the_module_s_function_again_after_it_comes_back(project):
    m = project.module("m", FULL)
    consumer = project.module("consumer", "from m import f\n")
    _truncate_then_write(project, "m", FINAL)
    assert consumer.f is m.f


def test_an_instance_made_at_start_up_runs_the_final_methods_after_a_half_written_file(project):
    m = project.module("m", FULL)
    obj = m.C()
    _truncate_then_write(project, "m", FINAL, partial="def f():\n    return 'f1'\n")
    assert obj.hello() == "hello2"


def test_an_instance_made_at_start_up_is_an_instance_of_the_class_that_came_back(project):
    m = project.module("m", FULL)
    obj = m.C()
    _truncate_then_write(project, "m", FINAL)
    assert isinstance(obj, m.C)


def test_a_callback_in_a_list_runs_the_final_code_after_a_truncated_reload(project):
    m = project.module("m", FULL)
    callbacks = [m.f]
    _truncate_then_write(project, "m", FINAL)
    assert callbacks[0]() == "f2"


def test_a_function_removed_by_one_edit_and_restored_two_edits_later_is_the_original(project):
    m = project.module("m", FULL)
    original = m.f
    project.edit("m", "class C:\n    pass\n")
    reimport("m")
    project.edit("m", "class C:\n    x = 1\n")
    reimport("m")
    project.edit("m", FINAL)
    reimport("m")
    assert m.f is original


def test_a_failed_reload_after_a_removal_leaves_the_removed_function_revivable(project):
    m = project.module("m", FULL)
    held = m.f
    project.edit("m", "")
    reimport("m")
    project.edit("m", FINAL + "raise RuntimeError('half-way')\n")
    with pytest.raises(ReloadError):
        reimport("m")
    project.edit("m", FINAL)
    reimport("m")
    assert held() == "f2"


def test_a_module_imported_afresh_does_not_revive_the_functions_of_its_previous_copy(project):
    m = project.module("m", FULL)
    old_f = m.f
    project.edit("m", "")
    reimport("m")
    del sys.modules["m"]
    fresh = project.module("m")
    project.edit("m", FINAL)
    reimport("m")
    assert fresh.f is not old_f
