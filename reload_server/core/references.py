"""Updating references to objects that a reload replaced.

Two tools, both single passes:

* :func:`rebind_copies` walks the namespaces of loaded modules only (not the
  heap) and rebinds the ``from m import CONSTANT [as alias]`` copies of values
  a reload replaced, known from each importer's bytecode (read when a reload
  first needs it, once per version of the file); a name the importing module
  binds itself is its own and is left alone.  :func:`rebind_module_globals`
  does the same by identity for objects the reload created.
* :func:`replace_everywhere` is the fallback for objects whose identity could
  not be kept (a class whose ``__slots__`` changed, a function whose closure
  changed): one pass over the garbage collector's objects, whatever the number
  of replaced objects.
"""

from __future__ import annotations

import gc
import os
import sys
from types import BuiltinFunctionType, CellType, FunctionType, MethodType, ModuleType

from . import holders, staleness
from .merge import class_cells
from .sources import facts_by_module, file_facts
from .targets import source_file
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
    """Rebind names, in loaded modules, that still point at objects the reload created anew.

    ``replacements`` holds objects the reload itself made (new classes merged
    into old ones): any name pointing at one is rebound.  Scans every loaded
    module, or only the modules named in ``only``.
    """
    if not replacements:
        return 0
    ids = replacements.keys()
    count = 0
    for module in _modules(only):
        ns = module.__dict__
        if not ids.isdisjoint(map(id, ns.values())):
            count += _rebind_by_identity(ns, replacements)
    return count


def _rebind_by_identity(
    ns: dict, replacements: dict[int, Replacement], held: set[int] | None = None
) -> int:
    """Point every name of ``ns`` that holds a replaced old object at its replacement.

    The ids of the replacements put in are added to ``held``.
    """
    count = 0
    for key, value in list(ns.items()):
        r = replacements.get(id(value))
        if r is not None and r.old is value:
            ns[key] = r.new
            count += 1
            if held is not None:
                held.add(id(r.new))
    return count


def rebind_copies(replaced: dict[str, dict[str, Replacement]]) -> int:
    """Rebind, in other modules, the copies of module-level values a reload replaced.

    ``replaced`` maps each reloaded module to ``{name: Replacement}``.  A name
    in another module is rebound when it still holds the old value and:

    * that module's code has ``from module import name [as local]`` for it,
      read from its bytecode (:func:`_copies`); or
    * the old value is one the reloaded module created (:func:`_created_by`),
      found by identity under any name.

    So a name the other module binds itself, and a look-alike small value, are
    left alone, and so are modules, builtins and other modules' functions and
    classes the reloaded module merely referred to.  Returns how many names
    were rebound.

    Cost: an identity pass over the values of the modules that may hold one of
    the replaced values (:mod:`.holders`: every loaded module once, then per
    replaced name the modules found holding its value, and the ones imported
    since); only a module that holds one of the old objects, under any name,
    and one the reloaded module did not make (a number, a string), has its
    code's facts looked up — read from its file once per version of the file,
    then kept.
    """
    if not replaced:
        return 0
    by_id: dict[int, Replacement] = {}
    olds: set[int] = set()
    for source, found in replaced.items():
        for r in found.values():
            olds.add(id(r.old))
            if _created_by(r.old, source):
                by_id[id(r.old)] = r
    visits: dict[str, dict[str, set[str]]] = {
        source: holders.candidates(source, {key: r.old for key, r in found.items()})
        for source, found in replaced.items()
    }
    names: set[str] = set()
    for per_name in visits.values():
        for found in per_name.values():
            names |= found
    flat = {(source, key): r for source, found in replaced.items() for key, r in found.items()}
    tracked = olds | {id(r.new) for r in flat.values()}
    unique = len(olds) == len(flat)  # no two replaced names shared an old object
    count = 0
    held: dict[str, set[int]] = {}
    rebound: set[str] = set()
    for name in sorted(names):
        module = sys.modules.get(name)
        if not isinstance(module, ModuleType):
            continue
        # Which old and new values it holds: the rebinds below add the new ones.
        present = held[name] = tracked.intersection(map(id, module.__dict__.values()))
        if name in replaced:
            rebound.add(name)  # reloaded too: its copies were made anew
        elif not olds.isdisjoint(present):
            if unique and by_id.keys() >= olds & present:
                # Only objects the reload made: identity finds every copy the
                # facts would, so the importer's code need not be read.
                n = _rebind_by_identity(module.__dict__, by_id, present)
            else:
                n = _rebind_copies_in(name, module, flat, by_id, present)
            if n:
                count += n
                rebound.add(name)
    for source, per_name in visits.items():
        new_ones = holders.looked_at(source)
        for key, found in per_name.items():
            r = replaced[source][key]
            holders.settle(source, key, _copiers(found, r, held, rebound, new_ones))
    return count


def _copiers(
    found: set[str],
    r: Replacement,
    held: dict[str, set[int]],
    rebound: set[str],
    new_ones: set[str],
) -> set[str]:
    """Which of the modules ``found`` hold a copy of ``r``'s new value, to look at next time.

    Those whose copies were just rebound, and those first looked at now that
    hold the new value and not the old (imported during the reload, they
    copied it themselves); not one that holds both, or holds the new value
    without a rebind since before: that is a look-alike of its own (a small
    number), looked at no more.
    """
    new, old = id(r.new), id(r.old)
    out = set()
    for name in found:
        ids = held.get(name)
        if ids is not None and new in ids:
            if name in rebound or (name in new_ones and old not in ids):
                out.add(name)
    return out


