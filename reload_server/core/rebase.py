"""What reference counts prove after a merge: which leftover objects something still holds.

Two questions, both answered without a search of the heap where counts are exact:

* :func:`rebase_discarded`: a new class merged into its old one is discarded,
  but if anything still holds it (an instance made while the module ran, a
  registry), it is based on its survivor so it behaves as the surviving class.
* :func:`still_held`: which replaced objects (identity not kept) something
  outside the reload may hold, so that only those go to the heap fallback.
"""

from __future__ import annotations

import sys
from types import CellType, FunctionType

from .merge import class_cells, functions_in
from .values import ATOMIC, SLOT_DESCRIPTORS

#: Whether ``sys.getrefcount`` counts every reference.  From 3.14 the
#: interpreter borrows references on its stack, and free-threaded builds defer
#: some counts: there, a reference count cannot prove an object unused.
EXACT_REFCOUNTS = (
    sys.implementation.name == "cpython"
    and sys.version_info < (3, 14)
    and "free-threading" not in sys.version
)


def rebase_discarded(discarded: list[tuple[type, type]]) -> list[str]:
    """Base each discarded new class that something still holds on its survivor.

    ``discarded`` lists ``(new, old)`` pairs in definition order and is emptied.
    Another thread may have made an instance of the new class while the
    module's code ran, a decorator or ``__init_subclass__`` may have put it in
    a registry, a module-level table may name it: based on the old class, all
    of those pass ``isinstance(obj, m.Klass)`` and run the new methods.  A
    class nothing else holds is left alone, as assigning ``__bases__`` costs
    some 10 µs a class.  Call after the namespaces no longer name the new
    classes, while the merger that made the pairs (its ``canon``) is alive.

    A held class that cannot be rebased (its layout forbids it: a class with
    ``__slots__`` based directly on ``object``) keeps methods that work on its
    instances (:func:`_own_class_cell`). Returns what was left so, for a note.
    """
    left: list[str] = []
    ids = {id(new) for new, _ in discarded}
    while discarded:
        new, old = discarded.pop()  # subclasses (defined later) before their bases
        refs = sys.getrefcount(new)
        if EXACT_REFCOUNTS:
            known = _known_refs(new, ids)
            if refs <= known or refs <= known + _own_closure_refs(new):
                continue
        try:
            new.__bases__ = (old,)
        except TypeError as e:
            copied = _own_class_cell(new, old)
            left.append(
                f"{new.__module__}.{new.__qualname__}: instances made while the module ran "
                f"keep the discarded class ({e}); they run the new code"
                + ("" if copied else " but their methods that use super() may fail")
            )
    return left


def _own_class_cell(new: type, old: type) -> bool:
    """Give ``new``'s methods a ``__class__`` cell of their own, holding ``new``.

    The merge pointed the cell that ``new``'s methods share at ``old``, since
    the methods it added to ``old`` share it too. Instances of ``new`` that
    could not be moved nor rebased would then fail in ``super()``: ``new``'s
    own methods get copies whose cell holds ``new``; ``old`` keeps the shared
    cell. False if a method sits in a wrapper that cannot be rebuilt.
    """
    cell = next(class_cells(new, old), None)
    if cell is None:
        return True
    own = CellType(new)
    complete = True
    for key, value in list(new.__dict__.items()):
        copy = _with_cell(value, cell, own)
        if copy is None:
            complete = False
        elif copy is not value:
            type.__setattr__(new, key, copy)
    return complete


def _own_closure_refs(new: type) -> int:
    """The closure cells of a class's own methods that hold it (typing's ``_proto_hook``).

    Counted only when the cheaper count does not already explain the references.
    """
    cells: set[int] = set()
    for value in new.__dict__.values():
        if type(value) not in ATOMIC:
            for f in functions_in(value):
                for cell in f.__closure__ or ():
                    if id(cell) not in cells and _holds(cell, new):
                        cells.add(id(cell))
    return len(cells)


def _holds(cell: CellType, value: object) -> bool:
    try:
        return cell.cell_contents is value
    except ValueError:
        return False


def _with_cell(value: object, cell: CellType, own: CellType) -> object | None:
    """``value`` with its functions using ``own`` where they used ``cell``.

    ``value`` itself when none does; None when one does inside a wrapper
    other than a class or static method or a property.
    """
    if isinstance(value, FunctionType):
        closure = value.__closure__
        if not closure or not any(c is cell for c in closure):
            return value
        copy = FunctionType(
            value.__code__,
            value.__globals__,
            value.__name__,
            value.__defaults__,
            tuple(own if c is cell else c for c in closure),
        )
        copy.__kwdefaults__ = value.__kwdefaults__
        copy.__qualname__ = value.__qualname__
        copy.__doc__ = value.__doc__
        copy.__module__ = value.__module__
        copy.__annotations__ = value.__annotations__
        copy.__dict__.update(value.__dict__)
        return copy
    if type(value) in (classmethod, staticmethod):
        inner = _with_cell(value.__func__, cell, own)
        return inner if inner is None or inner is value.__func__ else type(value)(inner)
    if type(value) is property:
        parts = [value.fget, value.fset, value.fdel]
        copies = [None if p is None else _with_cell(p, cell, own) for p in parts]
        if any(c is None and p is not None for c, p in zip(copies, parts)):
            return None
        if all(c is p for c, p in zip(copies, parts)):
            return value
        return property(*copies, value.__doc__)
    for f in functions_in(value):
        if f.__closure__ and any(c is cell for c in f.__closure__):
            return None
    return value


def _known_refs(new: type, discarded: set[int]) -> int:
    """References to a discarded class that say nothing of its use.

    They are: the caller's local and ``getrefcount``'s argument, the merger's
    ``canon`` entry, the class's own ``__mro__``, its own slot and ``__dict__``
    descriptors, and the base, bases and mro of its subclasses that were
    discarded too (a subclass made from it by anyone else is a use).
    """
    count = 4
    for value in new.__dict__.values():
        if type(value) in SLOT_DESCRIPTORS and value.__objclass__ is new:
            count += 1
    for sub in type.__subclasses__(new):
        if id(sub) not in discarded:
            continue
        count += (sub.__base__ is new) + sub.__bases__.count(new) + sub.__mro__.count(new)
    return count


def still_held(
    replaced: dict[int, tuple[object, object, str]], snapshots: list[dict]
) -> dict[int, tuple[object, object, str]]:
    """The replaced objects something outside this reload may still hold.

    A replaced object that only its old class or the namespace snapshot held
    (a dataclass's generated ``__init__`` after a field change, say) needs no
    heap pass.  Reference counts decide; where they are not exact (3.14's
    borrowed references) every replaced object is searched for.
    """
    if not EXACT_REFCOUNTS:
        return dict(replaced)
    in_snapshots: dict[int, int] = {}
    for snap in snapshots:
        for value in snap.values():
            if id(value) in replaced:
                in_snapshots[id(value)] = in_snapshots.get(id(value), 0) + 1
    kept = {}
    for key, entry in replaced.items():
        # References we hold: the tuple in `replaced` and getrefcount's argument.
        if sys.getrefcount(entry[0]) > 2 + in_snapshots.get(key, 0):
            kept[key] = entry
    return kept
