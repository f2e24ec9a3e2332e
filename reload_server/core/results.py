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
    (an edit that could not be applied in place) or ``"update"``; the server
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

    __slots__ = ("modules", "files", "notes", "duration")

    def __init__(
        self,
        modules: tuple[str, ...],
        files: tuple[str, ...] = (),
        notes: tuple[Note, ...] = (),
        duration: float = 0.0,
    ) -> None:
        _set = object.__setattr__
        _set(self, "modules", tuple(modules))
        _set(self, "files", tuple(files))
        _set(self, "notes", tuple(notes))
        _set(self, "duration", duration)

    @property
    def ok(self) -> bool:
        return True

    def __str__(self) -> str:
        from . import report

        return report.text(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "reloaded" if self.modules else "unchanged",
            "modules": list(self.modules),
            "files": list(self.files),
            "durationMs": round(self.duration * 1000, 3),
            "notes": [n.to_dict() for n in self.notes],
        }


class ReloadError(Exception):
    """A reload that did not happen.  Nothing in the process was changed.

    ``phase`` is where it stopped: ``"resolve"`` (a target could not be
    reloaded), ``"compile"`` (a SyntaxError), ``"import"`` (the new code raised
    while it ran) or ``"check"`` (a ``__reload_check__`` hook refused it).
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
    ) -> None:
        super().__init__(message)
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
        }
