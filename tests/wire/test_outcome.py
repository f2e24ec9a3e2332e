"""The words of a ReloadOutcome: one text for each reader, whoever tells it.

The wire's ``message`` and notes, ``str()`` of the core's values, the watcher's
line, the server's log line and the command line's output all come from
``reload_server.core.report``; "the old code is still running" is told from
``rolled_back`` and the phase, never read back from a message.
"""

from __future__ import annotations

from reload_server.core import report
from reload_server.core.results import Frame, Note, ReloadError, ReloadResult
from reload_server.runtime.watcher import describe
from reload_server.server.diagnostics import notes_by_file
from reload_server.wire.outcome import outcome_dict

FILE = "/app/src/greeting.py"
ROLLED = " (rolled back; the old code is still running)"


def rolled_back() -> ReloadError:
    note = Note(
        "KeyError: 'k'",
        module="greeting",
        file=FILE,
        line=2,
        column=5,
        kind="import",
        frames=(Frame(FILE, 4, "<module>"), Frame(FILE, 2, "f")),
    )
    return ReloadError(
        "KeyError: 'k'",
        phase="import",
        modules=("greeting",),
        files=(FILE,),
        notes=(note,),
        rolled_back=True,
    )


def test_a_rolled_back_reload_says_the_old_code_runs_wherever_it_is_told():
    error = rolled_back()

    wire = outcome_dict(error)
    assert wire["message"] == f"greeting not reloaded: KeyError: 'k'{ROLLED}"
    assert [n["message"] for n in wire["notes"]] == [f"KeyError: 'k'{ROLLED}"]
    assert wire["rolledBack"] is True
    assert str(error) == f"KeyError: 'k'{ROLLED}\n{FILE}:2:5: error: KeyError: 'k'{ROLLED}"
    assert describe(error) == (
        f"reload_server: greeting not reloaded at {FILE}:2: KeyError: 'k'{ROLLED}"
    )
    assert [n.message for n in notes_by_file(error)[FILE]] == [f"KeyError: 'k'{ROLLED}"]


def test_the_suffix_is_told_once_and_never_stored():
    error = rolled_back()

    outcome_dict(error)
    notes_by_file(error)

    assert error.message == error.notes[0].message == "KeyError: 'k'"
    assert str(error).count("still running") == 2  # the error's line and its note's line


def test_a_failure_before_the_new_code_ran_says_nothing_of_old_code():
    note = Note("SyntaxError: invalid syntax", file=FILE, line=4, column=13, kind="syntax")
    error = ReloadError(
        "SyntaxError: invalid syntax", phase="compile", modules=("greeting",), notes=(note,)
    )

    assert outcome_dict(error)["message"] == "greeting not reloaded: SyntaxError: invalid syntax"
    assert "old code" not in str(error)


def test_an_error_of_new_code_that_was_not_rolled_back_says_not_applied():
    note = Note("ValueError: x", file=FILE, line=2, kind="check")
    error = ReloadError("ValueError: x", phase="check", files=(FILE,), notes=(note,))

    assert notes_by_file(error)[FILE][0].message == (
        "ValueError: x (not applied; the old code is still running)"
    )


def test_a_successful_reload_is_one_line_with_its_notes_after_it():
    warning = Note("f: replaced, not updated in place: why", severity="warning", kind="fallback")
    result = ReloadResult(("greeting", "app"), (FILE,), (warning,), duration=0.00042)

    assert outcome_dict(result)["message"] == "reloaded greeting, app in 0.4 ms"
    assert (
        str(result)
        == "reloaded greeting, app in 0.4 ms\nwarning: f: replaced, not updated in place: why"
    )
    assert describe(result) == "reload_server: reloaded greeting, app in 0.4 ms (1 warning)"
    assert str(ReloadResult(())) == outcome_dict(ReloadResult(()))["message"] == "nothing to reload"


def test_the_command_line_prints_a_wire_outcome_like_a_compiler():
    wire = outcome_dict(rolled_back())

    assert report.compiler_lines(wire) == [
        f"{FILE}:2:5: error: KeyError: 'k'{ROLLED}",
        f"{FILE}:4: note: in <module>",
        f"{FILE}:2: note: in f",
        f"reload failed (import): greeting not reloaded: KeyError: 'k'{ROLLED}",
    ]
    assert report.log_line(wire, lambda p: p.replace("/app", "/home/me")) == (
        f"greeting not reloaded: KeyError: 'k'{ROLLED} [/home/me/src/greeting.py:2]"
    )


def test_a_note_without_a_file_is_the_servers():
    note = {"severity": "error", "message": "nope is not loaded", "file": None}

    assert (
        report.note_line(note, nowhere="reload_server")
        == "reload_server: error: nope is not loaded"
    )
    assert str(Note("nope is not loaded", kind="resolve")) == "error: nope is not loaded"


def test_processes_are_one_line_each_and_a_tally():
    items = [
        {"process": "pid 1", "status": "reloaded", "message": "reloaded m in 0.1 ms"},
        {"process": "pid 2", "status": "failed", "message": "m not reloaded: E"},
        {"process": "pid 3", "status": "error", "message": "no answer"},
        {"process": "pid 4", "status": "reloaded", "message": ""},
    ]

    assert [report.process_line(i) for i in items] == [
        "pid 1: reloaded m in 0.1 ms",
        "pid 2: reload failed: m not reloaded: E",
        "pid 3: error: no answer",
        "pid 4: reloaded",
    ]
    assert report.tally(items) == "2 reloaded, 1 failed, 1 error"
