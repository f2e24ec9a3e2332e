"""Updating references to objects that a reload replaced.

Two tools, both single passes:

* :func:`rebind_module_globals` walks the namespaces of loaded modules only (not
  the heap) and rebinds names still pointing at a replaced object — the
  ``from m import CONSTANT`` copies.  A name the importing module rebound itself
  points elsewhere and is left alone.
* :func:`replace_everywhere` is the fallback for objects whose identity could
  not be kept (a class whose ``__slots__`` changed, a function whose closure
  changed): one pass over the garbage collector's objects, whatever the number
  of replaced objects.
"""

from __future__ import annotations

import gc
import sys
from types import CellType, FunctionType, MethodType, ModuleType

from .values import ATOMIC, MISSING


class Replacement:
    """An old value, what stands in its place now, and the module-level name it had (if any)."""

    __slots__ = ("old", "new", "name")

    def __init__(self, old: object, new: object, name: str | None) -> None:
        self.old = old
        self.new = new
        self.name = name


def rebind_module_globals(
    replacements: dict[int, Replacement], only: set[str] | None = None
) -> int:
    """Rebind module-level names that still point at replaced objects; returns how many.

    Scans every loaded module, or only the modules named in ``only``.
    """
    if not replacements:
        return 0
    # A copy of an atomic value is found by its name, a dict lookup per module;
    # only other values need a look at every name of every module.
    by_name: list[tuple[str, object, object]] = []
    by_id: dict[int, Replacement] = {}
    for key, r in replacements.items():
        if r.name is not None and isinstance(r.old, ATOMIC):
            by_name.append((r.name, r.old, r.new))
        else:
            by_id[key] = r
    ids = by_id.keys()
    count = 0
    if only is None:
        modules = list(sys.modules.values())
    else:
        modules = [sys.modules[n] for n in only if n in sys.modules]
    for module in modules:
        if not isinstance(module, ModuleType):
            continue
        ns = module.__dict__
        for name, old, new in by_name:
            if ns.get(name, MISSING) is old:
                ns[name] = new
                count += 1
        if not ids or ids.isdisjoint(map(id, ns.values())):
            continue
        for key, value in list(ns.items()):
            r = by_id.get(id(value))
            if r is not None and r.old is value:
                ns[key] = r.new
                count += 1
    return count


def replace_everywhere(lost: dict[int, tuple[object, object]]) -> int:
    """Point every reference to an old object in ``lost`` at its replacement, in one heap pass.

    Containers (dicts, lists, sets), closure cells, function defaults, partials,
    instance attributes, subclasses' bases and instances' classes are updated;
    bound methods of replaced functions are rebuilt.  Tuples and other
    immutable holders cannot be changed and keep the old object.  Returns the
    number of references changed.
    """
    if not lost:
        return 0
    new_of = {k: v[1] for k, v in lost.items()}
    classes = {k: new for k, (old, new) in lost.items() if isinstance(old, type)}

    def sub(value: object) -> object:
        new = new_of.get(id(value))
        if new is not None and lost[id(value)][0] is value:
            return new
        if type(value) is MethodType:
            func = new_of.get(id(value.__func__))
            if func is not None:
                return MethodType(func, value.__self__)
        return value

    def hit(value: object) -> bool:
        return id(value) in new_of or (type(value) is MethodType and id(value.__func__) in new_of)

    count = 0
    replaced_ids = set(new_of)
    for obj in gc.get_objects():
        if id(obj) in replaced_ids:
            continue
        kind = type(obj)
        try:
            if kind is dict:
                for key, value in list(obj.items()):
                    if hit(value):
                        obj[key] = sub(value)
                        count += 1
            elif kind is list:
                for i, value in enumerate(obj):
                    if hit(value):
                        obj[i] = sub(value)
                        count += 1
            elif kind is set:
                found = [v for v in obj if hit(v)]
                for v in found:
                    obj.discard(v)
                    obj.add(sub(v))
                count += len(found)
            elif kind is CellType:
                try:
                    value = obj.cell_contents
                except ValueError:
                    continue
                if hit(value):
                    obj.cell_contents = sub(value)
                    count += 1
            elif kind is FunctionType:
                if obj.__defaults__ and any(hit(v) for v in obj.__defaults__):
                    obj.__defaults__ = tuple(sub(v) for v in obj.__defaults__)
                    count += 1
            elif isinstance(obj, type):
                if any(id(b) in classes for b in obj.__bases__):
                    obj.__bases__ = tuple(classes.get(id(b), b) for b in obj.__bases__)
                    count += 1
            else:
                count += _replace_in_instance(obj, kind, classes, hit, sub)
        except (TypeError, AttributeError, ValueError, RuntimeError):
            continue
    return count


def _replace_in_instance(obj, kind, classes, hit, sub) -> int:
    count = 0
    new_class = classes.get(id(kind))
    if new_class is not None:
        try:
            obj.__class__ = new_class
            count += 1
        except TypeError:
            pass
    if kind.__name__ == "partial" and hasattr(obj, "func") and hit(obj.func):
        obj.__setstate__((sub(obj.func), obj.args, obj.keywords or None, obj.__dict__ or None))
        return count + 1
    if any(hit(r) for r in gc.get_referents(obj)):
        attrs = getattr(obj, "__dict__", None)
        if isinstance(attrs, dict):
            for key, value in list(attrs.items()):
                if hit(value):
                    attrs[key] = sub(value)
                    count += 1
    return count
