"""An edit that leaves a module's shape as it was: function bodies, docstrings, ``NAME = constant``.

The everyday edit of a whole file changes bodies and docstrings, not what the
top level does.  Splitting the new code into statements and matching each
against the old (:mod:`.statements`) costs about as much as compiling the
file; this check is cheaper: when the module codes old and new have the same
instructions and names, and their constants match pairwise — the same value
and type, a named function's body with the same signature shape (its body
may differ), a class body of the same shape whose docstring may differ —
nothing at the top level runs.  The live functions get their new bodies in
place, the live classes their new docstrings, and a constant that differs and
that one ``NAME = constant`` of the top level alone stores (nothing at the top
level reads ``NAME``) is bound anew, as running that statement would.  Any
other statement whose constants differ (``CONFIG = {"version": 3}``) runs
again alone, cut out of the new code, when it runs unconditionally, makes no
definition, imports nothing and binds only names nothing else at the top level
uses.  The instructions may load other constant slots than before (a constant
edited to a value the module has elsewhere shares that slot): they are then
compared load by load.

Anything else, or a live function or class not found, and the caller plans
statement by statement.
"""

from __future__ import annotations

import dis
import re
from abc import ABCMeta
from collections.abc import Callable
from operator import attrgetter
from types import CodeType, FunctionType

from .excerpt import TopLevel, argument
from .statements import (
    _EXTENDED_ARG,
    _HASCONST,
    _HASNAME,
    _LOAD_CONST,
    _NAME_SHIFT,
    _RETURN_CONST,
    CO_OPTIMIZED,
    Plan,
    _const_key,
    _holder,
    _live_function,
    _same_body,
    fingerprint,
    is_function_body,
)

_STORE_NAME = dis.opmap["STORE_NAME"]
_CONST_OPS = sorted(_HASCONST | ({_RETURN_CONST} if _RETURN_CONST >= 0 else set()))


class _Edits:
    __slots__ = ("bodies", "docs", "stores", "runs", "top")

    def __init__(self) -> None:
        #: ``(qualified name, old code, new code, unchanged)`` of each named function body.
        self.bodies: list[tuple[str, CodeType, CodeType, bool]] = []
        #: ``(class qualified name, old docstring, new docstring)`` of each class docstring edited.
        self.docs: list[tuple[str, str, str]] = []
        #: ``(name, old value, new value)`` of each top-level ``NAME = constant`` edited.
        self.stores: list[tuple[str, object, object]] = []
        #: ``[first, end)`` instruction groups of each top-level statement that runs again
        #: (a constant in it changed), and the names they bind.
        self.runs: set[tuple[int, int]] = set()
        self.top: TopLevel | None = None


def plan(
    new: CodeType,
    old: CodeType,
    ns: dict,
    reloaded: dict[str, frozenset[str] | None],
    verify: bool,
) -> Plan | None:
    """The plan when ``new`` has ``old``'s shape, else None (plan statement by statement).

    With ``verify`` every live function must run ``old``'s code for it.
    """
    if not hasattr(new, "co_qualname"):
        return None  # 3.10: no qualified names on code objects
    if any(rebound is None or rebound for rebound in reloaded.values()):
        return None  # a module reloaded with it rebinds names its imports may read
    if "__reload__" in new.co_names:
        return None
    if new.co_names != old.co_names or new.co_flags != old.co_flags:
        return None
    loads = None
    if new.co_code != old.co_code:
        # A constant edited to a value the module has elsewhere shares its slot: the
        # same instructions may load other slots.  Compared load by load instead.
        loads = _const_loads(new, old)
        if loads is None:
            return None
    try:
        return _plan(new, old, ns, verify, loads)
    finally:
        _used.clear()
        _found.clear()
        _found.update(_next)
        _next.clear()


