"""The statements a reload runs again keep the file's positions: errors point at the file."""

from __future__ import annotations

import traceback

import pytest

from reload_server import ReloadError, reimport


def _reloaded_once(project, source: str, *versions: object):
    """Module ``m`` imported at the first version and reloaded at the next ones."""
    m = project.module("m", source.format(*versions[0]))
    for version in versions[1:]:
        project.edit("m", source.format(*version))
        reimport("m")
    return m


def test_a_failing_rerun_statement_is_reported_at_its_line_and_column(project):
    source = "def f():\n    return 1\n\n\nX = {}\nY = [X] + [1 // {}]\n"
    _reloaded_once(project, source, (1, 1), (2, 1))
    project.edit("m", source.format(3, 0))
    with pytest.raises(ReloadError) as raised:
        reimport("m")
    note = raised.value.notes[0]
    assert (note.line, note.column) == (6, len("Y = [X] + [") + 1)


def test_a_function_a_rerun_statement_makes_reports_the_file_s_lines(project):
    source = "K = {}\n\n\ndef make():\n    def inner():\n        raise ValueError(K)\n    return inner\n\n\nF = make()\n"
    m = _reloaded_once(project, source, (1,), (2,))
    project.edit("m", source.format(3))
    reimport("m")
    with pytest.raises(ValueError) as raised:
        m.F()
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (last.lineno, last.line) == (6, "raise ValueError(K)")


def test_rerun_statements_between_unchanged_ones_run_in_source_order(project):
    source = (
        "import log\nlog.events.append('a{}')\nlog.events.append('kept')\n"
        "log.events.append('b{}')\nclass K:\n    tag = {}\n"
    )
    log = project.module("log", "events = []\n")
    m = _reloaded_once(project, source, (1, 1, 1), (2, 2, 2))
    del log.events[:]
    project.edit("m", source.format(3, 3, 3))
    reimport("m")
    assert log.events == ["a3", "b3"] and m.K.tag == 3
