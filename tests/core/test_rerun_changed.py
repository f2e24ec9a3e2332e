"""A reload runs only the top-level statements that changed, and what depends on them."""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import logging
import py_compile
import sys
import threading

import pytest

from reload_server import ReloadError, reimport
from reload_server.core import transaction

# Changed-only is the default; two tests below turn it off to check the other mode.
pytestmark = pytest.mark.usefixtures("bytecode_written", "changed_only")


COUNTER = "calls = []\ndef deco(f):\n    calls.append(f.__name__)\n    return f\n"


def test_an_unchanged_add_handler_line_does_not_run_again(project):
    source = (
        "import logging\n"
        "log = logging.getLogger('rerun.handler.test')\n"
        "log.addHandler(logging.NullHandler())\n"
        "def f():\n    return {}\n"
    )
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert m.f() == 2
    assert len(logging.getLogger("rerun.handler.test").handlers) == 1


def test_an_unchanged_atexit_registration_does_not_run_again(project, monkeypatch):
    registered = []
    monkeypatch.setattr("atexit.register", lambda f, *a, **k: registered.append(f) or f)
    source = "import atexit\ndef bye():\n    return {}\natexit.register(bye)\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert [f() for f in registered] == [2]
    assert registered[0] is m.bye


def test_a_thread_started_at_import_is_not_started_again_and_runs_the_new_code(project):
    source = (
        "import queue, threading\n"
        "asks, answers = queue.Queue(), queue.Queue()\n"
        "def answer():\n    return {}\n"
        "def serve():\n"
        "    while asks.get() is not None:\n"
        "        answers.put(answer())\n"
        "WORKER = threading.Thread(target=serve, daemon=True)\n"
        "WORKER.start()\n"
    )
    m = project.module("m", source.format(1))
    worker = m.WORKER
    project.edit("m", source.format(2))
    reimport("m")
    m.asks.put("go")
    try:
        assert (m.answers.get(timeout=30), m.WORKER) == (2, worker)
        assert [t for t in threading.enumerate() if t.name == worker.name] == [worker]
    finally:
        m.asks.put(None)


def test_an_unchanged_append_to_another_module_s_list_does_not_run_again(project):
    reg = project.module("reg", "HANDLERS = []\n")
    source = "import reg\ndef f():\n    return {}\nreg.HANDLERS.append(f)\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert [h() for h in reg.HANDLERS] == [2]
    assert reg.HANDLERS[0] is m.f


def test_an_unchanged_sentinel_keeps_its_identity(project):
    source = "_MISSING = object()\ndef get(d, k):\n    return d.get(k, _MISSING), {}\n"
    m = project.module("m", source.format(1))
    sentinel = m._MISSING
    project.edit("m", source.format(2))
    reimport("m")
    assert m._MISSING is sentinel
    assert m.get({}, "x") == (sentinel, 2)


def test_a_changed_function_body_runs_in_old_references_without_rerunning_its_decorator(project):
    deco = project.module("deco", COUNTER)
    source = "from deco import deco\n@deco\ndef f():\n{}\n"
    m = project.module("m", source.format("    return 'old'"))
    held = m.f
    project.edit("m", source.format("    x = 'new'\n    return x"))
    reimport("m")
    assert held() == "new" and m.f is held
    assert deco.calls == ["f"]


def test_a_changed_method_body_does_not_run_the_class_statement_again(project):
    deco = project.module("deco", COUNTER)
    source = "from deco import deco\n@deco\nclass K:\n    def m(self):\n{}\n    LIMIT = 1\n"
    m = project.module("m", source.format("        return 'old'"))
    obj = m.K()
    project.edit("m", source.format("        x = 'new'\n        return x"))
    reimport("m")
    assert obj.m() == "new" and isinstance(obj, m.K)
    assert deco.calls == ["K"]


def test_a_changed_class_level_assignment_runs_the_class_statement_again(project):
    deco = project.module("deco", COUNTER)
    source = "from deco import deco\n@deco\nclass K:\n    LIMIT = {}\n    def m(self):\n        return self.LIMIT\n"
    m = project.module("m", source.format(1))
    obj = m.K()
    project.edit("m", source.format(2))
    reimport("m")
    assert obj.m() == 2 and isinstance(obj, m.K)
    assert deco.calls == ["K", "K"]


