"""Which loaded modules hold a module's values, by name: found once, then kept up to date.

Rebinding ``from m import x`` copies needs the modules whose namespace holds
``m``'s old ``x``.  Looking through every loaded module's namespace costs about
a microsecond a module — 10 ms with 10,000 loaded — and so does looking at
every module that holds *some* value of ``m`` (every module that imports a
function from it).  So the first reload of ``m`` that replaces a value looks
through them all once and remembers which modules hold any of its values (any
value ``m`` made or imported-and-exported: not modules, builtins, or other
modules' functions and classes, which it merely refers to); the first reload
that replaces a name's value looks at those, and remembers, for that name,
the modules whose copy of it was rebound (:func:`settle`).  Later reloads look
only at the modules remembered for the names whose value they replace, and
at the modules imported since (the tail of ``sys.modules``, where imports
add), so a module that only holds a look-alike small value is looked at once.

What this misses, by design: a module already looked at that takes one of
``m``'s values later *at run time* (``other.reg = m.reg`` in a function), not
by importing it.  ``from m import x``, at the top level of a module imported
before or after, is always found.  A replaced value the index cannot tell
apart (``None``, ``True``, a module, another module's function) sends the
reload to every module found holding any of ``m``'s values, as before.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterable, Mapping
from types import BuiltinFunctionType, FunctionType, ModuleType

# None, booleans and the like are held by every module: no filter at all.
_EVERYWHERE = frozenset(map(id, (None, True, False, Ellipsis, NotImplemented, "", ())))


class _Holders:
    __slots__ = ("names", "by_name", "seen", "looked_at")

    def __init__(self) -> None:
        #: Modules found holding any of the module's values, by name.
        self.names: set[str] = set()
        #: Per top-level name of the module whose value a reload replaced, the
        #: modules holding a copy of its value.
        self.by_name: dict[str, set[str]] = {}
        #: The ``sys.modules`` entries already looked at: name -> :func:`_mark` of the module.
        self.seen: dict[str, object] = {}
        #: The modules the last :func:`candidates` call looked at for the first time.
        self.looked_at: set[str] = set()


_index: dict[str, _Holders] = {}


def _telling(source: str, value: object) -> bool:
    """Whether a module holding ``value`` may hold it as a copy of ``source``'s value."""
    if id(value) in _EVERYWHERE:
        return False
    # type(), not isinstance(): isinstance reads __class__, which makes a lazy
    # object (Django's settings) set itself up.
    kind = type(value)
    if issubclass(kind, (ModuleType, BuiltinFunctionType)):
        return False
    if issubclass(kind, (FunctionType, type)):
        return getattr(value, "__module__", None) == source
    return True


def _own_values(source: str, olds: Mapping[str, object]) -> dict[int, list[str]]:
    """The values of ``source`` (and ``olds``) another module may hold as copies: id -> names."""
    module = sys.modules.get(source)
    # Dunder names are the import system's (``__builtins__`` is in every module).
    items: Iterable[tuple[str, object]] = (
        [(k, v) for k, v in module.__dict__.items() if not k.startswith("__")]
        if module is not None
        else []
    )
    ids: dict[int, list[str]] = {}
    for key, value in (*items, *olds.items()):
        if _telling(source, value):
            found = ids.setdefault(id(value), [])
            if key not in found:
                found.append(key)
    return ids


def candidates(source: str, olds: Mapping[str, object]) -> dict[str, set[str]]:
    """Per name in ``olds`` (name -> old value), the loaded modules that may hold a copy of it."""
    holders = _index.get(source)
    if holders is None:
        holders = _index[source] = _Holders()
    seen = holders.seen
    holders.looked_at = set()
    size = len(seen)
    entries = unseen_modules(seen)
    if len(seen) < size + len(entries):
        # Some module left sys.modules (or one was replaced): forget what left.
        holders.names.intersection_update(seen)
        for found in holders.by_name.values():
            found.intersection_update(seen)
    if entries:
        _look_at(source, holders, entries, _own_values(source, olds))
    out: dict[str, set[str]] = {}
    for key, old in olds.items():
        found = holders.by_name.get(key)
        if found is None or not _telling(source, old):
            # Not replaced before, or a value many modules hold of their own (None):
            # only a look at every holder finds its copies.
            out[key] = set(holders.names)
        else:
            out[key] = set(found)
    return out