def _plan(
    new: CodeType, old: CodeType, ns: dict, verify: bool, loads: list[tuple[int, int, int]] | None
) -> Plan | None:
    edits = _Edits()
    if loads is None:
        changed = _compare_consts(new, old, edits)
        if changed is None:
            return None
        if changed and not _module_stores(new, old, changed, edits):
            return None
    elif not _compare_loads(new, old, loads, edits):
        return None
    claimed: set[int] = set()
    stale: list[object] = []
    recode: list[tuple[FunctionType, CodeType]] = []
    for qualname, old_code, new_code, same in edits.bodies:
        if same and not verify:
            continue
        live = _running(ns, qualname, old_code, claimed, None if same else stale)
        if live is None:
            return None
        if not same:
            recode.append((live, new_code))
    docs: list[tuple[type, str]] = []
    for qualname, old_doc, new_doc in edits.docs:
        cls = _holder(ns, qualname)
        if not _plain_class(cls, qualname, old_doc):
            return None
        docs.append((cls, new_doc))
    for name, old_value, _ in edits.stores:
        if name not in ns or _const_key(ns[name]) != _const_key(old_value):
            return None  # not bound by that statement (an ``if`` not taken), or bound since
    binds = {name: value for name, _, value in edits.stores}
    code = None
    rebound = set(binds)
    if edits.runs:
        assert edits.top is not None
        # The statements may have been found in the code before, of the same instructions.
        code = edits.top.cut(sorted(edits.runs), new)
        if code is None:
            return None
        rebound.update(_stored_names(new, edits.top, edits.runs))
    return Plan(
        code,
        recode,
        len(binds) + len(edits.runs),
        len(edits.bodies),
        stale,
        rebound=frozenset(rebound),
        docs=docs,
        binds=binds,
    )


def _compare_consts(new: CodeType, old: CodeType, edits: _Edits) -> list[int] | None:
    """The indexes of the plain constants that differ; None if the shapes differ."""
    a, b = new.co_consts, old.co_consts
    if len(a) != len(b):
        return None
    changed = []
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, CodeType):
            if not isinstance(y, CodeType) or not _same_code_shape(x, y, edits):
                return None
        elif isinstance(y, CodeType):
            return None
        elif x is not y and (type(x) is not type(y) or _const_key(x) != _const_key(y)):
            changed.append(i)
    return changed


# What a function body's code must keep for the live function to take it in place (read in
# one call: this runs for every function of the module).
_signature = attrgetter(
    "co_qualname",
    "co_flags",
    "co_argcount",
    "co_posonlyargcount",
    "co_kwonlyargcount",
    "co_freevars",
    "co_cellvars",
)


def _same_code_shape(new: CodeType, old: CodeType, edits: _Edits) -> bool:
    qualname = new.co_qualname
    if new.co_flags & CO_OPTIMIZED and qualname[0] != "<" and qualname[-1] != ">":
        # A named function's body (the test of :func:`.statements.is_function_body`, inline:
        # this runs for every function of the module).
        if _signature(new) != _signature(old):
            return False
        # Unequal values are different constants whatever their types: most edited
        # bodies are told apart without a fingerprint (a needless recode is harmless),
        # and before reading ``co_code``, which 3.11 makes anew for a fresh code.
        # One that moved to other lines gets its new code too, for its tracebacks.
        same = (
            new.co_consts == old.co_consts
            and new.co_code == old.co_code
            and new.co_names == old.co_names
            and new.co_firstlineno == old.co_firstlineno
            and new.co_linetable == old.co_linetable
            and _same_body(new, old)
        )
        edits.bodies.append((qualname, old, new, same))
        return True
    if new.co_name.startswith("<") or is_function_body(old):
        # A lambda or a comprehension the top level runs: only the same code will do.
        return fingerprint(new) == fingerprint(old)
    # A class body.
    if (
        new.co_code != old.co_code
        or new.co_names != old.co_names
        or new.co_varnames != old.co_varnames
        or new.co_freevars != old.co_freevars
        or new.co_cellvars != old.co_cellvars
        or new.co_flags != old.co_flags
        or new.co_qualname != old.co_qualname
    ):
        return False
    changed = _compare_consts(new, old, edits)
    if changed is None:
        return False
    if not changed:
        return True
    if len(changed) != 1:
        return False
    at = changed[0]
    doc, old_doc = new.co_consts[at], old.co_consts[at]
    if not (isinstance(doc, str) and isinstance(old_doc, str) and doc and old_doc):
        return False  # an empty docstring is one a decorator may fill in (``dataclass``)
    if not _known(
        old, new, at, lambda: _stored_once(new, at, "__doc__") and not _reads(new, "__doc__")
    ):
        return False  # not the docstring, or the class body reads it
    edits.docs.append((new.co_qualname, old_doc, doc))
    return True