def test_a_statement_reading_a_changed_name_runs_again(project):
    source = 'NAME = {!r}\nGREETING = f"hi {{NAME}}"\nSHOUT = GREETING.upper()\n'
    m = project.module("m", source.format("world"))
    project.edit("m", source.format("there"))
    reimport("m")
    assert (m.GREETING, m.SHOUT) == ("hi there", "HI THERE")


def test_an_unchanged_statement_rebinding_a_changed_name_runs_again(project):
    source = "LIMIT = {}\nLIMIT = min(LIMIT, 10)\nREAD = LIMIT\n"
    m = project.module("m", source.format(5))
    project.edit("m", source.format(50))
    reimport("m")
    assert (m.LIMIT, m.READ) == (10, 10)


def test_a_new_statement_runs(project):
    log = project.module("log", "events = []\n")
    m = project.module("m", "import log\nlog.events.append('start')\n")
    project.edit("m", "import log\nlog.events.append('start')\nlog.events.append('added')\n")
    reimport("m")
    assert log.events == ["start", "added"]
    assert m.log is log


def test_a_removed_function_is_removed(project):
    m = project.module("m", "def keep():\n    return 1\ndef gone():\n    return 2\n")
    project.edit("m", "def keep():\n    return 1\n")
    reimport("m")
    assert not hasattr(m, "gone") and m.keep() == 1


def test_a_changed_decorator_argument_registers_again(project):
    reg = project.module(
        "reg",
        "ROUTES = {}\ndef route(path):\n"
        "    def deco(f):\n        ROUTES[path] = f\n        return f\n    return deco\n",
    )
    source = "from reg import route\n@route({!r})\ndef page():\n    return 'page'\n"
    m = project.module("m", source.format("/old"))
    held = m.page
    project.edit("m", source.format("/new"))
    reimport("m")
    assert reg.ROUTES["/new"] is m.page is held
    assert reg.ROUTES["/new"]() == "page"


def test_a_failing_changed_statement_rolls_back_the_function_code_edited_in_place(project):
    m = project.module("m", "def f():\n    return 'old'\nLIMIT = 1\n")
    held = m.f
    project.edit("m", "def f():\n    return 'new'\nLIMIT = 1 / 0\n")
    with pytest.raises(ReloadError) as info:
        reimport("m")
    assert info.value.rolled_back
    assert held() == "old" and m.f is held and m.LIMIT == 1


def test_a_module_asking_for_full_reloads_runs_every_statement(project):
    log = project.module("log", "events = []\n")
    source = "__reload__ = 'full'\nimport log\nlog.events.append('ran')\nX = {}\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert log.events == ["ran", "ran"] and m.X == 2


def test_full_runs_every_statement_for_one_call(project):
    log = project.module("log", "events = []\n")
    source = "import log\nlog.events.append('ran')\nX = {}\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m", full=True)
    assert log.events == ["ran", "ran"] and m.X == 2


def test_a_module_level_frozen_dataclass_instance_stays_the_same_object(project):
    source = (
        "import dataclasses\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Config:\n    port: int\n"
        "DEFAULT = Config(8080)\n"
        "def describe():\n    return {!r}\n"
    )
    m = project.module("m", source.format("old"))
    default = m.DEFAULT
    project.edit("m", source.format("new"))
    reimport("m")
    assert m.DEFAULT is default and m.describe() == "new"


def test_an_edited_lru_cached_function_forgets_the_old_answers(project):
    source = "import functools\n@functools.lru_cache(maxsize=None)\ndef f(x):\n    return x + {}\n"
    m = project.module("m", source.format(1))
    assert m.f(1) == 2
    project.edit("m", source.format(10))
    reimport("m")
    assert m.f(1) == 11


def test_a_statement_moved_into_an_if_block_counts_as_changed(project):
    log = project.module("log", "events = []\n")
    m = project.module("m", "import log\nON = True\nlog.events.append('a')\n")
    project.edit("m", "import log\nON = True\nif ON:\n    log.events.append('a')\n")
    reimport("m")
    assert log.events == ["a", "a"]
    assert m.ON is True


def test_without_the_previous_version_the_whole_module_runs_and_a_note_says_so(
    project, monkeypatch
):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    log = project.module("log", "events = []\n")
    m = project.module("m", "import log\nlog.events.append('ran')\nX = 1\n")
    project.edit("m", "import log\nlog.events.append('ran')\nX = 2\n")
    result = reimport("m")
    assert log.events == ["ran", "ran"] and m.X == 2
    assert [n.kind for n in result.notes if "ran the whole module" in n.message] == ["rerun"]


