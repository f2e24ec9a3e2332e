"""Which loaded modules hold a module's values: found once, then kept up to date.

Rebinding ``from m import x`` copies needs the modules whose namespace holds
one of ``m``'s old values.  Looking through every loaded module's namespace
costs about a microsecond a module — 10 ms with 10,000 loaded — on every
reload that replaces a value.  So the first such reload of ``m`` looks through
them all once and remembers which ones hold any value ``m`` made or
imported-and-exported (not modules, builtins, or other modules' functions and
classes, which it merely refers to); later reloads look only at those and at
the modules imported since (the tail of ``sys.modules``, where imports add).

What this misses, by design: a module already loaded at ``m``'s first reload
that takes one of ``m``'s values later *at run time* (``other.reg = m.reg`` in
a function), not by importing it.  ``from m import x``, at the top level of a
module imported before or after, is always found.
"""

from __future__ import annotations

import sys
from types import BuiltinFunctionType, FunctionType, ModuleType

# None, booleans and the like are held by every module: no filter at all.
_EVERYWHERE = frozenset(map(id, (None, True, False, Ellipsis, NotImplemented, "", ())))


class _Holders:
    __slots__ = ("names", "seen")

    def __init__(self) -> None:
        #: Modules found holding one of the module's values, by name.
        self.names: set[str] = set()
        #: The ``sys.modules`` entries already looked at: name -> id of the module.
        self.seen: dict[str, int] = {}


_index: dict[str, _Holders] = {}


def _own_values(source: str, olds: list[object]) -> set[int]:
    """Ids of the values of ``source`` (and of ``olds``) another module may hold as copies."""
    module = sys.modules.get(source)
    # Dunder names are the import system's (``__builtins__`` is in every module).
    values = (
        [v for k, v in module.__dict__.items() if not k.startswith("__")]
        if module is not None
        else []
    )
    ids: set[int] = set()
    for value in (*values, *olds):
        # type(), not isinstance(): isinstance reads __class__, which makes a lazy
        # object (Django's settings) set itself up.
        kind = type(value)
        if issubclass(kind, (ModuleType, BuiltinFunctionType)):
            continue
        if issubclass(kind, (FunctionType, type)) and getattr(value, "__module__", None) != source:
            continue
        ids.add(id(value))
    return ids - _EVERYWHERE


def candidates(source: str, olds: list[object]) -> set[str]:
    """Names of the loaded modules that may hold copies of ``source``'s values (``olds`` among them)."""
    holders = _index.get(source)
    if holders is None:
        holders = _index[source] = _Holders()
    modules = sys.modules
    fresh = _fresh(list(modules.items()), holders.seen)
    if fresh:
        ids = _own_values(source, olds)
        for name, module in fresh:
            holders.seen[name] = id(module)
            if name == source or not issubclass(type(module), ModuleType):
                continue
            if not ids.isdisjoint(map(id, module.__dict__.values())):
                holders.names.add(name)
            else:
                holders.names.discard(name)
    if len(holders.seen) != len(modules):
        # Some module left sys.modules: forget it.
        holders.seen = {n: i for n, i in holders.seen.items() if n in modules}
        holders.names.intersection_update(holders.seen)
    return set(holders.names)


def _fresh(items: list[tuple[str, object]], seen: dict[str, int]) -> list[tuple[str, object]]:
    """The entries of ``sys.modules`` not looked at yet: the tail after the last one seen.

    An import adds its module at the end of ``sys.modules`` (importlib moves it
    there once its body ran), and so does an import of a name removed before,
    so everything new is at the end.
    """
    fresh = []
    for name, module in reversed(items):
        if seen.get(name) == id(module):
            break
        fresh.append((name, module))
    return fresh
