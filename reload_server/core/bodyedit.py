"""An edit inside one function's body: its new code without compiling the whole file.

The everyday edit changes a few lines of one function.  Compiling the whole
file and comparing every top-level statement (:mod:`.statements`) costs more
than :func:`importlib.reload`, which compiles and runs it.  When the new bytes
differ from those the module's code was compiled from only within one
top-level function or one method of a top-level class, only that definition's
lines are compiled, old and new, each at its own lines and columns (a method
inside a class statement of its class's name, so that its qualified name and
private names are the class's).  If their instructions outside the body are
the same (decorators, defaults, annotations), the new module code is the old
one with that function's code replaced and, when the edit added or removed
lines, the code after it moved to its new lines (3.11's location table): what
compiling the file would give, but for the column where the definition's last
instruction ends.

The plan is then to give the live function the new code (:func:`plan`); when
there is no such function the caller plans as usual, and a module that runs
whole compiles its bytes (``Source.derived``).
"""

from __future__ import annotations

from types import CodeType

from .excerpt import SUPPORTED, location_table
from .statements import (
    _FUTURE_FLAGS,
    Plan,
    _instructions,
    _live_function,
    _same_body,
    is_function_body,
)

# Per derived module code (held, so that the id stays its own): the code it was
# derived from, the qualified name of the function edited, and its old and new code.
_derived: dict[int, tuple[CodeType, CodeType, str, CodeType, CodeType]] = {}


def derive(file: str, old: CodeType, old_data: bytes, data: bytes) -> CodeType | None:
    """The module code of ``data`` made from ``old`` (compiled from ``old_data``), or None."""
    _derived.clear()  # one reload at a time: what the last one derived is done with
    if not hasattr(old, "co_qualname"):
        return None  # 3.10: no qualified names or positions on code objects
    if b"coding" in data[:200] or b"coding" in old_data[:200]:
        return None  # the definition's lines alone would lose the encoding
    # Whole lines before the change and after it, read from the bytes: comparing
    # lists of lines compares every line up to the change, on every reload.  Near
    # an insertion of a line like its neighbours the bytes may count one line
    # fewer than the lines would: the change then looks a line longer (safe).
    prefix = _common_prefix(old_data, data)
    if prefix == len(old_data) == len(data):
        return None  # the same bytes: a forced reload runs the module whole
    first = old_data.count(b"\n", 0, prefix)  # lines before the change
    # The first line changed, or the one above it where lines were only inserted, is in
    # the definition edited: else no definition holds the edit (an edit of the whole
    # file, of its docstring), and that is told before reading further.
    if _enclosing(old, first + 1, first + 1) is None and (
        first < 1 or _enclosing(old, first, first) is None
    ):
        return None
    suffix = _common_suffix(old_data, data, min(len(old_data), len(data)) - prefix)
    old_count, new_count = old_data.count(b"\n") + 1, data.count(b"\n") + 1
    tail = min(
        old_data.count(b"\n", len(old_data) - suffix),
        min(old_count, new_count) - first,
    )
    moved = new_count - old_count  # how far the lines after the change move
    if moved and not SUPPORTED:
        return None
    last = old_count - tail  # the last old line changed (1-based)
    # Lines only inserted: between line ``first`` and the next, both in the function.
    low, high = (first + 1, last) if last > first else (first, first + 1)
    where = _enclosing(old, low, high)
    if where is None:
        return None
    owner, function = where
    start = function.co_firstlineno
    end = _last_line(function)
    if end + moved < start:
        return None
    flags = old.co_flags & _FUTURE_FLAGS
    old_lines = old_data.split(b"\n")
    new_lines = data.split(b"\n")
    old_small = _compile_lines(old_lines, start, end, owner, file, flags)
    new_small = _compile_lines(new_lines, start, end + moved, owner, file, flags)
    if old_small is None or new_small is None:
        return None
    old_shell, old_body = old_small
    new_shell, new_body = new_small
    if old_shell != new_shell or old_body.co_qualname != function.co_qualname:
        return None  # a decorator, a default or the signature's shell changed
    if _same_body(old_body, function) is False:
        return None  # the bytes kept are not those the running code came from
    if owner is None:
        new = _replace(old, function, new_body, first + 1, last, moved)
    else:
        body = _replace(owner, function, new_body, first + 1, last, moved)
        new = None if body is None else _replace(old, owner, body, first + 1, last, moved)
    if new is None:
        return None
    _derived[id(new)] = (new, old, function.co_qualname, function, new_body)
    return new