def test_a_second_edit_is_compared_with_the_code_the_first_reload_ran(project, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    log = project.module("log", "events = []\n")
    m = project.module("m", "import log\nlog.events.append('ran')\nX = 1\n")
    project.edit("m", "import log\nlog.events.append('ran')\nX = 2\n")
    reimport("m")
    project.edit("m", "import log\nlog.events.append('ran')\nX = 3\n")
    result = reimport("m")
    assert log.events == ["ran", "ran"] and m.X == 3
    assert not [n for n in result.notes if n.kind == "rerun"]


def test_without_a_pyc_the_lines_a_traceback_cached_tell_what_changed(project, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    log = project.module("log", "events = []\n")
    m = project.module("m", "import log\nlog.events.append('ran')\nX = 1\n")
    linecache.getlines(m.__file__)  # what printing a traceback through m leaves
    project.edit("m", "import log\nlog.events.append('ran')\nX = 2\n")
    result = reimport("m")
    assert log.events == ["ran"] and m.X == 2
    assert not [n for n in result.notes if n.kind == "rerun"]


def test_a_module_whose_unimport_ran_runs_whole(project):
    source = (
        "import log\n"
        "log.events.append('started')\n"
        "def __unimport__():\n    log.events.append('stopped')\n"
        "X = {}\n"
    )
    log = project.module("log", "events = []\n")
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert log.events == ["started", "stopped", "started"] and m.X == 2


def test_after_an_importlib_reload_the_code_it_ran_is_not_taken_for_the_last_reload_s(project):
    log = project.module("log", "events = []\n")
    m = project.module("m", "import log\nX = 1\n")
    project.edit("m", "import log\nX = 2\nlog.events.append('ran')\n")
    reimport("m")
    project.edit("m", "import log\nX = 3\n")
    importlib.reload(m)
    project.edit("m", "import log\nX = 4\nlog.events.append('ran')\n")
    reimport("m")
    assert log.events == ["ran", "ran"] and m.X == 4


def test_a_def_in_the_branch_not_taken_does_not_make_the_first_reload_run_whole(project):
    log = project.module("log", "events = []\n")
    source = (
        "import log\n"
        "log.events.append('ran')\n"
        "if True:\n    def f():\n        return 1\n"
        "else:\n    def f():\n        return 2\n"
        "X = {}\n"
    )
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    result = reimport("m")
    assert log.events == ["ran"] and (m.f(), m.X) == (1, 2)
    assert not [n for n in result.notes if n.kind == "rerun"]


def test_a_pyc_of_another_version_than_the_one_running_makes_the_module_run_whole(project):
    source = "X = {}\ndef f():\n    return {}\n"
    m = project.module("m", source.format(1, 1))
    # Another process compiled a later version, leaving its .pyc: not what m runs.
    project.edit("m", source.format(2, 2))
    py_compile.compile(m.__file__, cfile=importlib.util.cache_from_source(m.__file__))
    project.edit("m", source.format(2, 3))
    result = reimport("m")
    assert (m.X, m.f()) == (2, 3)
    assert [n.kind for n in result.notes if "ran the whole module" in n.message] == ["rerun"]


def test_with_whole_re_runs_as_the_default_an_unchanged_statement_runs_again(project, monkeypatch):
    monkeypatch.setattr(transaction, "CHANGED_ONLY", False)
    m = project.module("m", "runs = []\nruns.append(1)\ndef f(): return 'old'\n")
    runs = m.runs
    project.edit("m", "runs = []\nruns.append(1)\ndef f(): return 'new'\n")
    reimport("m")
    assert (m.f(), m.runs is runs) == ("new", False)


def test_with_whole_re_runs_as_the_default_a_module_opts_in_with_reload_changed(
    project, monkeypatch
):
    monkeypatch.setattr(transaction, "CHANGED_ONLY", False)
    src = "__reload__ = 'changed'\nruns = []\nruns.append(1)\n"
    m = project.module("m", src + "def f(): return 'old'\n")
    runs = m.runs
    project.edit("m", src + "def f(): return 'new'\n")
    reimport("m")
    assert (m.f(), m.runs is runs, runs) == ("new", True, [1])


def test_typing_overload_stubs_do_not_make_the_first_reload_run_whole(project):
    log = project.module("log", "events = []\n")
    source = (
        "import typing\n"
        "import log\n"
        "log.events.append('ran')\n"
        "@typing.overload\ndef f(x: int) -> int: ...\n"
        "@typing.overload\ndef f(x: str) -> str: ...\n"
        "def f(x):\n    return x\n"
        "X = {}\n"
    )
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    result = reimport("m")
    assert log.events == ["ran"] and (m.f("a"), m.X) == ("a", 2)
    assert not [n for n in result.notes if n.kind == "rerun"]


def test_an_unchanged_from_import_of_a_name_the_other_reload_rebinds_runs_again(project):
    a = project.module("a", "X = 1\n")
    b = project.module("b", "from a import X\nY = X + 1\n")
    project.edit("a", "X = 2\n")
    project.edit("b", "from a import X\nY = X + 1\nZ = 0\n")
    reimport("a", "b")
    assert (a.X, b.X, b.Y) == (2, 2, 3)


def test_an_instance_made_of_an_imported_class_the_other_reload_kept_stays_the_same_object(
    project,
):
    source = "class K:\n    def f(self):\n        return {}\n"
    project.module("a", source.format(1))
    b = project.module("b", "from a import K\nINSTANCE = K()\n")
    instance = b.INSTANCE
    project.edit("a", source.format(2))
    project.edit("b", "from a import K\nINSTANCE = K()\nZ = 0\n")
    reimport("a", "b")
    assert b.INSTANCE is instance and instance.f() == 2


def test_an_unchanged_import_from_a_module_reloaded_later_in_the_same_call_does_not_run_again(
    project,
):
    log = project.module("log", "events = []\n")
    source = (
        "import typing\n"
        "import log\n"
        "if typing.TYPE_CHECKING:\n    from b import Thing\n"
        "else:\n    Thing = None\n"
        "log.events.append(Thing)\n"
        "def f():\n    return {}\n"
    )
    a = project.module("a", source.format(1))
    project.module("b", "from a import f\nclass Thing:\n    pass\n")
    project.edit("a", source.format(2))
    project.edit("b", "from a import f\nclass Thing:\n    pass\nZ = 0\n")
    reimport("a", "b")
    assert (log.events, a.f()) == ([None], 2)


def test_a_line_added_after_a_trailing_string_keeps_the_module_docstring(project):
    m = project.module("m", '"""The module."""\nX = 1\n"""About X."""\n')
    project.edit("m", '"""The module."""\nX = 1\n"""About X."""\nY = 2\n')
    reimport("m")
    assert (m.__doc__, m.Y) == ("The module.", 2)


def test_a_def_in_an_if_not_taken_after_another_def_does_not_make_the_first_reload_run_whole(
    project,
):
    log = project.module("log", "events = []\n")
    source = (
        "import log\n"
        "log.events.append('ran')\n"
        "PYPY = False\n"
        "def f():\n    return 1\n"
        "if PYPY:\n    def f():\n        return 2\n"
        "X = {}\n"
    )
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    result = reimport("m")
    assert log.events == ["ran"] and (m.f(), m.X) == (1, 2)
    assert not [n for n in result.notes if n.kind == "rerun"]


def test_a_changed_statement_reading_a_helper_the_module_deleted_runs_with_the_whole_module(
    project,
):
    source = (
        "import operator\n"
        "WANTED = {}\n"
        "TABLE = {{n: f for n, f in vars(operator).items() if n in WANTED}}\n"
        "del WANTED\n"
        "del operator\n"
    )
    m = project.module("m", source.format("{'add'}"))
    project.edit("m", source.format("{'add', 'sub'}"))
    reimport("m")
    assert sorted(m.TABLE) == ["add", "sub"]
    assert not hasattr(m, "operator") and not hasattr(m, "WANTED")


def test_an_unchanged_statement_calling_into_a_module_that_ran_whole_runs_again(project):
    source = '__reload__ = "full"\nREGISTRY = {}\ndef register(k, v):\n    REGISTRY[k] = v\n'
    reg = project.module("reg", source)
    m = project.module("m", "import reg\nreg.register('a', 1)\ndef f():\n    return 1\n")
    project.edit("reg", source + "Z = 0\n")
    project.edit("m", "import reg\nreg.register('a', 1)\ndef f():\n    return 2\n")
    reimport("reg", "m")
    assert (reg.REGISTRY, m.f()) == ({"a": 1}, 2)
