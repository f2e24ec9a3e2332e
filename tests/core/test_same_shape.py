"""An edit of bodies, docstrings and constants only runs nothing at the top level."""

from __future__ import annotations

import traceback

import pytest

from reload_server import ReloadError, reimport

pytestmark = pytest.mark.usefixtures("bytecode_written", "changed_only")


CLASS = (
    "calls = []\n"
    "class C:\n"
    "    {!r}\n"
    "    calls.append(1)\n"
    "    def m(self):\n"
    "        return {!r}\n"
    "def __reload_check__(module):\n"
    "    assert module.C().m() != 'bad'\n"
)


def test_a_class_docstring_edit_keeps_the_class_statement_from_running(project):
    m = project.module("m", CLASS.format("one", 1))
    cls = m.C
    project.edit("m", CLASS.format("two", 2))
    reimport("m")
    assert (m.calls, m.C, m.C.__doc__, m.C().m()) == ([1], cls, "two", 2)


def test_a_class_docstring_edit_is_undone_when_the_reload_fails(project):
    m = project.module("m", CLASS.format("one", 1))
    project.edit("m", CLASS.format("two", "bad"))
    with pytest.raises(ReloadError):
        reimport("m")
    assert (m.C.__doc__, m.C().m()) == ("one", 1)


def test_a_class_docstring_read_by_init_subclass_runs_the_class_statement(project):
    source = (
        "class Base:\n"
        "    seen = []\n"
        "    def __init_subclass__(cls):\n"
        "        Base.seen.append(cls.__doc__)\n"
        "class C(Base):\n"
        "    {!r}\n"
    )
    m = project.module("m", source.format("one"))
    project.edit("m", source.format("two"))
    reimport("m")
    assert m.Base.seen[-1] == "two"


def test_a_module_docstring_edit_sets_the_docstring_without_running_the_module(project):
    log = project.module("log", "events = []\n")
    source = "{!r}\nimport log\nlog.events.append('ran')\ndef f():\n    return {!r}\n"
    m = project.module("m", source.format("one", 1))
    project.edit("m", source.format("two", 2))
    reimport("m")
    assert (m.__doc__, m.f(), log.events) == ("two", 2, ["ran"])


def test_a_constant_changed_from_int_to_bool_is_bound_anew(project):
    source = "X = {}\ndef f():\n    return X\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(True))
    reimport("m")
    assert m.X is True and m.f() is True


def test_a_changed_constant_the_top_level_reads_runs_its_readers_again(project):
    source = "X = {}\nY = [X]\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert m.Y == [2]


def test_a_body_edit_below_added_lines_raises_at_the_new_line(project):
    source = "{}def f():\n    y = 1\n    {}\ndef g():\n    return {!r}\n"
    m = project.module("m", source.format("", "return y", "one"))
    project.edit("m", source.format("# a comment\n\n", "raise ValueError(y)", "two"))
    reimport("m")
    with pytest.raises(ValueError) as raised:
        m.f()
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (last.lineno, last.line, m.g()) == (5, "raise ValueError(y)", "two")


def test_a_changed_constant_under_an_if_not_taken_stays_unbound(project):
    source = "FLAG = False\nif FLAG:\n    X = {}\ndef f():\n    return {}\n"
    m = project.module("m", source.format(1, 1))
    project.edit("m", source.format(2, 2))
    reimport("m")
    assert (hasattr(m, "X"), m.f()) == (False, 2)


def test_a_changed_constant_reaches_a_from_import_copy(project):
    project.module("m", "X = 1\ndef f():\n    return X\n")
    user = project.module("user", "from m import X\n")
    project.edit("m", "X = 2\ndef f():\n    return X\n")
    reimport("m")
    assert user.X == 2


def test_a_method_edit_with_a_changed_class_docstring_runs_in_old_instances(project):
    m = project.module("m", CLASS.format("one", 1))
    obj = m.C()
    project.edit("m", CLASS.format("two", 2))
    reimport("m")
    assert (obj.m(), type(obj).__doc__) == (2, "two")


def test_an_unchanged_function_below_added_lines_raises_at_its_new_line(project):
    source = "{}def f():\n    return {!r}\ndef g():\n    raise ValueError\n"
    m = project.module("m", source.format("", "one"))
    project.edit("m", source.format("# a comment\n", "two"))
    reimport("m")
    with pytest.raises(ValueError) as raised:
        m.g()
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (last.lineno, last.line, m.f()) == (5, "raise ValueError", "two")


