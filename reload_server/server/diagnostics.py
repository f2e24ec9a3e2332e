"""Reload notes → LSP diagnostics.

A note is 1-based and counts columns in characters, as Python and compilers do;
LSP positions are 0-based and, unless negotiated otherwise, count UTF-16 code
units.  The line's text is read from the file to convert columns and to give
column-less notes a sensible range (the line's text, not the whole file).

Plain dicts in, plain dicts out: no pygls here, so this is testable anywhere.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

from ..core import report
from ..core.events import Outcome
from ..core.results import ERROR, INFO, WARNING, Note

SOURCE = "reload_server"
SEVERITY = {ERROR: 1, WARNING: 2, INFO: 3}


def notes_by_file(outcome: Outcome) -> dict[str, list[Note]]:
    """The diagnostics each file should now show after ``outcome``, as notes.

    Every file the reload touched gets an entry, possibly empty: the latest
    attempt involving a file is what its diagnostics describe, so a successful
    reload clears old errors and a failed one replaces them.  Notes without a
    file (say, "module not loaded") cannot be shown in a buffer and are left out.
    Messages are as the user reads them (a failure says the old code still runs).
    """
    by_file: dict[str, list[Note]] = {os.path.abspath(f): [] for f in outcome.files}
    for note in report.told_notes(outcome):
        if note.file:
            by_file.setdefault(os.path.abspath(note.file), []).append(note)
    return by_file


def read_lines(path: str) -> list[str] | None:
    """The file's lines (without line ends), or None if it cannot be read."""
    try:
        # A pipe or device in the file's place must not block the server's loop.
        if not os.path.isfile(path):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, encoding="utf-8", errors="replace") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return f.read().splitlines()
    except OSError:
        return None


def utf16(text: str | None, column: int) -> int:
    """A 0-based character column in ``text`` as a 0-based UTF-16 column."""
    if text is None or column <= 0:
        return max(column, 0)
    head = text[:column]
    return len(head.encode("utf-16-le")) // 2 + max(column - len(text), 0)


def _line(lines: list[str] | None, index: int) -> str | None:
    if lines is None or not 0 <= index < len(lines):
        return None
    return lines[index]


def _span(note: Note, lines: list[str] | None) -> dict[str, Any]:
    """The LSP range of a note."""
    line = max((note.line or 1) - 1, 0)
    text = _line(lines, line)
    indent = len(text) - len(text.lstrip()) if text is not None else 0
    if note.column:
        start = note.column - 1
        if not note.end_column and start < indent:
            # A line-level note (column 1 as placeholder): underline the code, not the indentation.
            start = indent
    else:
        start = indent
    if note.end_line and note.end_column:
        end_line = max(note.end_line - 1, line)
        end_text = _line(lines, end_line)
        end = note.end_column - 1
    else:
        end_line, end_text = line, text
        end = len(text.rstrip()) if text is not None else start + 1
    if (end_line, end) <= (line, start):
        end_line, end_text, end = line, text, start + 1
    return {
        "start": {"line": line, "character": utf16(text, start)},
        "end": {"line": end_line, "character": utf16(end_text, end)},
    }


def _line_range(line: int, lines: list[str] | None) -> dict[str, Any]:
    index = max(line - 1, 0)
    text = _line(lines, index)
    return {
        "start": {"line": index, "character": 0},
        "end": {"line": index, "character": utf16(text, len(text)) if text else 0},
    }


def to_diagnostic(
    note: Note,
    uri: Callable[[str], str],
    lines_of: Callable[[str], list[str] | None] = read_lines,
) -> dict[str, Any]:
    """One LSP Diagnostic for a located note; ``uri`` maps an app path to the client's URI."""
    diagnostic: dict[str, Any] = {
        "range": _span(note, lines_of(note.file) if note.file else None),
        "severity": SEVERITY.get(note.severity, 1),
        "source": SOURCE,
        "code": note.kind,
        "message": note.message,
    }
    if note.frames:
        related = []
        for frame in note.frames:
            file = os.path.abspath(frame.file)
            related.append(
                {
                    "location": {
                        "uri": uri(file),
                        "range": _line_range(frame.line, lines_of(file)),
                    },
                    "message": f"in {frame.name}",
                }
            )
        diagnostic["relatedInformation"] = related
    return diagnostic


def publish_params(file: str, notes: list[Note], uri: Callable[[str], str]) -> dict[str, Any]:
    """``textDocument/publishDiagnostics`` params for one file (``notes`` may be empty)."""
    cache: dict[str, list[str] | None] = {}

    def lines_of(path: str) -> list[str] | None:
        if path not in cache:
            cache[path] = read_lines(path)
        return cache[path]

    return {
        "uri": uri(file),
        "diagnostics": [to_diagnostic(n, uri, lines_of) for n in notes],
    }
