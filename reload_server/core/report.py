"""Every text a reload's outcome is told in, made in one place.

``str()`` of the reimporter's values, the wire ReloadOutcome's ``message`` and
note messages, the editor diagnostics, the watcher's and the IPython magic's
stderr line, the server's ``window/logMessage`` line and the command line's
compiler-style output all call these functions, so each text is written once.

Why here, in core, and not in ``wire/outcome.py``: the core's own values must
be able to tell themselves (``str(ReloadError)`` has to say that the old code
is still running), and core may import nothing above it, while every layer
above may import core.  This module imports nothing of the package, so
``results`` can call it without a cycle; it knows the reimporter's values by
their fields only.

"The old code is still running" is data, not text: a note's message is what
went wrong, and :func:`note_message` adds the suffix when it is told, from the
outcome's ``rolled_back`` and the note's kind.  Nothing ever looks for the
suffix in a message.

Two forms come in.  The reimporter's values (``ReloadResult``, ``ReloadError``,
``Note``) for those who hold them; and the plain-dict ReloadOutcome of
docs/protocol.md for those who only have what came over the wire (the command
line, and the server's log line, which is written after the outcome was
mapped to the client's paths).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, Protocol

    class NoteLike(Protocol):
        message: str
        severity: str
        kind: str
        file: str | None
        line: int | None

    class OutcomeLike(Protocol):
        """A ReloadResult or a ReloadError."""

        modules: tuple[str, ...]
        notes: tuple[Any, ...]
        duration: float

        @property
        def ok(self) -> bool: ...

    class ErrorLike(OutcomeLike, Protocol):
        """A ReloadError."""

        message: str
        phase: str
        rolled_back: bool


ROLLED_BACK = " (rolled back; the old code is still running)"
NOT_APPLIED = " (not applied; the old code is still running)"

# Where the new code had run, or would have: a failure there must say which code runs now.
_RAN = ("import", "check")


def _same(path: str) -> str:
    return path


# -- the still-running suffix ----------------------------------------------------


def still_running(error: ErrorLike) -> str:
    """The suffix that tells the user the app still runs its old code."""
    return ROLLED_BACK if error.rolled_back else NOT_APPLIED


def note_message(note: NoteLike, outcome: OutcomeLike) -> str:
    """A note's message as the user reads it: with the suffix for an error of the new code."""
    if not outcome.ok and note.severity == "error" and note.kind in _RAN:
        # The user must never wonder which code runs now.
        return note.message + still_running(outcome)
    return note.message


def error_message(error: ErrorLike) -> str:
    """A ReloadError's message as the user reads it."""
    if error.phase in _RAN:
        return error.message + still_running(error)
    return error.message


def told_notes(outcome: OutcomeLike) -> list[Any]:
    """The outcome's notes, each with its message as the user reads it."""
    return [
        n if (text := note_message(n, outcome)) == n.message else n.replace(message=text)
        for n in outcome.notes
    ]


def note_dicts(outcome: OutcomeLike) -> list[dict[str, Any]]:
    """The wire form of the outcome's notes (docs/protocol.md), messages as told."""
    return [{**n.to_dict(), "message": note_message(n, outcome)} for n in outcome.notes]


# -- one line per outcome ----------------------------------------------------------


def _reloaded(outcome: OutcomeLike) -> str:
    return f"reloaded {', '.join(outcome.modules)} in {outcome.duration * 1000:.1f} ms"


def headline(outcome: OutcomeLike) -> str:
    """The one human line of a ReloadOutcome: its ``message`` on the wire."""
    if not outcome.ok:
        # Name what failed: the note alone ("SyntaxError: …") does not say which module.
        return f"{', '.join(outcome.modules) or 'reload'} not reloaded: {error_message(outcome)}"
    return _reloaded(outcome) if outcome.modules else "nothing to reload"


def text(outcome: OutcomeLike) -> str:
    """``str()`` of a ReloadResult or ReloadError: a first line, then one line per note."""
    if outcome.ok and not outcome.modules:
        return "nothing to reload"
    first = headline(outcome) if outcome.ok else error_message(outcome)
    return "\n".join([first, *map(note_line, note_dicts(outcome))])


