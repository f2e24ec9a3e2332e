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

from .values import SLOT_DESCRIPTORS

#: Whether ``sys.getrefcount`` counts every reference.  From 3.14 the
#: interpreter borrows references on its stack, and free-threaded builds defer
#: some counts: there, a reference count cannot prove an object unused.
EXACT_REFCOUNTS = (
    sys.implementation.name == "cpython"
    and sys.version_info < (3, 14)
    and "free-threading" not in sys.version
)


def rebase_discarded(discarded: list[tuple[type, type]]) -> None:
    """Base each discarded new class that something still holds on its survivor.

    ``discarded`` lists ``(new, old)`` pairs in definition order and is emptied.
    Another thread may have made an instance of the new class while the
    module's code ran, a decorator or ``__init_subclass__`` may have put it in
    a registry, a module-level table may name it: based on the old class, all
    of those pass ``isinstance(obj, m.Klass)`` and run the new methods.  A
    class nothing else holds is left alone, as assigning ``__bases__`` costs
    some 10 µs a class.  Call after the namespaces no longer name the new
    classes, while the merger that made the pairs (its ``canon``) is alive.
    """
    ids = {id(new) for new, _ in discarded}
    while discarded:
        new, old = discarded.pop()  # subclasses (defined later) before their bases
        refs = sys.getrefcount(new)
        if EXACT_REFCOUNTS and refs <= _known_refs(new, ids):
            continue
        try:
            new.__bases__ = (old,)
        except TypeError:
            pass


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
