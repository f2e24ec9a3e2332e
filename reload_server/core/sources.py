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
import threading
import weakref
from stat import S_ISDIR, S_ISREG
from types import CodeType, ModuleType

from . import shipped
from .results import Note

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_op = opcode.opmap
STORE_NAME = _op["STORE_NAME"]
DELETE_NAME = _op["DELETE_NAME"]
# A top-level name some function declares ``global`` is stored with these.
STORE_GLOBAL = _op["STORE_GLOBAL"]
DELETE_GLOBAL = _op["DELETE_GLOBAL"]
IMPORT_NAME = _op["IMPORT_NAME"]
IMPORT_FROM = _op["IMPORT_FROM"]
LOAD_CONST = _op["LOAD_CONST"]
EXTENDED_ARG = _op["EXTENDED_ARG"]
IMPORT_STAR = _op.get("IMPORT_STAR", -1)  # 3.12+: CALL_INTRINSIC_1 with INTRINSIC_IMPORT_STAR
CALL_INTRINSIC_1 = _op.get("CALL_INTRINSIC_1", -1)
INTRINSIC_IMPORT_STAR = 2
LOAD_SMALL_INT = _op.get("LOAD_SMALL_INT", -1)  # 3.14+
_WANTED = bytes(
    op
    in (STORE_NAME, DELETE_NAME, STORE_GLOBAL, DELETE_GLOBAL, IMPORT_NAME, IMPORT_FROM)
    + (EXTENDED_ARG, IMPORT_STAR, CALL_INTRINSIC_1)
    for op in range(256)
)


class Source:
    """The new code of one module, compiled and ready to run."""

    __slots__ = (
        "name",
        "module",
        "file",
        "stat",
        "code",
        "bound",
        "imports",
        "star_imports",
        "copies",
        "before",
        "reads",
        "data",
        "plan",
        "derived",
    )

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
        copies: dict[str, tuple[str, str]] | None = None,
        reads: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.name = name
        self.module = module
        self.file = file
        self.stat = stat
        self.code = code
        self.bound = bound
        self.imports = imports
        self.star_imports = star_imports
        #: ``{local name: (module, name)}`` for each ``from module import name [as local]``
        #: whose binding the module body does not overwrite later.
        self.copies = copies if copies is not None else {}
        #: The names the code the module ran before bound, when known (set by the reload).
        self.before: frozenset[str] | None = None
        #: ``(module, name)`` for each ``from module import name`` the top level runs,
        #: in code order: what it reads from another module while it runs.
        self.reads = reads
        #: The bytes the code was compiled from.
        self.data = b""
        #: How the reload runs this source (a :class:`.statements.Plan`), None for all of it.
        self.plan: object = None
        #: ``code`` was derived from the code the module ran, not compiled from
        #: ``data`` (:mod:`.bodyedit`): compile ``data`` before running all of it.
        self.derived = False


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


# Code compiled by another process from exactly these bytes as this file (a
# fleet coordinator ships what it compiled, so that N workers do not compile
# the same text N times): taken once instead of compiling.
_precompiled: dict[tuple[str, bytes], CodeType] = {}
_precompiled_lock = threading.Lock()


def precompiled(file: str, data: bytes, code: CodeType | None) -> None:
    """Use ``code`` the next time ``data`` is compiled as ``file``; None forgets it."""
    with _precompiled_lock:
        if code is None:
            _precompiled.pop((file, data), None)
        else:
            _precompiled[(file, data)] = code


def load(
    name: str,
    module: ModuleType,
    file: str,
    text: str | None = None,
    derive: Callable[[bytes], CodeType | None] | None = None,
) -> Source:
    """Read and compile ``file`` for module ``name``; raises :class:`CompileFailed`.

    With ``text``, that is compiled as ``file``'s content instead of what the
    disk holds (a fleet reload ships the coordinator's source to processes on
    other machines); the file is only stat'ed, if it exists.  ``derive`` may
    return, for the bytes read, the code compiling them would give, made some
    cheaper way; None compiles them.
    """
    if text is not None:
        # A blank stat (mtime 0) unless the disk holds the text keeps the module
        # stale: the code running is not what the file says.
        st = shipped.on_disk(file, text) or os.stat_result((0,) * 10)
        return _compile(name, module, file, text.encode("utf-8"), st, derive)
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
    return _compile(name, module, file, data, st, derive)


