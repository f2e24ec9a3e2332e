"""Calls still running the code from before a reload, reported as notes.

A reload swaps each function's code, but a call already in progress finishes on
the code it started with (docs/reimport.md, "Threads"): a loop in another
thread, or a frame a debugger holds at a breakpoint.  The editor shows the new
file, so each such call is worth an INFO diagnostic at its function's ``def``
line, until it returns.

After each successful reload :class:`StaleFrames` walks every thread's stack.
A frame is stale when it runs a function of a reloaded file (module bodies
aside) whose code differs from the code that function has now, found in the
module's namespace by its qualified name.  While stale frames exist it looks
again every :data:`CHECK_INTERVAL` seconds, cheaply (is that old code still on
a stack?), and drops a note once no thread runs the old code any more.

No pygls here: notes in, a callback out; everything runs on the server's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator

from ..core.merge import functions_in
from ..core.results import INFO, Note
from ..core.targets import modules_for_file
from .diagnostics import read_lines

log = logging.getLogger("reload_server")

# Seconds between looks while stale frames exist: a returned call's note goes
# within that; a look costs a walk of the threads' stacks, a few microseconds each.
CHECK_INTERVAL = 0.25
KIND = "stale-frame"
MESSAGE = "{name} is running the code from before the reload until it returns (thread {threads})"


def _norm(path: str) -> str:
    # As the reload diagnostics key their files (diagnostics.notes_by_file): the two merge.
    return os.path.abspath(path)


def _qualname(code: types.CodeType) -> str:
    # co_qualname is Python 3.11+; before, the bare name is the best there is.
    return getattr(code, "co_qualname", code.co_name)


def _codes_of(obj: object) -> Iterator[types.CodeType]:
    """The code objects a namespace value runs when called (through the usual wrappers)."""
    return (function.__code__ for function in functions_in(obj))


def _nested(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested(const)


def current_codes(module: types.ModuleType) -> dict[str, list[types.CodeType]]:
    """Qualified name → the code objects the module's functions, methods and the
    functions nested in them run now."""
    found: dict[str, list[types.CodeType]] = {}
    seen: set[int] = set()

    def visit(namespace: dict[str, object]) -> None:
        for value in list(namespace.values()):
            try:
                if isinstance(value, type):
                    if value.__module__ == module.__name__ and id(value) not in seen:
                        seen.add(id(value))
                        visit(dict(vars(value)))
                    continue
                codes = list(_codes_of(value))
            except Exception:  # noqa: BLE001 - a proxy whose attributes raise is no function of ours
                continue
            for top in codes:
                for code in _nested(top):
                    found.setdefault(_qualname(code), []).append(code)

    visit(dict(vars(module)))
    return found


def _def_line(code: types.CodeType, lines: list[str] | None) -> int:
    """The line of the ``def`` (past any decorators) of a function's code."""
    line = code.co_firstlineno
    if lines is None:
        return line
    for number in range(line, min(line + 50, len(lines)) + 1):
        text = lines[number - 1].lstrip()
        if text.startswith(("def ", "async def ")):
            return number
        if not text.startswith("@") and text and not text.startswith("#"):
            break
    return line


class _Stale:
    """One function of one file whose old code some threads still run."""

    def __init__(self, file: str, name: str, module: str, line: int) -> None:
        self.file = file
        self.name = name
        self.module = module
        self.line = line
        # The old code objects, held so that the next look can find them by identity.
        self.codes: list[types.CodeType] = []
        self.threads: set[str] = set()

    def note(self) -> Note:
        threads = ", ".join(repr(t) for t in sorted(self.threads))
        return Note(
            MESSAGE.format(name=self.name, threads=threads),
            severity=INFO,
            module=self.module,
            file=self.file,
            line=self.line,
            kind=KIND,
        )


def _thread_names() -> dict[int, str]:
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None}


def _stacks() -> Iterator[tuple[int, types.FrameType]]:
    """Every frame of every thread, with its thread's id."""
    for ident, top in sys._current_frames().items():
        frame: types.FrameType | None = top
        while frame is not None:
            yield ident, frame
            frame = frame.f_back


