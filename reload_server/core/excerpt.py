"""The top-level statements a reload runs, cut out of the module code already compiled.

A reload that runs some statements of a module (:mod:`.statements`) needs a
code object of those statements alone.  Compiling their lines again costs as
much as compiling that share of the file a second time.  When the statements
are straight-line code — no jump, no exception handler: definitions,
assignments, calls and imports, which is what a module's top level mostly is —
their instructions are copied out of the module code instead, with their
positions, so tracebacks name the file's lines.  Each statement's instructions
must leave the value stack as they found it (checked), which they do exactly
when they were told apart right.  Anything else (a jump, a ``try``, ``with`` or
annotations at top level, another Python than 3.11, whose code layout this
knows) returns None: the caller compiles the lines.
"""

from __future__ import annotations

import bisect
import dis
import opcode
import sys
from itertools import islice
from types import CodeType

#: Whether this Python's code layout and location table are the ones this module writes.
SUPPORTED = sys.version_info[:2] == (3, 11)
_CACHE = dis.opmap.get("CACHE", -1)
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_RESUME = dis.opmap.get("RESUME", -1)
_LOAD_CONST = dis.opmap["LOAD_CONST"]
_RETURN_VALUE = dis.opmap["RETURN_VALUE"]
_HASCONST = frozenset(dis.hasconst)
_HAVE_ARGUMENT = dis.HAVE_ARGUMENT
# Inline cache units after each opcode (3.11: a list by opcode).
_CACHES = getattr(opcode, "_inline_cache_entries", None) if SUPPORTED else None
if not isinstance(_CACHES, list) or len(_CACHES) != 256:
    SUPPORTED = False
# Control flow, and what needs the whole module's set-up to run.
_REFUSED = frozenset(
    [*dis.hasjrel, *dis.hasjabs, _RETURN_VALUE]
    + [dis.opmap[n] for n in ("SETUP_ANNOTATIONS", "YIELD_VALUE") if n in dis.opmap]
)


def cut(code: CodeType, ranges: list[tuple[int, int]]) -> CodeType | None:
    """The module code that runs only the statements on lines ``ranges`` (first, last; in
    source order) of ``code``, or None when they cannot be cut out safely."""
    if not SUPPORTED or code.co_exceptiontable or not ranges:
        return None
    raw = code.co_code
    positions = list(code.co_positions())
    groups = _groups(raw)
    if not groups or groups[0][2] != _RESUME:
        return None
    consts = code.co_consts
    # The implicit ``return None`` that ends every module code.
    if (
        len(groups) >= 3
        and groups[-1][2] == _RETURN_VALUE
        and groups[-2][2] == _LOAD_CONST
        and consts[groups[-2][3]] is None
    ):
        body = groups[1:-2]
    else:
        return None
    firsts = [first for first, _ in ranges]
    kept: list[tuple[int, int, int, int, int]] = [groups[0]]
    current = -1
    done: set[int] = set()
    depth = 0
    for group in body:
        line = positions[group[4]][0]
        if line is not None:
            at = bisect.bisect_right(firsts, line) - 1
            where = at if at >= 0 and line <= ranges[at][1] else -1
            if where != current:
                if depth != 0 or (where >= 0 and where in done):
                    return None  # a statement split, or the stack left unbalanced
                done.add(current)
                current = where
        if current < 0:
            continue
        op, arg = group[2], group[3]
        if op in _REFUSED:
            return None
        depth += dis.stack_effect(op, arg if op >= _HAVE_ARGUMENT else None)
        if depth < 0:
            return None
        kept.append(group)
    if depth != 0:
        return None
    return _assemble(code, positions, kept)


def _assemble(
    code: CodeType,
    positions: list[tuple] | dict[int, tuple],
    kept: list[tuple[int, int, int, int, int]],
) -> CodeType | None:
    """The module code running the ``kept`` instruction groups (its ``RESUME`` first), then
    returning None."""
    out, new_consts = _copy(code.co_code, kept, code.co_consts)
    if out is None:
        return None
    none = _index(new_consts, None)
    if none > 255:
        return None
    out += bytes((_LOAD_CONST, none, _RETURN_VALUE, 0))
    table = location_table(
        [positions[u] for g in kept for u in range(g[0], g[1])], 2, code.co_firstlineno
    )
    try:
        cut_code = code.replace(
            co_code=bytes(out),
            co_consts=tuple(new_consts),
            co_linetable=table,
            co_exceptiontable=b"",
        )
    except (ValueError, TypeError):
        return None
    return cut_code