def _module_stores(new: CodeType, old: CodeType, changed: list[int], edits: _Edits) -> bool:
    """Whether each changed constant is one ``NAME = constant`` alone binds, or is read only by
    statements that may run again alone; noted in ``edits``."""
    for at in changed:
        name = _known(old, new, at, lambda: _alone_stored(new, at))  # noqa: B023 - called at once
        if name is not None:
            edits.stores.append((name, old.co_consts[at], new.co_consts[at]))
            continue
        # ~at: the other check's key for the same constant.
        found = _known(old, new, ~at, lambda: _statements_loading(old, new, at))  # noqa: B023
        if found is None:
            return False
        edits.top, spans = found
        edits.runs.update(spans)
    return True


# Only what a statement that may run again alone does: compute values, call, bind names
# and attributes.  Not what makes, imports or unbinds a definition.
_NOT_ALONE = frozenset(
    dis.opmap[n]
    for n in (
        "MAKE_FUNCTION",
        "LOAD_BUILD_CLASS",
        "IMPORT_NAME",
        "IMPORT_FROM",
        "IMPORT_STAR",
        "STORE_GLOBAL",
        "DELETE_NAME",
        "DELETE_GLOBAL",
        "SETUP_ANNOTATIONS",
        "RETURN_VALUE",
        "YIELD_VALUE",
    )
    if n in dis.opmap
)


_CONST_LOAD = re.compile(b"[" + b"".join(re.escape(bytes((op,))) for op in _HASCONST) + b"]")
_NONZERO = re.compile(b"[^\x00]")


def _const_loads(new: CodeType, old: CodeType) -> list[tuple[int, int, int]] | None:
    """``(code unit, new slot, old slot)`` of each constant the two codes load, when their
    instructions are the same but for the constant slots they load; else None.

    Byte searches rather than a loop over every instruction: this runs on every
    reload after an edit that moved a constant slot.
    """
    a, b = new.co_code, old.co_code
    ops = a[0::2]
    if len(a) != len(b) or ops != b[0::2]:
        return None
    args_a, args_b = a[1::2], b[1::2]
    loads = {}
    for match in _CONST_LOAD.finditer(ops):
        unit = match.start()
        i, j, shift, at = args_a[unit], args_b[unit], 8, unit - 1
        while at >= 0 and ops[at] == _EXTENDED_ARG:
            i, j, shift, at = i | args_a[at] << shift, j | args_b[at] << shift, shift + 8, at - 1
        loads[unit] = (unit, i, j)
    if args_a != args_b:
        size = len(args_a)
        diff = (int.from_bytes(args_a, "big") ^ int.from_bytes(args_b, "big")).to_bytes(size, "big")
        for match in _NONZERO.finditer(diff):
            unit = match.start()
            while ops[unit] == _EXTENDED_ARG:
                unit += 1
            if unit not in loads:
                return None  # another argument differs: not the same instructions
    return list(loads.values())


def _compare_loads(
    new: CodeType, old: CodeType, loads: list[tuple[int, int, int]], edits: _Edits
) -> bool:
    """:func:`_compare_consts` and :func:`_module_stores` load by load: whether the shapes are
    the same and each load of another value is in a statement that may run again alone."""
    a, b = new.co_consts, old.co_consts
    units = []
    seen = set()
    for unit, i, j in loads:
        x, y = a[i], b[j]
        if isinstance(x, CodeType) or isinstance(y, CodeType):
            if (i, j) in seen:
                continue
            seen.add((i, j))
            if not (isinstance(x, CodeType) and isinstance(y, CodeType)):
                return False
            if not _same_code_shape(x, y, edits):
                return False
        elif x is not y and (type(x) is not type(y) or _const_key(x) != _const_key(y)):
            units.append(unit)
    if units:
        # Its statements are the old code's: the same instructions, other slots.
        top = _top_level(old, new)
        if top is None:
            return False
        spans = _alone(new, top, units)
        if spans is None:
            return False
        edits.top = top
        edits.runs.update(spans)
    return True


