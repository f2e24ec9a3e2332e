"""Reload notes as LSP diagnostics: positions, suffixes, clearing."""

from __future__ import annotations

from reload_server.core.results import Frame, Note, ReloadError, ReloadResult
from reload_server.server.diagnostics import notes_by_file, publish_params, utf16
from reload_server.server.paths import path_to_uri


def test_utf16_counts_astral_characters_twice():
    assert utf16("a\U0001f600b", 2) == 3
    assert utf16("abc", 2) == 2
    assert utf16(None, 5) == 5


def test_a_failed_reload_gives_its_files_their_notes_and_the_suffix(tmp_path):
    file = str(tmp_path / "m.py")
    error = ReloadError(
        "boom",
        phase="import",
        modules=("m",),
        files=(file,),
        notes=(Note("ValueError: x", file=file, line=2, kind="import"),),
        rolled_back=True,
    )

    [(path, [note])] = notes_by_file(error).items()

    assert path == file
    assert note.message == "ValueError: x (rolled back; the old code is still running)"


def test_a_successful_reload_clears_its_files(tmp_path):
    file = str(tmp_path / "m.py")

    assert notes_by_file(ReloadResult(("m",), (file,))) == {file: []}


def test_a_line_note_underlines_the_code_not_the_indentation(tmp_path):
    file = tmp_path / "m.py"
    file.write_text("def f():\n    raise ValueError('x')  \n")
    note = Note(
        "ValueError: x", file=str(file), line=2, column=1, frames=(Frame(str(file), 2, "f"),)
    )

    params = publish_params(str(file), [note], path_to_uri)

    [diagnostic] = params["diagnostics"]
    assert diagnostic["range"] == {
        "start": {"line": 1, "character": 4},
        "end": {"line": 1, "character": 25},
    }
    assert diagnostic["source"] == "reload_server"
    assert diagnostic["relatedInformation"][0]["location"]["uri"] == path_to_uri(str(file))