_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_BACKWARD = frozenset(op for op in _JUMPS if "BACKWARD" in dis.opname[op])
# No fall-through to the next instruction.
_ENDS = frozenset(
    dis.opmap[n]
    for n in ("JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "RETURN_VALUE")
    if n in dis.opmap
) | frozenset(dis.opmap[n] for n in ("RAISE_VARARGS", "RERAISE") if n in dis.opmap)


class TopLevel:
    """A module code's top-level statements that run unconditionally, as instruction groups.

    A statement is a run of instructions that starts and ends on an empty value
    stack (found by following the stack depth through every jump) and that no
    jump skips, repeats or enters: the code of an ``if`` or loop body is never
    one, so running a statement alone runs what the module ran at that point.
    """

    __slots__ = ("code", "groups", "starts", "spans")

    def __init__(self, code: CodeType, groups: list, spans: list[tuple[int, int]]) -> None:
        self.code = code
        self.groups = groups
        #: The first code unit of each group, for :func:`bisect.bisect_right`.
        self.starts = [g[0] for g in groups]
        #: ``[first, end)`` group indexes of each statement, in order.
        self.spans = spans

    @classmethod
    def of(cls, code: CodeType) -> TopLevel | None:
        """The statements of ``code``, or None when its layout is not one this reads."""
        if not SUPPORTED or code.co_exceptiontable:
            return None
        groups = _groups(code.co_code)
        if len(groups) < 3 or groups[0][2] != _RESUME or groups[-1][2] != _RETURN_VALUE:
            return None
        index = {g[0]: i for i, g in enumerate(groups)}
        depth: list[int | None] = [None] * (len(groups) + 1)
        depth[1] = 0
        jumps: list[tuple[int, int]] = []
        for i in range(1, len(groups)):
            d = depth[i]
            if d is None:
                return None  # reached only by a jump back: not a layout this follows
            _, end, op, arg, _ = groups[i]
            if op in _JUMPS:
                j = index.get(end - arg if op in _BACKWARD else end + arg)
                if j is None:
                    return None
                after = d + dis.stack_effect(op, arg, jump=True)
                if depth[j] is None:
                    depth[j] = after
                elif depth[j] != after:
                    return None
                jumps.append((i, j))
            if op not in _ENDS:
                after = d + dis.stack_effect(op, arg if op >= _HAVE_ARGUMENT else None, jump=False)
                if depth[i + 1] is None:
                    depth[i + 1] = after
                elif depth[i + 1] != after:
                    return None
        spans = []
        first = 1
        for i in range(2, len(groups)):
            if depth[i] == 0:
                spans.append((first, i))
                first = i
        # The implicit ``return None`` at the end is no statement of the source.
        spans = [span for span in spans if _unconditional(span, jumps)]
        return cls(code, groups, spans)

    def around(self, unit: int) -> tuple[int, int] | None:
        """The statement whose instructions include code unit ``unit``, if it is one."""
        at = bisect.bisect_right(self.starts, unit) - 1
        for span in self.spans:
            if span[0] <= at < span[1]:
                return span
        return None

    def cut(self, spans: list[tuple[int, int]], code: CodeType | None = None) -> CodeType | None:
        """The module code running only these statements, in order (see :func:`cut`), taken
        from ``code`` when given: a code of the same instructions as this one's but for the
        constant slots they load."""
        kept = [self.groups[0]]
        for first, end in sorted(spans):
            kept.extend(self.groups[first:end])
        code = code or self.code
        # Only the kept units' positions: listing all of a large module's costs more.
        positions: dict[int, tuple] = {}
        units = code.co_positions()
        done = 0
        for first, end, *_ in kept:
            if first < done:
                return None
            positions.update(zip(range(first, end), islice(units, first - done, end - done)))
            done = end
        return _assemble(code, positions, kept)


def _unconditional(span: tuple[int, int], jumps: list[tuple[int, int]]) -> bool:
    """Whether no jump skips, repeats or lands inside the groups of ``span``."""
    first, end = span
    for source, target in jumps:
        if first <= source < end:
            return False  # the statement itself jumps
        if source < target:  # skips the groups between the two
            if first < target and source < end - 1:
                return False
        elif target < end and first <= source:  # repeats the groups from target to source
            return False
    return True


def _groups(raw: bytes) -> list[tuple[int, int, int, int, int]]:
    """``(first unit, end unit, opcode, argument, opcode's unit)`` of each instruction,
    its ``EXTENDED_ARG`` prefixes and its inline caches included."""
    groups = []
    units = len(raw) // 2
    u = 0
    while u < units:
        start = u
        ext = 0
        while raw[2 * u] == _EXTENDED_ARG:
            ext = (ext | raw[2 * u + 1]) << 8
            u += 1
        op = raw[2 * u]
        end = u + 1 + _CACHES[op]
        groups.append((start, end, op, raw[2 * u + 1] | ext, u))
        u = end
    return groups


def argument(raw: bytes, start: int, at: int) -> int:
    """The argument of the instruction at unit ``at`` of ``raw``, its ``EXTENDED_ARG`` prefixes
    from unit ``start`` on.  Read from the bytes, not from a group's argument: the groups of a
    :class:`TopLevel` may be those of another code of the same instructions, loading other
    constant slots."""
    arg = 0
    for unit in range(start, at + 1):
        arg = arg << 8 | raw[2 * unit + 1]
    return arg


def _copy(
    raw: bytes, kept: list[tuple[int, int, int, int, int]], consts: tuple
) -> tuple[bytearray | None, list]:
    """The kept instructions' bytes, with constants renumbered into a table of only theirs."""
    out = bytearray()
    new_consts: list = []
    seen: dict[int, int] = {}
    for start, end, op, _, at in kept:
        chunk = bytearray(raw[2 * start : 2 * end])
        if op in _HASCONST:
            arg = argument(raw, start, at)
            index = seen.get(arg)
            if index is None:
                index = seen[arg] = len(new_consts)
                new_consts.append(consts[arg])
            width = at - start  # EXTENDED_ARG prefixes
            if index >> (8 * (width + 1)):
                return None, new_consts
            for i in range(width + 1):
                chunk[2 * i + 1] = (index >> (8 * (width - i))) & 0xFF
        out += chunk
    return out, new_consts


def _index(consts: list, value: object) -> int:
    for i, c in enumerate(consts):
        if c is value:
            return i
    consts.append(value)
    return len(consts) - 1


def location_table(positions: list[tuple], tail: int, firstline: int) -> bytes:
    """The 3.11 location table of these positions, one per code unit, then ``tail`` units
    with no location.  Runs of equal positions (an instruction and its caches) share an
    entry, in the long form (header ``0xF0``) or the no-location one (``0xF8``)."""
    out = bytearray()
    previous = firstline
    count = len(positions)
    i = 0
    while i < count:
        here = positions[i]
        j = i + 1
        while j < count and j - i < 8 and positions[j] == here:
            j += 1
        line, end_line, col, end_col = here
        if line is None:
            out.append(0xF8 | (j - i - 1))
        else:
            out.append(0xF0 | (j - i - 1))
            delta = line - previous
            fields = (
                (-delta << 1) | 1 if delta < 0 else delta << 1,
                end_line - line if end_line is not None else 0,
                col + 1 if col is not None else 0,
                end_col + 1 if end_col is not None else 0,
            )
            if max(fields) < 64:
                out += bytes(fields)
            else:
                for value in fields:
                    _varint(out, value)
            previous = line
        i = j
    if tail:
        out.append(0xF8 | (tail - 1))
    return bytes(out)


def _varint(out: bytearray, value: int) -> None:
    while value >= 64:
        out.append(0x40 | (value & 63))
        value >>= 6
    out.append(value)