def _rebind_copies_in(
    name: str,
    module: ModuleType,
    replaced: dict[tuple[str, str], Replacement],
    by_id: dict[int, Replacement],
    held: set[int],
) -> int:
    """Rebind the copies, in ``module``, of the replaced values: by its code's facts, then by identity.

    ``replaced`` maps ``(reloaded module, name)`` to its replacement; the ids
    of the new values put in are added to ``held``.
    """
    ns = module.__dict__
    count = 0
    copies, exact = _copies(name, module)
    for local, origin in copies.items():
        r = replaced.get(origin)
        if r is None or (not exact and local != origin[1]):
            continue
        if ns.get(local, MISSING) is r.old:
            ns[local] = r.new
            held.add(id(r.new))
            count += 1
    if by_id and not by_id.keys().isdisjoint(map(id, ns.values())):
        count += _rebind_by_identity(ns, by_id, held)
    return count


def _copies(name: str, module: ModuleType) -> tuple[dict[str, tuple[str, str]], bool]:
    """The ``from m import x [as y]`` copies of ``module``'s code, and whether aliases count.

    From the facts of the code it runs when known (recorded by its last
    reload, or read earlier while its file was unchanged).  Else its file is
    read now (its ``.pyc`` or source, once per version): if the file has not
    changed since the module loaded it, that is the code it runs, and the facts
    are kept as such; if it has, the module runs an older version, and only a
    copy under the same name (``from m import x``) is trusted.
    """
    file = source_file(module)
    if file is None:
        return {}, True
    facts = facts_by_module.get(name)
    if facts is not None and facts.loaded and facts.file == file:
        return facts.copies, True
    try:
        st = os.stat(file)
    except OSError:
        return {}, True
    stale = staleness.is_stale(name)
    facts = file_facts(module, file, st)
    if not stale and facts.mtime_ns == st.st_mtime_ns:
        facts.loaded = True
    return facts.copies, not stale


def _created_by(value: object, module: str) -> bool:
    """Whether ``value`` may be an object ``module`` made, as opposed to one it refers to."""
    # type(), not isinstance(): isinstance reads __class__, which makes a lazy
    # object (Django's settings) set itself up.
    kind = type(value)
    if issubclass(kind, ATOMIC) or issubclass(kind, ModuleType):
        return False
    if issubclass(kind, (FunctionType, type, BuiltinFunctionType, MethodType)):
        return getattr(value, "__module__", None) == module
    return True


def _modules(only: set[str] | None) -> list[ModuleType]:
    if only is None:
        found = list(sys.modules.values())
    else:
        found = [sys.modules[n] for n in only if n in sys.modules]
    return [m for m in found if isinstance(m, ModuleType)]


def replace_everywhere(
    lost: dict[int, tuple[object, object]],
    instances_stay: set[int] | frozenset[int] = frozenset(),
    left_behind: dict[int, list[str]] | None = None,
) -> int:
    """Point every reference to an old object in ``lost`` at its replacement, in one heap pass.

    Containers (dicts, lists, sets), closure cells, function defaults, partials,
    instance attributes, subclasses' bases and instances' classes are updated;
    bound methods of replaced functions are rebuilt.  Tuples and other
    immutable holders cannot be changed and keep the old object.  Returns the
    number of references changed.

    Instances of an old class whose id is in ``instances_stay`` keep it (their
    layout or fields changed).  The ``__class__`` cell of an old class's own
    methods keeps the old class: only what stays of that class (instances that
    could not move, subclasses that could not be rebased) runs them, and
    ``super()`` there needs the class they are instances of.  What stays of
    each old class, and why, is added to ``left_behind`` (by the old class's id).
    """
    if not lost:
        return 0
    new_of = {k: v[1] for k, v in lost.items()}
    classes = {k: new for k, (old, new) in lost.items() if isinstance(old, type)}
    own_cells = {id(cell) for k in classes for cell in class_cells(lost[k][0])}
    movable = {k: v for k, v in classes.items() if k not in instances_stay}
    stayed: dict[int, list[str]] = {}

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
    replaced_ids = set(new_of) | own_cells
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
            elif issubclass(kind, type):  # not isinstance: it sets up lazy proxies
                if any(id(b) in classes for b in obj.__bases__):
                    try:
                        obj.__bases__ = tuple(classes.get(id(b), b) for b in obj.__bases__)
                        count += 1
                    except TypeError as e:
                        what = f"subclass {obj.__module__}.{obj.__qualname__} ({e})"
                        for b in obj.__bases__:
                            if id(b) in classes:
                                stayed.setdefault(id(b), []).append(what)
            else:
                count += _replace_in_instance(obj, kind, movable, hit, sub, stayed)
        except (TypeError, AttributeError, ValueError, RuntimeError):
            # An object whose references cannot be rewritten (a mapping proxy,
            # a read-only attribute, a container another thread changes) keeps
            # them: the pass is best effort by contract, and a class or instance
            # it could not move is reported through ``stayed``.
            continue
    if left_behind is not None:
        left_behind.update(stayed)
    return count


def _replace_in_instance(obj, kind, classes, hit, sub, stayed) -> int:
    count = 0
    new_class = classes.get(id(kind))
    if new_class is not None:
        try:
            object.__setattr__(obj, "__class__", new_class)  # past a frozen __setattr__
            count += 1
        except TypeError as e:
            found = stayed.setdefault(id(kind), [])
            what = f"instances ({e})"
            if what not in found:
                found.append(what)
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