STATE = (
    "import log\n"
    "log.events.append('ran')\n"
    "class Registry:\n"
    "    {!r}\n"
    "registry = Registry()\n"
    "CONFIG = {{'version': {!r}, 'hosts': ['a', 'b']}}\n"
    "def version():\n"
    "    return CONFIG['version']\n"
)


def test_an_edited_dict_display_runs_only_its_own_statement(project):
    log = project.module("log", "events = []\n")
    m = project.module("m", STATE.format("one", 1))
    registry = m.registry
    project.edit("m", STATE.format("two", 2))
    reimport("m")
    assert (m.CONFIG["version"], m.version(), m.registry, log.events) == (2, 2, registry, ["ran"])


def test_an_edited_dict_display_reaches_an_aliased_from_import_copy(project):
    project.module("log", "events = []\n")
    project.module("m", STATE.format("one", 1))
    user = project.module("user", "from m import CONFIG as settings\n")
    project.edit("m", STATE.format("one", 2))
    reimport("m")
    assert user.settings["version"] == 2


def test_a_constant_edited_to_a_value_the_module_has_elsewhere_follows_every_edit(project):
    # 5 and 3 are constants of the module already: the edited statement loads their slots.
    source = "TIMEOUT = 5\nRETRIES = 3\nCONFIG = {{'version': {}}}\ndef f():\n    return {}\n"
    m = project.module("m", source.format(1, 1))
    for version in (5, 2, 3, 4):
        project.edit("m", source.format(version, version))
        reimport("m")
        assert (m.CONFIG, m.f(), m.TIMEOUT, m.RETRIES) == ({"version": version}, version, 5, 3)


def test_an_edited_statement_under_an_if_not_taken_does_not_run(project):
    source = "FLAG = False\nif FLAG:\n    CONFIG = {{'version': {}}}\ndef f():\n    return {}\n"
    m = project.module("m", source.format(1, 1))
    project.edit("m", source.format(2, 2))
    reimport("m")
    assert (hasattr(m, "CONFIG"), m.f()) == (False, 2)


def test_an_edited_statement_read_by_another_runs_its_reader_too(project):
    source = "CONFIG = {{'version': {}}}\nVERSION = CONFIG['version']\n"
    m = project.module("m", source.format(1))
    project.edit("m", source.format(2))
    reimport("m")
    assert (m.CONFIG, m.VERSION) == ({"version": 2}, 2)


def test_an_edited_statement_that_fails_leaves_the_old_value_and_bodies(project):
    source = "CONFIG = {{'ratio': 1 / {}}}\ndef f():\n    return {!r}\n"
    m = project.module("m", source.format(1, "one"))
    config = m.CONFIG
    project.edit("m", source.format(0, "two"))
    with pytest.raises(ReloadError):
        reimport("m")
    assert (m.CONFIG, m.f()) == (config, "one")


def test_an_edited_call_statement_runs_again(project):
    log = project.module("log", "events = []\n")
    source = "import log\nlog.events.append({!r})\n"
    project.module("m", source.format("one"))
    project.edit("m", source.format("two"))
    reimport("m")
    assert log.events == ["one", "two"]


def test_an_edited_statement_that_fails_is_reported_at_its_line(project):
    source = "def f():\n    return {!r}\nX = 1\nCONFIG = {{\n    'ratio': 1 / {},\n}}\n"
    project.module("m", source.format("one", 1))
    project.edit("m", source.format("two", 0))
    with pytest.raises(ReloadError) as raised:
        reimport("m")
    assert raised.value.notes[0].line == 5


def test_a_statement_edited_after_an_edit_that_moved_constant_slots_runs_with_its_new_value(
    project,
):
    # The second edit makes CONFIG's constant share TIMEOUT's slot, which moves the slots
    # of every constant after it; the third edits another statement of those instructions.
    source = "TIMEOUT = 5\nCONFIG = {{'version': {}}}\nLIMITS = [{}, 'x']\nEXTRA = ('y', {})\n"
    m = project.module("m", source.format(100, 10, 20))
    for version, limit, extra in ((101, 10, 20), (5, 10, 20), (5, 11, 20), (5, 11, 21)):
        project.edit("m", source.format(version, limit, extra))
        reimport("m")
        assert (m.CONFIG, m.LIMITS, m.EXTRA) == ({"version": version}, [limit, "x"], ("y", extra))