def _statements_loading(
    old: CodeType, code: CodeType, at: int
) -> tuple[TopLevel, list[tuple[int, int]]] | None:
    """The top-level statements that load constant ``at``, when each may run again alone
    (:func:`_alone`)."""
    top = _top_level(old, code)
    if top is None:
        return None
    raw = code.co_code
    units = [g[4] for g in top.groups if g[2] in _HASCONST and argument(raw, g[0], g[4]) == at]
    spans = _alone(code, top, units)
    return None if spans is None else (top, spans)


def _alone(code: CodeType, top: TopLevel, units: list[int]) -> list[tuple[int, int]] | None:
    """The top-level statements (see :class:`.excerpt.TopLevel`) of these code units, when each
    may run again alone: it runs unconditionally, makes no definition and imports nothing, and
    each name it binds it alone uses at the top level (no other statement reads or binds it, so
    nothing else needs to run again)."""
    spans = set()
    for unit in units:
        span = top.around(unit)
        if span is None:
            return None
        spans.add(span)
    if not spans:
        return None
    for first, end in spans:
        if any(g[2] in _NOT_ALONE for g in top.groups[first:end]):
            return None
    for name in _stored_names(code, top, spans):
        if _name_uses(code, name) != 1:
            return None
        for c in code.co_consts:
            if isinstance(c, CodeType) and not is_function_body(c) and _reads(c, name):
                return None
    return sorted(spans)


def _top_level(old: CodeType, new: CodeType) -> TopLevel | None:
    """The statements of ``new``, or those found for ``old``: of the same instructions, they
    are the same (only the constants each loads may differ, which :meth:`.TopLevel.cut` reads
    from the code it is given)."""
    return _known(old, new, "top", lambda: TopLevel.of(new))  # type: ignore[return-value]


def _stored_names(code: CodeType, top: TopLevel, spans: set[tuple[int, int]] | list) -> set[str]:
    names = set()
    for first, end in spans:
        for g in top.groups[first:end]:
            if g[2] == _STORE_NAME:
                names.add(code.co_names[g[3]])
    return names


def _alone_stored(code: CodeType, at: int) -> str | None:
    """The name of the one ``NAME = constant`` that alone loads constant ``at``, if it is one
    and nothing at the top level (class bodies included) reads ``NAME``."""
    name = _stored_name(code, at)
    if name is None or not _stored_once(code, at, name):
        return None
    for c in code.co_consts:
        if isinstance(c, CodeType) and not is_function_body(c) and _reads(c, name):
            return None
    return name


# What the checks above found of the codes the last plans read (held, so that the
# ids stay theirs), per code and constant index: they depend only on instructions
# and names, which the next edit of the same shape keeps, so the next plan finds them
# under its old code.  Only the last plan's codes are kept.
_found: dict[tuple[int, object], tuple[CodeType, object]] = {}
_next: dict[tuple[int, object], tuple[CodeType, object]] = {}


def _known(old: CodeType, new: CodeType, at: object, check: Callable[[], object]) -> object:
    """``check()`` of ``new`` at constant ``at``, or what it gave for ``old`` (the same shape)."""
    hit = _next.get((id(new), at))  # found already in this plan
    if hit is not None and hit[0] is new:
        return hit[1]
    hit = _found.get((id(old), at))
    result = hit[1] if hit is not None and hit[0] is old else check()
    _next[(id(new), at)] = (new, result)
    return result


def _running(
    ns: dict, qualname: str, old_code: CodeType, claimed: set[int], stale: list[object] | None
) -> FunctionType | None:
    """:func:`.statements._live_function`, first trying the plain function or method that runs
    ``old_code`` itself, as every one does after a reload (no decorator to look through)."""
    owner, _, name = qualname.rpartition(".")
    holder = ns.get(name) if not owner else None
    if "." not in owner and owner:
        cls = ns.get(owner)
        holder = cls.__dict__.get(name) if isinstance(cls, type) else None
    if type(holder) is property:
        holder = holder.fget
    elif type(holder) in (classmethod, staticmethod):
        holder = holder.__func__
    if (
        type(holder) is FunctionType
        and holder.__code__ is old_code
        and holder.__qualname__ == qualname
        and id(holder) not in claimed
    ):
        claimed.add(id(holder))
        if stale is not None and owner:
            stale.append(ns[owner])  # an ABC's ``isinstance`` cache may hold its answers
        return holder
    return _live_function(ns, qualname, old_code, claimed, stale)