def watch_line(outcome: OutcomeLike) -> str:
    """The stderr line for a reload or a rollback that nobody asked for (watcher, IPython)."""
    if not outcome.ok:
        where = ""
        located = [n for n in outcome.notes if n.file and n.line]
        if located:
            where = f" at {located[0].file}:{located[0].line}"
        what = note_message(outcome.notes[0], outcome) if outcome.notes else error_message(outcome)
        return (
            f"reload_server: {', '.join(outcome.modules) or 'reload'} not reloaded{where}: {what}"
        )
    warnings = sum(1 for n in outcome.notes if n.severity == "warning")
    extra = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    return f"reload_server: {_reloaded(outcome)}{extra}"


# -- lines of a wire ReloadOutcome -------------------------------------------------


def place(file: str, line: int | None = None, column: int | None = None) -> str:
    """``file:line:col``, leaving out what is not known."""
    if line:
        file += f":{line}"
        if column:
            file += f":{column}"
    return file


def note_line(
    note: Mapping[str, Any], shown: Callable[[str], str] = _same, nowhere: str = ""
) -> str:
    """``file:line:col: severity: message`` for a note's dict; ``nowhere`` stands for no file."""
    where = (
        place(shown(note["file"]), note.get("line"), note.get("column"))
        if note.get("file")
        else nowhere
    )
    head = f"{where}: " if where else ""
    return f"{head}{note.get('severity', 'error')}: {note.get('message', '')}"


def frame_lines(note: Mapping[str, Any], shown: Callable[[str], str] = _same) -> list[str]:
    """A note's traceback frames, compiler style: ``file:line: note: in name``."""
    return [f"{shown(f['file'])}:{f['line']}: note: in {f['name']}" for f in note.get("frames", [])]


def process_line(item: Mapping[str, Any]) -> str:
    """``pid N: …`` for one item of a ReloadOutcome's ``processes`` (its process's name first)."""
    if item["status"] == "failed":
        summary = f"reload failed: {item['message']}"
    elif item["status"] == "error":
        summary = f"error: {item['message']}"
    elif item["message"]:
        summary = item["message"]
    elif item.get("modules"):
        summary = f"{item['status']} {', '.join(item['modules'])}"
    else:
        summary = item["message"] or item["status"]
    return f"{item['process']}: {summary}"


def tally(items: Iterable[Mapping[str, Any]]) -> str:
    """``2 reloaded, 1 failed``: how many processes ended how, in order of first appearance."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def compiler_lines(outcome: Mapping[str, Any], shown: Callable[[str], str] = _same) -> list[str]:
    """A wire ReloadOutcome as a compiler prints: notes (with frames), a summary, the processes."""
    lines = []
    for note in outcome.get("notes", []):
        if note.get("kind") == "rerun" and note.get("severity") == "info":
            continue  # how much of a module ran is not news at a prompt; the outcome keeps it
        lines.append(note_line(note, shown, nowhere="reload_server"))
        lines.extend(frame_lines(note, shown))
    if outcome.get("status") == "failed":
        lines.append(f"reload failed ({outcome.get('phase', '?')}): {outcome.get('message', '')}")
    else:
        lines.append(f"{outcome.get('message', outcome.get('status', ''))}")
    processes = outcome.get("processes") or []
    if len(processes) > 1:
        # The server forwarded the request to the project's other processes.
        lines.extend(process_line(item) for item in processes)
    return lines


def log_line(outcome: Mapping[str, Any], shown: Callable[[str], str] = _same) -> str:
    """An outcome's log line: its message, and where a failure is (``[file:line]``)."""
    text = outcome["message"]
    if outcome["status"] == "failed":
        located = next(
            (n for n in outcome.get("notes", []) if n.get("file") and n.get("line")), None
        )
        if located:
            text += f" [{shown(located['file'])}:{located['line']}]"
    return text


def notice_line(outcome: Mapping[str, Any], shown: Callable[[str], str] = _same) -> str:
    """An outcome's pop-up line (``window/showMessage``): its log line, and for a failure
    always which code runs now, which its message says only when the new code had run."""
    if outcome["status"] == "failed" and outcome.get("phase") not in _RAN:
        suffix = ROLLED_BACK if outcome.get("rolledBack") else NOT_APPLIED
        outcome = {**outcome, "message": outcome["message"] + suffix}
    return log_line(outcome, shown)
