"""Functions a module made at top level but bound to no name, matched to their old selves.

``@on("a")`` over ``def handler(): ...`` where ``on`` registers the function
and returns ``None``: the function lives only in the registry, and the next
``@on("b") def handler()`` reuses the name.  The merge by name never sees such
functions, so after a reload the registry would hold the old ones (old code)
next to the new ones.  Here each new unnamed function is merged into the old
function of the same ``__qualname__`` in definition order, so the old one
keeps its identity and runs the new code; :mod:`.survivors` then puts it in
place of the new one wherever the re-run registered that.

Reference counts tell when such a function can exist: the new module code's
constants hold each top-level function's code once, and every live function
made from it adds one.  Only when a count exceeds what the namespace accounts
for are the module's functions searched for (one pass over the objects that
refer to its namespace).
"""

from __future__ import annotations

import gc
import sys
import time
from types import CodeType, FunctionType, ModuleType

from .merge import _LRU_WRAPPER, Merger, functions_in
from .results import INFO, WARNING, Note
from .sources import Source

# inspect.CO_NEWLOCALS: importing inspect would cost the host ~12 ms at start-up.
CO_NEWLOCALS = 0x2

# References to a top-level function's code while it is checked: the module
# code's ``co_consts``, the list of such codes, the loop variable and
# ``getrefcount``'s argument.
_BASE_REFS = 4
_WRAPPERS = frozenset({FunctionType, classmethod, staticmethod, property, _LRU_WRAPPER})


def _ran(source: Source) -> CodeType | None:
    """The module code the reload ran: the whole new code, or the statements its plan ran."""
    plan = source.plan
    return source.code if plan is None else plan.code


def merge_unnamed(source: Source, merger: Merger, notes: list[Note]) -> int:
    """Merge the new top-level functions of ``source`` that no name holds into the old ones.

    Call after the module's namespace was merged, before :meth:`.Merger.finish`.
    Returns how many were merged.
    """
    ns = source.module.__dict__
    ran = _ran(source)
    if ran is None:
        return 0  # nothing ran: no new function was made
    codes = [
        c
        for c in ran.co_consts
        if type(c) is CodeType and c.co_flags & CO_NEWLOCALS and not c.co_name.startswith("<")
    ]
    new_ids = {id(c) for c in codes}
    # A code whose function its name holds (plain or through ``functools.wraps``)
    # is the common case, settled without counting.
    codes = [c for c in codes if not _named(ns, c)]
    if not codes:
        return 0
    known = _known_functions(ns, merger)
    unnamed = _unaccounted(codes, known, merger)
    if unnamed:
        # Rarer: a decorator put an object of its own in the function's place.
        unnamed = None
        known.update(_held_by_stand_ins(ns))
        unnamed = _unaccounted(codes, known, merger)
    if not unnamed:
        return 0
    t0 = time.perf_counter()
    old: dict[str, list[FunctionType]] = {}
    new: dict[str, list[FunctionType]] = {}
    for ref in gc.get_referrers(ns):
        if type(ref) is not FunctionType or id(ref) in known:
            continue
        if ref.__module__ != source.name or ref.__globals__ is not ns:
            continue
        if id(ref.__code__) in unnamed:
            new.setdefault(ref.__qualname__, []).append(ref)
        elif id(ref.__code__) not in new_ids:
            old.setdefault(ref.__qualname__, []).append(ref)
    merged = 0
    for name, fresh in new.items():
        previous = old.get(name, [])
        if not previous:
            continue
        if len(previous) != len(fresh):
            notes.append(
                Note(
                    f"{name}: {len(previous)} old and {len(fresh)} new functions of this name "
                    "that no module name holds; not matched, so the old ones keep the old code",
                    severity=WARNING,
                    module=source.name,
                    kind="fallback",
                )
            )
            continue
        for o, n in zip(_in_order(previous), _in_order(fresh)):
            merger.merge(o, n, name)
            merged += 1
    notes.append(
        Note(
            f"{source.name}: searched for functions no name holds ({len(unnamed)} found made "
            f"by the new code): merged {merged} into their old selves in "
            f"{(time.perf_counter() - t0) * 1000:.1f} ms",
            severity=INFO,
            module=source.name,
            kind="fallback",
        )
    )
    return merged


def _named(ns: dict, code: CodeType) -> bool:
    value = ns.get(code.co_name)
    if type(value) not in _WRAPPERS:
        return False
    return any(f.__code__ is code for f in functions_in(value))


def _known_functions(ns: dict, merger: Merger) -> dict[int, FunctionType]:
    """The functions the merge already knows of: named, wrapped, merged or adopted, by id."""
    known: dict[int, FunctionType] = {}
    for new, keep in merger.canon.values():
        for f in (new, keep):
            if type(f) is FunctionType:
                known[id(f)] = f
    for f in merger.functions:
        known[id(f)] = f
    for value in ns.values():
        # By exact type: ``isinstance`` would ask a proxy object for its ``__class__``.
        if type(value) in _WRAPPERS:
            for f in functions_in(value):
                known[id(f)] = f
    return known


def _held_by_stand_ins(ns: dict) -> dict[int, FunctionType]:
    """Functions held in the attributes of objects a decorator returned (a command, a route)."""
    found: dict[int, FunctionType] = {}
    for value in ns.values():
        try:
            attrs = object.__getattribute__(value, "__dict__")
        except AttributeError:
            continue
        if type(attrs) is not dict or type(value) is ModuleType or issubclass(type(value), type):
            continue
        for item in attrs.values():
            if type(item) is FunctionType:
                found[id(item)] = item
    return found


def _unaccounted(
    codes: list[CodeType], known: dict[int, FunctionType], merger: Merger
) -> dict[int, CodeType]:
    """The codes that more functions (or frames) use than the merge knows of, by id."""
    uses: dict[int, int] = {}
    for f in known.values():
        uses[id(f.__code__)] = uses.get(id(f.__code__), 0) + 1
    for _, new_code in merger.recoded:
        uses[id(new_code)] = uses.get(id(new_code), 0) + 1
    f = new_code = None
    unnamed = {}
    for code in codes:
        if sys.getrefcount(code) > _BASE_REFS + uses.get(id(code), 0):
            unnamed[id(code)] = code
    return unnamed


def _in_order(functions: list[FunctionType]) -> list[FunctionType]:
    return sorted(functions, key=lambda f: f.__code__.co_firstlineno)