def _compile(
    name: str,
    module: ModuleType,
    file: str,
    data: bytes,
    st: os.stat_result,
    derive: Callable[[bytes], CodeType | None] | None = None,
) -> Source:
    with _precompiled_lock:
        code = _precompiled.pop((file, data), None) if _precompiled else None
    derived = code is None and derive is not None and (code := derive(data)) is not None
    try:
        if code is None:
            code = compile(data, file, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise CompileFailed(_syntax_note(name, file, e)) from None
    except (ValueError, UnicodeDecodeError) as e:  # NUL bytes, undecodable source
        raise CompileFailed(
            Note(
                f"{type(e).__name__}: {e}", kind="syntax", module=name, file=file, line=1, column=1
            )
        ) from None
    bound, imports, stars, copies, reads = _scan(code, _package_of(name, module))
    source = Source(name, module, file, st, code, bound, imports, stars, copies, reads)
    source.data = data
    source.derived = derived
    return source


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


def _package_of(name: str, module: ModuleType | dict) -> str:
    if "__path__" in (module if isinstance(module, dict) else module.__dict__):
        return name
    return name.rpartition(".")[0]


def absolute_name(target: str, level: int, package: str) -> str | None:
    """The module a relative import of ``target`` at ``level`` in ``package`` names, or None."""
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
    code: CodeType, package: str
) -> tuple[
    frozenset[str],
    tuple[str, ...],
    tuple[str, ...],
    dict[str, tuple[str, str]],
    tuple[tuple[str, str], ...],
]:
    """Names bound at top level, modules imported and star-imported, from-import copies and reads.

    A copy is an IMPORT_FROM followed by its store; a later top-level store of
    the same name makes the name the module's own again.
    """
    raw = code.co_code
    names = code.co_names
    consts = code.co_consts
    bound: set[str] = set()
    imports: list[str] = []
    stars: list[str] = []
    ext = 0
    last_import: str | None = None
    from_module: str | None = None  # the module of the ``from … import`` being read
    pending: str | None = None  # the name IMPORT_FROM just fetched, until it is stored
    copies: dict[str, tuple[str, str]] = {}
    reads: list[tuple[str, str]] = []
    ops, args = raw[::2], raw[1::2]
    for unit, op in enumerate(ops):
        if not _WANTED[op]:  # most instructions (and 3.11+'s inline caches)
            ext = 0
            continue
        arg = args[unit] | ext
        if op == EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        if op == STORE_NAME or op == STORE_GLOBAL or op == DELETE_NAME or op == DELETE_GLOBAL:
            local = names[arg]
            bound.add(local)
            if pending is not None and from_module and op != DELETE_NAME and op != DELETE_GLOBAL:
                copies[local] = (from_module, pending)
            else:
                copies.pop(local, None)
            pending = None
        elif op == IMPORT_FROM:
            pending = names[arg]
            if from_module:
                reads.append((from_module, pending))
        elif op == IMPORT_NAME:
            fromlist, at = _loaded_before(ops, args, consts, unit)
            level, _ = _loaded_before(ops, args, consts, at)
            target = names[arg]
            absolute = absolute_name(target, level if isinstance(level, int) else 0, package)
            last_import = absolute
            # ``import a.b as c`` also uses IMPORT_FROM, with no fromlist: no copy.
            from_module = absolute if isinstance(fromlist, tuple) else None
            pending = None
            if absolute:
                imports.append(absolute)
                if isinstance(fromlist, tuple):
                    imports.extend(f"{absolute}.{x}" for x in fromlist if x != "*")
        elif op == IMPORT_STAR or (op == CALL_INTRINSIC_1 and arg == INTRINSIC_IMPORT_STAR):
            if last_import:
                stars.append(last_import)
    return frozenset(bound), tuple(dict.fromkeys(imports)), tuple(stars), copies, tuple(reads)


def _loaded_before(ops: bytes, args: bytes, consts: tuple, unit: int) -> tuple[object, int]:
    """The constant the instruction before code unit ``unit`` loads (None if it loads none),
    and the unit that instruction starts at: an import loads its level, then its fromlist."""
    at = unit - 1
    if at < 0:
        return None, 0
    op, arg, shift = ops[at], args[at], 8
    while at > 0 and ops[at - 1] == EXTENDED_ARG:
        at -= 1
        arg |= args[at] << shift
        shift += 8
    if op == LOAD_CONST:
        return consts[arg], at
    if op == LOAD_SMALL_INT:
        return arg, at
    return None, at


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


class Facts:
    """What one version of a module's code binds and copies, and which version that was."""

    __slots__ = ("file", "mtime_ns", "size", "bound", "copies", "origins", "loaded")

    def __init__(
        self,
        file: str,
        mtime_ns: int,
        size: int,
        bound: frozenset[str],
        copies: dict[str, tuple[str, str]],
        loaded: bool,
    ) -> None:
        self.file = file
        self.mtime_ns = mtime_ns
        self.size = size
        self.bound = bound
        self.copies = copies
        #: The modules those copies come from.
        self.origins = frozenset(source for source, _ in copies.values())
        #: True when these are the facts of the code the module runs (recorded by a
        #: reload, or read while its file was still the version it loaded); False
        #: for a file read after it changed, which the module may not run.
        self.loaded = loaded


# Per module name, the facts of the code it runs or of its file as last read:
# one entry per module, replaced when a newer version is seen.  Nothing is noted
# at import time (that would cost every import): a module's file is read the
# first time a reload needs its facts, then once per version of the file.
_facts: dict[str, Facts] = {}
#: Read-only view for :mod:`.references`.
facts_by_module = _facts


