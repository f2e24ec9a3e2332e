"""Closures made before a reload: live functions of edited nested code get the new code.

``add5 = make_adder(5)`` holds a function made from a code object that lives
in the old ``make_adder``'s constants; merging ``make_adder`` gives the outer
function new code but leaves ``add5`` on the old inner body.  A search of the
heap finds such functions, but it runs only when one can exist: a nested code
object is held by its owner's ``co_consts`` alone unless a function (or a
running frame) made from it is alive, so its reference count tells.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from itertools import chain
from operator import attrgetter, itemgetter
from types import CodeType, FunctionType

from .rebase import EXACT_REFCOUNTS
from .results import INFO, WARNING, Note

# References to a nested code object while it is checked: its owner's
# ``co_consts``, the list it is gathered in, the comprehension's variable and
# ``getrefcount``'s argument.
_OWNED_REFS = 4


def update_live_closures(recoded: list[tuple[CodeType, CodeType]], notes: list[Note]) -> int:
    """Give live functions of the old nested code in ``recoded`` the matching new code.

    ``recoded`` lists ``(old code, new code)`` of each merged function whose
    code changed.  A live function whose free variables are the same as the
    new code's is updated in place; one whose free variables changed keeps
    its code and is named in a warning note.  Returns how many were updated.
    """
    suspects: dict[int, tuple[CodeType, CodeType]] = {}
    # The common case, found without a Python-level loop over thousands of
    # functions: no old code has nested code at all.
    consts = chain.from_iterable(map(attrgetter("co_consts"), map(itemgetter(0), recoded)))
    if CodeType not in map(type, consts):
        return 0
    for old, new in recoded:
        if CodeType not in map(type, old.co_consts):
            continue  # the common case: nothing nested
        nested = list(_nested(old))
        live = [c for c in nested if not EXACT_REFCOUNTS or sys.getrefcount(c) > _OWNED_REFS]
        nested = None  # a reference the counts must not see
        if not live:
            continue
        by_name = {_qualname(c): c for c in _nested(new)}
        for code in live:
            match = by_name.get(_qualname(code))
            if match is not None and not _same_behaviour(code, match):
                suspects[id(code)] = (code, match)
    if not suspects:
        return 0
    t0 = time.perf_counter()
    updated = 0
    left: set[str] = set()
    for f in gc.get_referrers(*(old for old, _ in suspects.values())):
        if type(f) is not FunctionType:
            continue
        hit = suspects.get(id(f.__code__))
        if hit is None or hit[0] is not f.__code__:
            continue
        new = hit[1]
        if new.co_freevars != f.__code__.co_freevars:
            left.add(_qualname(new))
            continue
        f.__code__ = new
        updated += 1
    for name in sorted(left):
        notes.append(
            Note(
                f"{name}: closures made before the reload keep the old code: "
                "its free variables changed",
                severity=WARNING,
                kind="fallback",
            )
        )
    notes.append(
        Note(
            f"searched the heap for live closures of {len(suspects)} edited nested functions: "
            f"updated {updated} in {(time.perf_counter() - t0) * 1000:.1f} ms",
            severity=INFO,
            kind="fallback",
        )
    )
    return updated


def _nested(code: CodeType) -> Iterator[CodeType]:
    """The code objects nested in ``code``, at any depth."""
    for const in code.co_consts:
        if type(const) is CodeType:
            yield const
            yield from _nested(const)


def _qualname(code: CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)


def _same_behaviour(a: CodeType, b: CodeType) -> bool:
    """Whether two code objects run the same, whatever lines they sit on."""
    if a is b:
        return True
    if (
        a.co_code != b.co_code
        or a.co_names != b.co_names
        or a.co_varnames != b.co_varnames
        or a.co_freevars != b.co_freevars
        or a.co_cellvars != b.co_cellvars
        or a.co_flags != b.co_flags
        or a.co_argcount != b.co_argcount
        or a.co_kwonlyargcount != b.co_kwonlyargcount
        or len(a.co_consts) != len(b.co_consts)
    ):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if type(x) is CodeType and type(y) is CodeType:
            if not _same_behaviour(x, y):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True
