"""What a reload produces: a result value on success, an exception on failure.

Both carry *notes*: messages with a severity and, where known, a location.  A
note maps one-to-one onto an editor diagnostic, which is how the server uses
them.  Lines and columns in notes are 1-based, as compilers print them; the
server converts them to LSP's 0-based positions.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import

if TYPE_CHECKING:
    from typing import Any

ERROR = "error"
WARNING = "warning"
INFO = "info"


class _Value:
    """A small immutable record: fields in ``__slots__``, compared by value.

    Written by hand rather than with dataclasses, which would cost the host
    program several milliseconds at ``import reload_server``.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _fields(self) -> tuple:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def replace(self, **changes: object):
        """A copy with some fields changed."""
        fields = {f: getattr(self, f) for f in self.__slots__}
        fields.update(changes)
        return type(self)(**fields)

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({args})"


class Frame(_Value):
    """One traceback frame inside a reloaded file."""

    __slots__ = ("file", "line", "name")

    def __init__(self, file: str, line: int, name: str) -> None:
        _set = object.__setattr__
        _set(self, "file", file)
        _set(self, "line", line)
        _set(self, "name", name)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "name": self.name}


class Note(_Value):
    """A message about one module, optionally located in its source.

    ``kind`` says where it comes from: ``"resolve"``, ``"syntax"``, ``"import"``,
    ``"check"`` (a ``__reload_check__`` refusal), ``"hook"``, ``"fallback"``
    (an edit that could not be applied in place), ``"rerun"`` (a whole module
    ran again because what changed in it could not be told) or ``"update"``; the server
    adds ``"stale-frame"`` (a call still running the code from before a reload).
    """

    __slots__ = (
        "message",
        "severity",
        "module",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "kind",
        "frames",
    )

    def __init__(
        self,
        message: str,
        severity: str = ERROR,
        module: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        end_line: int | None = None,
        end_column: int | None = None,
        kind: str = "import",
        frames: tuple[Frame, ...] = (),
    ) -> None:
        _set = object.__setattr__
        _set(self, "message", message)
        _set(self, "severity", severity)
        _set(self, "module", module)
        _set(self, "file", file)
        _set(self, "line", line)
        _set(self, "column", column)
        _set(self, "end_line", end_line)
        _set(self, "end_column", end_column)
        _set(self, "kind", kind)
        _set(self, "frames", tuple(frames))

    def __str__(self) -> str:
        from . import report

        return report.note_line(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "module": self.module,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "endLine": self.end_line,
            "endColumn": self.end_column,
            "kind": self.kind,
            "frames": [f.to_dict() for f in self.frames],
        }


class ReloadResult(_Value):
    """The value of a successful :func:`reload_server.reimport`.

    ``modules`` are the modules whose new code now runs, in the order they were
    executed; ``files`` their source files; ``duration`` is in seconds.  An empty
    ``modules`` means there was nothing to do.
    """

    __slots__ = ("modules", "files", "notes", "duration", "processes")

    def __init__(
        self,
        modules: tuple[str, ...],
        files: tuple[str, ...] = (),
        notes: tuple[Note, ...] = (),
        duration: float = 0.0,
        processes: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> None:
        _set = object.__setattr__
        _set(self, "modules", tuple(modules))
        _set(self, "files", tuple(files))
        _set(self, "notes", tuple(notes))
        _set(self, "duration", duration)
        _set(self, "processes", tuple(processes))

    def __hash__(self) -> int:
        return hash((self.modules, self.files, self.notes, self.duration))

    @property
    def ok(self) -> bool:
        return True

    def __str__(self) -> str:
        from . import report

        return report.text(self)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "status": "reloaded" if self.modules else "unchanged",
            "modules": list(self.modules),
            "files": list(self.files),
            "durationMs": round(self.duration * 1000, 3),
            "notes": [n.to_dict() for n in self.notes],
        }
        if self.processes:
            out["processes"] = [process_item(name, o) for name, o in self.processes]
        return out

    @property
    def by_process(self) -> dict[str, ReloadResult]:
        """Each process's own result in a fleet reload, by process name (empty otherwise)."""
        return {name: result_from_dict(o) for name, o in self.processes}  # type: ignore[misc]