# Per module name, the module code a reload last ran in it (the whole new
# source's, whatever part of it ran): the next reload compares against it.  Kept
# apart from the facts, which a read of a changed file replaces; tied to the
# module object, so a fresh import of the name does not inherit it.
# ``importlib.reload`` (or any other re-import) gives the module a new ``__spec__``:
# then the code it runs is no longer the one recorded.
# The source bytes are kept with the code, for :mod:`.bodyedit`.
_running: dict[str, tuple[weakref.ref, str, CodeType, object, bytes]] = {}


def remember(source: Source) -> None:
    """Record ``source`` as the code its module now runs."""
    st = source.stat
    _facts[source.name] = Facts(
        source.file, st.st_mtime_ns, st.st_size, source.bound, source.copies, True
    )
    module = source.module
    _running[source.name] = (
        weakref.ref(module),
        source.file,
        source.code,
        module.__dict__.get("__spec__"),
        source.data,
    )


def running_version(name: str, module: ModuleType, file: str) -> tuple[CodeType, bytes] | None:
    """The module code ``module`` runs and the bytes it was compiled from, if a reload recorded them."""
    running = _running.get(name)
    if (
        running is not None
        and running[0]() is module
        and running[1] == file
        and running[3] is module.__dict__.get("__spec__")
    ):
        return running[2], running[4]
    return None


def file_facts(module: ModuleType, file: str, st: os.stat_result) -> Facts:
    """The facts of ``file`` as it is at ``st``: read once per version, from its ``.pyc`` or source.

    The ``.pyc`` is used only when its header names this version of the source
    (mtime and size, as importlib checks them); else the source is compiled.
    The result is kept, not :attr:`Facts.loaded`, until the file changes.
    """
    name = module.__name__
    facts = _facts.get(name)
    if (
        facts is not None
        and facts.file == file
        and facts.mtime_ns == st.st_mtime_ns
        and facts.size == st.st_size
    ):
        return facts
    code = _cached_code(file, st, same=True)
    if code is None:
        try:
            source = load(name, module, file)
        except CompileFailed:
            source = None
        if source is not None and (
            source.stat.st_mtime_ns == st.st_mtime_ns and source.stat.st_size == st.st_size
        ):
            code = source.code
    if code is None:
        # Unreadable, or changed again while read: known to copy nothing, for now.
        return Facts(file, -1, -1, frozenset(), {}, False)
    bound, _, _, copies, _ = _scan(code, _package_of(name, module))
    facts = _facts[name] = Facts(file, st.st_mtime_ns, st.st_size, bound, copies, False)
    return facts


def previous_bound(source: Source) -> frozenset[str] | None:
    """The names bound by the code ``source.module`` ran until now, if that can be known.

    Known when its last reload was seen or its facts were read while its file
    was still the version it loaded; else from a ``.pyc`` left from another
    version of the file (the import's); else None.  Call before the new code runs.
    """
    facts = _facts.get(source.name)
    st = source.stat
    if facts is not None and facts.file == source.file and facts.loaded:
        return facts.bound
    code = _cached_code(source.file, st, same=False)
    if code is None:
        return None
    return _scan(code, _package_of(source.name, source.module))[0]


def previous_code(source: Source) -> tuple[CodeType | None, bool]:
    """The module code ``source.module`` runs until now, and whether that is sure.

    Sure when its last reload recorded it; else the ``.pyc`` its import left
    (of another version of the file, or of this one if the file is unchanged),
    which the caller must check against the live functions; else None.
    """
    running = running_version(source.name, source.module, source.file)
    if running is not None:
        return running[0], True
    code = _cached_code(source.file, source.stat, same=False)
    if code is None:
        code = _cached_code(source.file, source.stat, same=True)
    if code is None:
        code = _cached_lines_code(source)
    return code, False


def _cached_lines_code(source: Source) -> CodeType | None:
    """The code of the lines :mod:`linecache` holds of the file, if they are the version imported.

    They are when the file's mtime they were read at is not later than the
    start of the module's import (a traceback or ``inspect`` read them).
    """
    cache = sys.modules.get("linecache")
    entry = cache.cache.get(source.file) if cache is not None else None
    if not entry or len(entry) != 4 or entry[1] is None:
        return None
    from .importclock import installed_ns, started_ns

    if entry[1] * 1e9 > started_ns.get(source.name, installed_ns):
        return None
    try:
        return compile("".join(entry[2]), source.file, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None


def _cached_code(file: str, st: os.stat_result, same: bool) -> CodeType | None:
    """The code in ``file``'s timestamped ``.pyc``: of the source at ``st`` if ``same``, else of another."""
    import importlib.util
    import marshal

    try:
        with open(importlib.util.cache_from_source(file), "rb") as f:
            data = f.read()
    except (OSError, ValueError, NotImplementedError):
        return None
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    if int.from_bytes(data[4:8], "little") != 0:
        return None  # hash-based: says nothing of which version it holds
    mtime = int.from_bytes(data[8:12], "little")
    size = int.from_bytes(data[12:16], "little")
    matches = mtime == (int(st.st_mtime) & 0xFFFFFFFF) and size == (st.st_size & 0xFFFFFFFF)
    if matches != same:
        return None
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None