def plan(new: CodeType, old: CodeType, ns: dict, reloaded: set[str]) -> Plan | None:
    """The plan for a module code :func:`derive` made from ``old``: the live function gets
    the new body.  None when ``new`` was not derived so, or no live function runs the old body.
    """
    entry = _derived.pop(id(new), None)
    if entry is None or entry[0] is not new or entry[1] is not old or len(reloaded) != 1:
        # Another target reloaded with it: its imports of that target must run again.
        return None
    _, _, qualname, old_body, new_body = entry
    if _same_body(new_body, old_body):
        return Plan(None, [], 0, 1)
    stale: list[object] = []
    live = _live_function(ns, qualname, old_body, set(), stale)
    if live is None:
        return None
    return Plan(None, [(live, new_body)], 0, 1, stale)


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """How many trailing bytes ``a`` and ``b`` share, at most ``limit``."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[-mid:] == b[-mid:]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes ``a`` and ``b`` share (slices compare in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _enclosing(module: CodeType, first: int, last: int) -> tuple[CodeType | None, CodeType] | None:
    """The top-level function, or method of a top-level class, whose lines hold ``first``…``last``.

    ``(None, function)`` or ``(class body, method)``; None if the lines are elsewhere.
    """
    owner, found = _latest_before(module, first)
    if found is None:
        return None
    if not is_function_body(found):
        if found.co_name.startswith("<"):
            return None
        owner, found = found, _latest_before(found, first)[1]
        if found is None or not is_function_body(found):
            return None
    else:
        owner = None
    if found.co_firstlineno > first or _last_line(found) < last:
        return None
    return owner, found


def _latest_before(code: CodeType, line: int) -> tuple[CodeType, CodeType | None]:
    """The code constant of ``code`` that starts last at or before ``line``."""
    best = None
    for c in code.co_consts:
        if isinstance(c, CodeType) and c.co_firstlineno <= line:
            if best is None or c.co_firstlineno > best.co_firstlineno:
                best = c
    return code, best


def _last_line(code: CodeType) -> int:
    """The last line any instruction of ``code`` or of the code nested in it spans."""
    last = code.co_firstlineno
    for _, end, _, _ in code.co_positions():
        if end is not None and end > last:
            last = end
    for c in code.co_consts:
        if isinstance(c, CodeType):
            last = max(last, _last_line(c))
    return last


def _compile_lines(
    lines: list[bytes], start: int, end: int, owner: CodeType | None, file: str, flags: int
) -> tuple[list[tuple], CodeType] | None:
    """Lines ``start``…``end`` compiled at their place: the keys of the instructions around
    the function they define, and its code."""
    text = lines[start - 1 : end]
    if owner is None:
        head = [b""] * (start - 1)
    else:
        if start < 2:
            return None
        head = [b""] * (start - 2) + [b"class " + owner.co_name.encode() + b":"]
    try:
        small = compile(
            b"\n".join(head + text) + b"\n", file, "exec", flags=flags, dont_inherit=True
        )
    except (SyntaxError, ValueError):
        return None
    if owner is not None:
        bodies = [c for c in small.co_consts if isinstance(c, CodeType)]
        if len(bodies) != 1:
            return None
        small = bodies[0]
    functions = [c for c in small.co_consts if isinstance(c, CodeType)]
    if len(functions) != 1 or not is_function_body(functions[0]):
        return None
    keys = [i.key for i in _instructions(small) if i.line is None or i.line >= start]
    return keys, functions[0]


def _replace(
    code: CodeType, old: CodeType, new: CodeType, low: int, last: int, moved: int
) -> CodeType | None:
    """``code`` with its constant ``old`` replaced by ``new``, and, when lines moved, what
    follows the change (old line ``last``) on its new lines.

    None when ``code`` has instructions of its own on the changed lines (``low``…``last``,
    none when lines were only inserted): their new positions are not known without
    compiling it.
    """
    consts = list(code.co_consts)
    at = [i for i, c in enumerate(consts) if c is old]
    if len(at) != 1:
        return None
    consts[at[0]] = new
    if not moved:
        return code.replace(co_consts=tuple(consts))
    for i, c in enumerate(consts):
        if isinstance(c, CodeType) and c is not new and c.co_firstlineno > last:
            consts[i] = _moved(c, moved)
    positions = []
    for line, end_line, col, end_col in code.co_positions():
        if line is not None and low <= line <= last:
            return None
        if line is not None and line > last:
            line += moved
        if end_line is not None and end_line >= low:
            # Only the definition's own instructions span into the change: to its end.
            end_line += moved
        positions.append((line, end_line, col, end_col))
    table = location_table(positions, 0, code.co_firstlineno)
    moved_code = code.replace(co_consts=tuple(consts), co_linetable=table)
    if list(moved_code.co_positions()) != positions:
        return None
    return moved_code


def _moved(code: CodeType, lines: int) -> CodeType:
    """``code`` and the code nested in it, ``lines`` further down (its positions count from
    its first line)."""
    consts = tuple(_moved(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)
