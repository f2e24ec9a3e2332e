"""An edit inside one function body, after a first reload: the new code without compiling the file.

Each test reloads once (so the reload knows the code and bytes the module
runs), then makes the edit under test.
"""

from __future__ import annotations

import traceback

import pytest

from reload_server import ReloadError, reimport

COUNTER = "calls = []\ndef deco(f):\n    calls.append(f.__name__)\n    return f\n"


def _loaded(project, name: str, source: str, first: str, second: str):
    """``name`` imported with ``first`` filled in, then reloaded with ``second``."""
    module = project.module(name, source.format(first))
    project.edit(name, source.format(second))
    reimport(name)
    return module


def test_an_edited_function_body_runs_in_old_references_without_rerunning_anything_else(project):
    deco = project.module("deco", COUNTER)
    source = "from deco import deco\nSEEN = []\nSEEN.append(1)\n@deco\ndef f():\n    return {!r}\n"
    m = _loaded(project, "m", source, "one", "two")
    held, calls, seen = m.f, list(deco.calls), m.SEEN
    project.edit("m", source.format("three"))
    reimport("m")
    assert held() == "three" and m.f is held
    assert deco.calls == calls and m.SEEN is seen and seen == [1]


def test_an_edited_method_body_runs_in_old_instances_without_rerunning_the_class(project):
    deco = project.module("deco", COUNTER)
    source = (
        "from deco import deco\n@deco\nclass K:\n    def m(self):\n        return {!r}\n"
        "    def __private(self):\n        return 0\n"
    )
    m = _loaded(project, "m", source, "one", "two")
    obj, calls = m.K(), list(deco.calls)
    project.edit("m", source.format("three"))
    reimport("m")
    assert obj.m() == "three" and type(obj) is m.K
    assert deco.calls == calls


def test_a_method_calling_super_keeps_working_after_its_body_is_edited(project):
    source = (
        "class Base:\n    def m(self):\n        return 'base'\n"
        "class K(Base):\n    def m(self):\n        return ({!r}, super().m())\n"
    )
    m = _loaded(project, "m", source, "one", "two")
    obj = m.K()
    project.edit("m", source.format("six"))
    reimport("m")
    assert obj.m() == ("six", "base")


def test_an_edited_default_next_to_an_edited_body_runs_the_def_again(project):
    source = "def f(x={}):\n    return x, {!r}\n"
    m = project.module("m", source.format(1, "a"))
    project.edit("m", source.format(1, "b"))
    reimport("m")
    project.edit("m", source.format(2, "c"))
    reimport("m")
    assert m.f() == (2, "c")


def test_an_edited_decorator_argument_registers_the_function_again(project):
    deco = project.module(
        "deco", "calls = []\ndef deco(tag):\n    return lambda f: calls.append(tag) or f\n"
    )
    source = "from deco import deco\n@deco({!r})\ndef f():\n    return {!r}\n"
    m = project.module("m", source.format("a", 1))
    project.edit("m", source.format("a", 2))
    reimport("m")
    project.edit("m", source.format("b", 3))
    reimport("m")
    assert deco.calls[-1] == "b" and m.f() == 3


def test_a_body_edit_that_adds_lines_runs_the_new_code(project):
    source = "def f():\n{}\n\ndef g():\n    return 'g'\n"
    m = _loaded(project, "m", source, "    return 1", "    return 2")
    held = m.f
    project.edit("m", source.format("    x = 3\n    return x"))
    reimport("m")
    assert held() == 3 and m.g() == "g"


def test_a_body_edit_that_removes_lines_runs_the_new_code(project):
    source = "def f():\n{}\n\ndef g():\n    return 'g'\n"
    m = _loaded(project, "m", source, "    x = 1\n    return x", "    x = 2\n    return x")
    held = m.f
    project.edit("m", source.format("    return 3"))
    reimport("m")
    assert held() == 3 and m.g() == "g"


def test_after_an_edit_adding_lines_an_edit_below_it_reports_the_file_s_lines(project):
    source = "def f():\n{}\n\n\ndef g():\n    y = 1\n    {}\n"
    m = _loaded(project, "m", source.format("    return 1", "{}"), "return y", "return y + 1")
    project.edit("m", source.format("    x = 2\n    x += 1\n    return x", "return y + 1"))
    reimport("m")
    project.edit("m", source.format("    x = 2\n    x += 1\n    return x", "raise ValueError(y)"))
    reimport("m")
    with pytest.raises(ValueError) as raised:
        m.g()
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (last.lineno, last.line) == (9, "raise ValueError(y)")
    assert m.f() == 3


def test_a_method_edit_adding_lines_keeps_the_methods_below_it_working(project):
    source = (
        "class Base:\n    def m(self):\n        return 'base'\n\n"
        "class K(Base):\n    def a(self):\n{}\n\n    def m(self):\n        return super().m()\n"
    )
    m = _loaded(project, "m", source, "        return 1", "        return 2")
    obj = m.K()
    project.edit("m", source.format("        x = 3\n        return x"))
    reimport("m")
    assert (obj.a(), obj.m()) == (3, "base")


def test_a_traceback_from_an_edited_body_shows_the_file_s_line(project):
    source = "X = 1\n\n\ndef f():\n    y = 1\n    {}\n"
    m = _loaded(project, "m", source, "return y", "return y + 1")
    project.edit("m", source.format("raise ValueError(y)"))
    reimport("m")
    with pytest.raises(ValueError) as raised:
        m.f()
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (last.lineno, last.line) == (6, "raise ValueError(y)")


def test_an_edited_nested_function_runs_in_closures_made_before(project):
    source = "def outer():\n    def inner():\n        return {!r}\n    return inner\n"
    m = _loaded(project, "m", source, "one", "two")
    made = m.outer()
    project.edit("m", source.format("three"))
    reimport("m")
    assert made() == "three" and m.outer()() == "three"


def test_a_failed_check_after_a_body_edit_keeps_the_old_body_and_the_next_edit_works(project):
    source = (
        "def f():\n    return {!r}\n\n"
        "def __reload_check__(module):\n    assert module.f() != 'bad'\n"
    )
    m = _loaded(project, "m", source, "one", "two")
    held = m.f
    project.edit("m", source.format("bad"))
    with pytest.raises(ReloadError):
        reimport("m")
    assert held() == "two"
    project.edit("m", source.format("four"))
    reimport("m")
    assert held() == "four" and m.f is held


def test_a_function_replaced_at_run_time_gets_the_edited_definition(project):
    source = "def f():\n    return {!r}\n"
    m = _loaded(project, "m", source, "one", "two")
    m.f = lambda: "patched"
    project.edit("m", source.format("three"))
    reimport("m")
    assert m.f() == "three"


def test_full_runs_the_whole_module_after_a_body_edit(project):
    log = project.module("log", "events = []\n")
    source = "import log\nlog.events.append('ran')\ndef f():\n    return {!r}\n"
    m = _loaded(project, "m", source, "one", "two")
    runs = len(log.events)
    project.edit("m", source.format("three"))
    reimport("m", full=True)
    assert len(log.events) == runs + 1 and m.f() == "three"