def _look_at(
    source: str, holders: _Holders, entries: list[tuple[str, object]], ids: dict[int, list[str]]
) -> None:
    """Note which of ``source``'s values each module of ``entries`` holds."""
    by_name = holders.by_name
    for name, module in entries:
        holders.looked_at.add(name)
        if name == source or not issubclass(type(module), ModuleType):
            holders.names.discard(name)
            continue
        values = module.__dict__.values()
        if ids.keys().isdisjoint(map(id, values)):
            holders.names.discard(name)
            continue
        holders.names.add(name)
        for value in list(values):
            for key in ids.get(id(value), ()):
                found = by_name.get(key)
                if found is not None:  # else every holder is looked at, this one too
                    found.add(name)


def looked_at(source: str) -> set[str]:
    """The modules the last :func:`candidates` call for ``source`` looked at for the first time.

    Handed over once: the index forgets them (after a first look at every
    module, they are all of them).
    """
    holders = _index.get(source)
    if holders is None:
        return set()
    found, holders.looked_at = holders.looked_at, set()
    return found


def settle(source: str, name: str, modules: set[str]) -> None:
    """Remember ``modules`` as those holding a copy of ``name``'s value, after a reload replaced it."""
    holders = _index.get(source)
    if holders is None:
        return
    holders.by_name[name] = modules


def _mark(module: object) -> object:
    """What tells that ``module`` was looked at: a weak reference, not its id, which a module
    made after it was freed may get (a test's modules, made anew under the same names)."""
    try:
        return weakref.ref(module)
    except TypeError:  # not a module, and no weak reference to it: looked at every time
        return None


def _same(mark: object, module: object) -> bool:
    return mark is not None and mark() is module  # type: ignore[operator]


def unseen_modules(seen: dict[str, object]) -> list[tuple[str, object]]:
    """The entries of ``sys.modules`` that ``seen`` (name -> :func:`_mark` of the module looked
    at) lacks, noted in it; names that left ``sys.modules`` are forgotten.  Cheap when little
    changed: :func:`candidates` asks it, and so do the adapters about their apps."""
    modules = sys.modules
    fresh = _fresh(modules, seen)
    for name, module in fresh:
        seen[name] = _mark(module)
    if len(seen) > len(modules):
        for name in [n for n in seen if n not in modules]:
            del seen[name]
    if len(seen) < len(modules):
        rest = [(n, m) for n, m in list(modules.items()) if not _same(seen.get(n), m)]
        for name, module in rest:
            seen[name] = _mark(module)
        fresh += rest
    return fresh


def _fresh(modules: dict[str, object], seen: dict[str, object]) -> list[tuple[str, object]]:
    """The entries of ``sys.modules`` not looked at yet, found from its end.

    An import adds its module at the end of ``sys.modules`` (importlib moves it
    there once its body ran), and so does an import of a name removed before,
    so everything new is at the end, among modules seen before that a reload
    moved there (``importlib.reload`` does).  The walk stops at a module seen
    before once the count of modules says none is left to find.  A removal
    throws that count off: the caller then finds more modules seen than
    loaded, forgets the removed ones and looks everywhere for what is left.
    Missed (a check of every entry would cost more than the rest of this step):
    as many modules removed as were imported before a module that was then
    moved to the end, between two reloads that replace a value.
    """
    try:
        # Walked in place: copying 10,000 entries costs more than the walk.
        return _walk(reversed(modules.items()), seen, len(modules))
    except RuntimeError:  # another thread imported meanwhile
        return _walk(reversed(list(modules.items())), seen, len(modules))


def _walk(
    items: Iterable[tuple[str, object]], seen: dict[str, object], total: int
) -> list[tuple[str, object]]:
    fresh = []
    known = len(seen)
    for name, module in items:
        if _same(seen.get(name), module):
            if known >= total:
                break
            continue
        fresh.append((name, module))
        if name not in seen:
            known += 1
    return fresh
