"""Reading and compiling a module's new source, and what its top level binds and imports.

The names a module body binds and the modules it imports are read from the
compiled module code itself (its STORE_NAME and IMPORT_NAME instructions), which
costs far less than parsing the source a second time.
"""

from __future__ import annotations

import errno
import opcode
import os
import sys
from stat import S_ISDIR, S_ISREG
from types import CodeType, ModuleType

from .results import Note

_op = opcode.opmap
STORE_NAME = _op["STORE_NAME"]
DELETE_NAME = _op["DELETE_NAME"]
IMPORT_NAME = _op["IMPORT_NAME"]
LOAD_CONST = _op["LOAD_CONST"]
EXTENDED_ARG = _op["EXTENDED_ARG"]
IMPORT_STAR = _op.get("IMPORT_STAR", -1)  # 3.12+: CALL_INTRINSIC_1 with INTRINSIC_IMPORT_STAR
CALL_INTRINSIC_1 = _op.get("CALL_INTRINSIC_1", -1)
INTRINSIC_IMPORT_STAR = 2
LOAD_SMALL_INT = _op.get("LOAD_SMALL_INT", -1)  # 3.14+
_WANTED = bytes(
    op
    in (STORE_NAME, DELETE_NAME, IMPORT_NAME, LOAD_CONST, EXTENDED_ARG)
    + (IMPORT_STAR, CALL_INTRINSIC_1, LOAD_SMALL_INT)
    for op in range(256)
)


class Source:
    """The new code of one module, compiled and ready to run."""

    __slots__ = ("name", "module", "file", "stat", "code", "bound", "imports", "star_imports")

    def __init__(
        self,
        name: str,
        module: ModuleType,
        file: str,
        stat: os.stat_result,
        code: CodeType,
        bound: frozenset[str] = frozenset(),
        imports: tuple[str, ...] = (),
        star_imports: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.module = module
        self.file = file
        self.stat = stat
        self.code = code
        self.bound = bound
        self.imports = imports
        self.star_imports = star_imports


class CompileFailed(Exception):
    def __init__(self, note: Note) -> None:
        super().__init__(note.message)
        self.note = note


def _read_all(fd: int, size: int) -> bytes:
    """The rest of a regular file, in as few system calls as its size allows.

    A short read of a regular file means its end, so a file whose size did not
    change since the fstat takes one read; one that grew since is read on to
    its end.
    """
    chunks = [os.read(fd, size + 1)]
    if len(chunks[0]) > size:
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def load(name: str, module: ModuleType, file: str) -> Source:
    """Read and compile ``file`` for module ``name``; raises :class:`CompileFailed`."""
    try:
        # Non-blocking, and only a regular file: a FIFO or device put in the
        # module's place must fail the reload, not hang it under the reload lock.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            st = os.fstat(fd)
            if S_ISDIR(st.st_mode):
                raise OSError(errno.EISDIR, "it is a directory")
            if not S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device?)")
            data = _read_all(fd, st.st_size)
        finally:
            os.close(fd)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise CompileFailed(
            Note(f"cannot read {file}: {reason}", kind="syntax", module=name, file=file)
        ) from None
    try:
        code = compile(data, file, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise CompileFailed(_syntax_note(name, file, e)) from None
    except (ValueError, UnicodeDecodeError) as e:  # NUL bytes, undecodable source
        raise CompileFailed(
            Note(
                f"{type(e).__name__}: {e}", kind="syntax", module=name, file=file, line=1, column=1
            )
        ) from None
    bound, imports, stars = _scan(code, name, module)
    return Source(name, module, file, st, code, bound, imports, stars)


def _syntax_note(name: str, file: str, e: SyntaxError) -> Note:
    line = e.lineno or 1
    col = e.offset or 1
    end_line = getattr(e, "end_lineno", None)
    end_col = getattr(e, "end_offset", None)
    if end_line is not None and (end_line < line or (end_line == line and (end_col or 0) <= col)):
        end_line = end_col = None
    return Note(
        f"{type(e).__name__}: {e.msg}",
        kind="syntax",
        module=name,
        file=e.filename if e.filename and os.path.exists(e.filename) else file,
        line=line,
        column=max(col, 1),
        end_line=end_line,
        end_column=end_col,
    )


def _package_of(name: str, module: ModuleType) -> str:
    if hasattr(module, "__path__"):
        return name
    return name.rpartition(".")[0]


def _absolute(target: str, level: int, package: str) -> str | None:
    if level == 0:
        return target
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    if not target:
        return base
    return f"{base}.{target}" if base else target


def _scan(
    code: CodeType, name: str, module: ModuleType
) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """Names bound at top level, modules imported at top level, modules star-imported."""
    raw = code.co_code
    names = code.co_names
    consts = code.co_consts
    bound: set[str] = set()
    imports: list[str] = []
    stars: list[str] = []
    package = _package_of(name, module)
    ext = 0
    recent: list[object] = [None, None]  # the two most recent constants: level, fromlist
    last_import: str | None = None
    for op, arg in zip(raw[::2], raw[1::2]):
        if not _WANTED[op]:  # most instructions (and 3.11+'s inline caches)
            ext = 0
            continue
        arg |= ext
        if op == EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        if op == STORE_NAME or op == DELETE_NAME:
            bound.add(names[arg])
        elif op == LOAD_CONST:
            recent = [recent[1], consts[arg]]
        elif op == LOAD_SMALL_INT:
            recent = [recent[1], arg]
        elif op == IMPORT_NAME:
            level, fromlist = recent
            target = names[arg]
            absolute = _absolute(target, level if isinstance(level, int) else 0, package)
            last_import = absolute
            if absolute:
                imports.append(absolute)
                if isinstance(fromlist, tuple):
                    imports.extend(f"{absolute}.{x}" for x in fromlist if x != "*")
        elif op == IMPORT_STAR or (op == CALL_INTRINSIC_1 and arg == INTRINSIC_IMPORT_STAR):
            if last_import:
                stars.append(last_import)
    return frozenset(bound), tuple(dict.fromkeys(imports)), tuple(stars)


def star_names(module_name: str) -> set[str]:
    """The names ``from module_name import *`` binds."""
    module = sys.modules.get(module_name)
    if module is None:
        return set()
    exported = getattr(module, "__all__", None)
    if exported is not None:
        try:
            return {str(n) for n in exported}
        except TypeError:
            return set()
    return {n for n in vars(module) if not n.startswith("_")}
