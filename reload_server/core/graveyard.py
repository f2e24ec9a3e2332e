"""Functions and classes an edit removed, kept so a later edit that restores them revives them.

An editor that truncates a file and then writes it makes two reloads: one of an
empty or half-written file, which removes the module's functions and classes,
and one of the whole file, which defines them again.  What the program held
since start-up (instances, ``from m import f`` copies, callbacks) still holds
the objects of the first version; the second reload must merge into those, not
adopt new ones.  So each removed top-level function or class is kept here, by
module and name, until the module binds that name again; the merge then treats
it as the old object for the name.

Only a commit changes this (a failed reload leaves it as it was), and only
under the reload lock.  It is bounded: a module's entries go when that module
object leaves ``sys.modules`` (or is replaced there), and at most
:data:`CAP` names are kept per module, the oldest dropped first.
"""

from __future__ import annotations

import sys
import weakref
from types import FunctionType, ModuleType

#: The most removed names kept for one module; a file emptied whole removes them all at once.
CAP = 1000

# Per module name: (a weak reference to the module object they were removed
# from, {name: removed function or class}, oldest first).
_graves: dict[str, tuple[weakref.ref, dict[str, object]]] = {}


def _entries(module: ModuleType) -> dict[str, object] | None:
    """The removed names of this module object, forgetting those of a module it replaced."""
    held = _graves.get(module.__name__)
    if held is None:
        return None
    if held[0]() is not module:
        del _graves[module.__name__]
        return None
    return held[1]


def with_removed(module: ModuleType, ns: dict, snap: dict) -> dict:
    """``snap``, plus the removed object of each name the new code bound again.

    What a merge takes as the old value of each name: the snapshot's where it
    has one, else what an earlier edit removed.  ``snap`` itself when nothing
    was removed, so the common reload copies nothing.
    """
    removed = _entries(module)
    if not removed:
        return snap
    revived = {k: v for k, v in removed.items() if k in ns and k not in snap}
    return {**revived, **snap} if revived else snap


def settle(module: ModuleType, ns: dict, snap: dict) -> None:
    """After a module's commit merge: keep what it removed, forget what it bound again.

    A name counts as removed when the snapshot held a function or class the
    module defined under it and the namespace no longer has it.
    """
    _prune()
    removed = _entries(module)
    if removed:
        for key in [k for k in removed if k in ns]:
            del removed[key]
    name = module.__name__
    for key, old in snap.items():
        if key in ns or not _defined_by(old, name, key):
            continue
        if removed is None:
            removed = {}
            _graves[name] = (weakref.ref(module), removed)
        removed.pop(key, None)
        removed[key] = old
        if len(removed) > CAP:
            del removed[next(iter(removed))]
    if removed is not None and not removed:
        del _graves[name]


def _prune() -> None:
    """Forget the modules that left ``sys.modules``: their removed objects can come back no more."""
    modules = sys.modules
    for name in [n for n, (ref, _) in _graves.items() if modules.get(n) is not ref()]:
        del _graves[name]


def _defined_by(value: object, module: str, key: str) -> bool:
    return (
        isinstance(value, (FunctionType, type))
        and getattr(value, "__module__", None) == module
        and getattr(value, "__name__", None) == key
    )