class ReloadError(Exception):
    """A reload that did not happen.  Nothing in the process was changed.

    ``phase`` is where it stopped: ``"resolve"`` (a target could not be
    reloaded), ``"compile"`` (a SyntaxError), ``"import"`` (the new code raised
    while it ran), ``"check"`` (a ``__reload_check__`` hook refused it),
    ``"hook"`` (``__unimport__`` raised), ``"commit"`` (a step of the commit
    raised: the one case where part of the new code may already run, which its
    message says), ``"abort"`` (prepared here, but another
    process of a fleet reload failed) or ``"deadline"`` (a process of a fleet
    reload did not answer in time).
    ``modules`` and ``files`` name the targets of the attempt, ``notes`` say what
    went wrong and where, and ``rolled_back`` tells whether new code had already
    run and was undone.  Messages say only what went wrong: that the old code
    is still running is added when they are told (:mod:`.report`).
    """

    def __init__(
        self,
        message: str,
        *,
        phase: str,
        modules: tuple[str, ...] = (),
        files: tuple[str, ...] = (),
        notes: tuple[Note, ...] = (),
        duration: float = 0.0,
        rolled_back: bool = False,
        processes: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> None:
        super().__init__(message)
        #: In a fleet reload, ``(process name, outcome dict)`` for every process asked.
        self.processes = tuple(processes)
        self.message = message
        self.phase = phase
        self.modules = tuple(modules)
        self.files = tuple(files)
        self.notes = tuple(notes)
        self.duration = duration
        self.rolled_back = rolled_back

    @property
    def ok(self) -> bool:
        return False

    def __str__(self) -> str:
        from . import report

        return report.text(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "failed",
            "phase": self.phase,
            "message": self.message,
            "modules": list(self.modules),
            "files": list(self.files),
            "durationMs": round(self.duration * 1000, 3),
            "rolledBack": self.rolled_back,
            "notes": [n.to_dict() for n in self.notes],
            **(
                {"processes": [process_item(n, o) for n, o in self.processes]}
                if self.processes
                else {}
            ),
        }

    def __reduce__(self):  # keyword-only fields: pickle (Dask, multiprocessing) needs this
        return _rebuild_error, (self.to_dict(), self.processes)


def _rebuild_error(data: dict[str, Any], processes: tuple) -> ReloadError:
    error = result_from_dict(data)
    assert isinstance(error, ReloadError)
    error.processes = tuple(processes)
    return error


def process_item(name: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """One item of an outcome's ``processes``: the process's name and its outcome's short form.

    ``message`` is the outcome's, or its headline when it has none (the core's
    own ``to_dict()`` forms carry none for a success).
    """
    message = outcome.get("message")
    if message is None:
        from . import report

        message = report.headline(result_from_dict(outcome))
    return {
        "process": name,
        "status": outcome.get("status", "failed"),
        "modules": list(outcome.get("modules", [])),
        "durationMs": outcome.get("durationMs", 0.0),
        "message": message,
    }


def note_from_dict(data: dict[str, Any]) -> Note:
    """A :class:`Note` from its ``to_dict()`` form (fields it lacks take their defaults)."""
    return Note(
        str(data.get("message", "")),
        severity=data.get("severity") or ERROR,
        module=data.get("module"),
        file=data.get("file"),
        line=data.get("line"),
        column=data.get("column"),
        end_line=data.get("endLine"),
        end_column=data.get("endColumn"),
        kind=data.get("kind") or "import",
        frames=tuple(
            Frame(f.get("file", ""), f.get("line", 0), f.get("name", ""))
            for f in data.get("frames") or ()
        ),
    )


def result_from_dict(data: dict[str, Any]) -> ReloadResult | ReloadError:
    """A :class:`ReloadResult` or :class:`ReloadError` from its ``to_dict()`` form."""
    notes = tuple(note_from_dict(n) for n in data.get("notes") or ())
    duration = float(data.get("durationMs") or 0.0) / 1000
    if data.get("status") == "failed":
        return ReloadError(
            str(data.get("message", "")),
            phase=str(data.get("phase", "import")),
            modules=tuple(data.get("modules") or ()),
            files=tuple(data.get("files") or ()),
            notes=notes,
            duration=duration,
            rolled_back=bool(data.get("rolledBack", False)),
        )
    return ReloadResult(
        tuple(data.get("modules") or ()), tuple(data.get("files") or ()), notes, duration
    )