def _count(raw: bytes, op: int, arg: int) -> int:
    """How many instructions of ``raw`` are ``op`` with argument ``arg`` (past 16 bits, or
    ``EXTENDED_ARG`` chained, any with its low byte: more, never fewer)."""
    pair = bytes((op, arg & 0xFF))
    n = 0
    at = raw.find(pair)
    while at >= 0:
        if not at & 1:
            high = raw[at - 1] if at and raw[at - 2] == _EXTENDED_ARG else 0
            if arg > 0xFFFF or high << 8 | arg & 0xFF == arg:
                n += 1
        at = raw.find(pair, at + 1)
    return n


def _stored_name(code: CodeType, at: int) -> str | None:
    """The name ``code`` binds to constant ``at`` right after loading it, if it does (once)."""
    if at > 0xFF:
        return None
    raw = code.co_code
    where = raw.find(bytes((_LOAD_CONST, at, _STORE_NAME)))
    while where >= 0 and where & 1:
        where = raw.find(bytes((_LOAD_CONST, at, _STORE_NAME)), where + 1)
    if where < 0 or (where and raw[where - 2] == _EXTENDED_ARG):
        return None
    index = raw[where + 3]
    return code.co_names[index] if index < len(code.co_names) else None


def _stored_once(code: CodeType, at: int, name: str) -> bool:
    """Whether constant ``at`` is loaded once, to be bound to ``name``, which nothing else uses."""
    if at > 0xFF or _stored_name(code, at) != name:
        return False
    raw = code.co_code
    if sum(_count(raw, op, at) for op in _CONST_OPS) != 1:
        return False
    return _name_uses(code, name) == 1


def _name_uses(code: CodeType, name: str) -> int:
    """How many instructions may use ``name`` (one with a long argument may count too)."""
    raw = code.co_code
    index = code.co_names.index(name)
    if len(raw) <= _SMALL:
        return _names_used(code).get(index, 0)
    n = 0
    for op in _HASNAME:
        shift = _NAME_SHIFT.get(op, 0)
        for low in range(1 << shift):
            n += _count(raw, op, (index << shift) | low)
    return n


# Per code object read (held, so that the id stays its own): its name indexes' uses.
_used: dict[int, tuple[CodeType, dict[int, int]]] = {}
_SMALL = 400  # bytes of code under which one pass over it costs less than searching it


def _names_used(code: CodeType) -> dict[int, int]:
    """How many instructions of a small code use each name index (one pass, kept per plan)."""
    hit = _used.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    raw = code.co_code
    uses: dict[int, int] = {}
    ext = 0
    for unit in range(0, len(raw), 2):
        op = raw[unit]
        if op == _EXTENDED_ARG:
            ext = (ext | raw[unit + 1]) << 8
            continue
        if op in _HASNAME:
            index = (ext | raw[unit + 1]) >> _NAME_SHIFT.get(op, 0)
            uses[index] = uses.get(index, 0) + 1
        ext = 0
    _used[id(code)] = (code, uses)
    return uses


def _reads(code: CodeType, name: str) -> bool:
    """Whether a class body, lambda or comprehension (or what it runs at once) uses ``name``
    otherwise than to bind it in its own namespace (a class's ``__doc__``)."""
    if name in code.co_names:
        index = code.co_names.index(name)
        stores = 0
        if not code.co_flags & CO_OPTIMIZED:  # a class body's STORE_NAME binds its own name
            if index > 0xFF:
                return True
            stores = _count(code.co_code, _STORE_NAME, index)
        if _name_uses(code, name) != stores:
            return True
    return any(
        isinstance(c, CodeType) and not is_function_body(c) and _reads(c, name)
        for c in code.co_consts
    )


def _plain_class(cls: object, qualname: str, old_doc: str) -> bool:
    """Whether ``cls`` is the class a class body made with ``old_doc``, and nothing that ran
    when it was made could have read its docstring (a metaclass, ``__init_subclass__``)."""
    if type(cls) not in (type, ABCMeta) or cls.__qualname__ != qualname:
        return False
    if cls.__dict__.get("__doc__") != old_doc:
        return False
    for base in cls.__mro__[1:-1]:
        if "__init_subclass__" in base.__dict__:
            return False
    return True