def find(files: Iterable[str]) -> list[_Stale]:
    """The stale calls on all threads now, among functions of ``files`` (normalized paths)."""
    wanted = set(files)
    names = _thread_names()
    by_key: dict[tuple[str, str], _Stale] = {}
    namespaces: dict[str, tuple[str, dict[str, list[types.CodeType]]] | None] = {}
    lines: dict[str, list[str] | None] = {}
    for ident, frame in _stacks():
        code = frame.f_code
        if code.co_name == "<module>":
            continue
        file = _norm(code.co_filename)
        if file not in wanted:
            continue
        if file not in namespaces:
            modules = [sys.modules.get(m) for m in modules_for_file(file)]
            module = next((m for m in modules if m is not None), None)
            namespaces[file] = (module.__name__, current_codes(module)) if module else None
        entry = namespaces[file]
        if entry is None:
            continue
        module_name, codes = entry
        name = _qualname(code)
        now = codes.get(name)
        # Unknown names (a function the new code deleted, a lambda at module level)
        # cannot be placed in the new file: they are left out rather than guessed.
        # Equal code (unchanged and unmoved) is no different from the current one.
        if not now or any(c is code or c == code for c in now):
            continue
        key = (file, name)
        stale = by_key.get(key)
        if stale is None:
            if file not in lines:
                lines[file] = read_lines(file)
            closest = min(now, key=lambda c: abs(c.co_firstlineno - code.co_firstlineno))
            stale = by_key[key] = _Stale(file, name, module_name, _def_line(closest, lines[file]))
        if not any(c is code for c in stale.codes):
            stale.codes.append(code)
        stale.threads.add(names.get(ident, f"#{ident}"))
    return list(by_key.values())


def still_running(known: Iterable[_Stale]) -> list[_Stale]:
    """Of ``known``, those whose old code is still on some thread's stack, threads updated."""
    known = list(known)
    by_code = {id(code): stale for stale in known for code in stale.codes}
    for stale in known:
        stale.threads = set()
    names = _thread_names()
    for ident, frame in _stacks():
        stale = by_code.get(id(frame.f_code))
        if stale is not None:
            stale.threads.add(names.get(ident, f"#{ident}"))
    return [stale for stale in known if stale.threads]


class StaleFrames:
    """The stale calls of this process as notes by file; rechecked on ``loop`` while any exist.

    ``changed(files)`` is called (on the loop) when a periodic look changed the
    notes of some files; :meth:`after_reload` returns them instead.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        changed: Callable[[set[str]], None],
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self.loop = loop
        self.notes: dict[str, list[Note]] = {}
        self._changed = changed
        self._interval = interval
        self._reloaded: set[str] = set()  # every file a successful reload ran
        self._stale: list[_Stale] = []
        self._timer: asyncio.TimerHandle | None = None

    def after_reload(self, files: Iterable[str]) -> set[str]:
        """Look for stale calls after a successful reload of ``files``; the files whose notes changed."""
        self._reloaded.update(_norm(f) for f in files)
        try:
            return self._set(find(self._reloaded))
        except Exception:  # noqa: BLE001 - a notice must never cost the reload's own diagnostics
            log.exception("reload server: could not look for calls running old code")
            return set()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stale = []

    def _look_again(self) -> None:
        self._timer = None
        try:
            changed = self._set(still_running(self._stale))
        except Exception:  # noqa: BLE001 - logged; the notes are dropped rather than left stuck
            log.exception("reload server: could not look for calls running old code")
            changed = self._set([])
        if changed:
            self._changed(changed)

    def _set(self, stale: list[_Stale]) -> set[str]:
        self._stale = stale
        notes: dict[str, list[Note]] = {}
        for entry in sorted(stale, key=lambda s: (s.file, s.line, s.name)):
            notes.setdefault(entry.file, []).append(entry.note())
        changed = {f for f in notes.keys() | self.notes.keys() if notes.get(f) != self.notes.get(f)}
        self.notes = notes
        if stale and self._timer is None:
            self._timer = self.loop.call_later(self._interval, self._look_again)
        elif not stale and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return changed
