"""Making old objects run new code, in place.

After a module's new code has run, each name it bound is *merged*: if the old
value was a function or class this module defined, the old object is kept and
updated to behave as the new one (its code, defaults, closure values, class
attributes), so every reference held anywhere — callbacks, bound methods,
instances, subclasses, ``from m import f`` copies — runs the new code without
any search of the heap.  What cannot be updated in place (a closure whose free
variables changed, a class whose ``__slots__``, named-tuple fields or metaclass
changed) is *replaced*: the new object becomes canonical and the old one is
handed to the one-pass heap fallback in :mod:`reload_server.core.references`.
An ABC merged in place forgets its cached ``isinstance`` answers.
"""

from __future__ import annotations

import abc
import enum
import functools
import sys
from collections.abc import Callable, Iterator
from types import CellType, CodeType, FunctionType

from .results import WARNING, Note
from .values import ATOMIC, MISSING, SLOT_DESCRIPTORS

# Attributes that belong to the class object itself, not to its source.
_CLASS_OWN = frozenset({"__dict__", "__weakref__", "_abc_impl"})
_ENUM_TABLES = ("_member_map_", "_value2member_map_", "_member_names_", "_unhashable_values_")
_LRU_WRAPPER = type(functools.lru_cache(maxsize=None)(lambda: None))
_ATOMIC_KINDS = frozenset(ATOMIC)


def _slots(cls: type) -> object:
    slots = cls.__dict__.get("__slots__", MISSING)
    if isinstance(slots, str):
        return (slots,)
    if slots is MISSING:
        return MISSING
    try:
        return tuple(slots)
    except TypeError:
        return slots  # not iterable (an odd ``__slots__``): compared as it is


class Merger:
    """Merges the new objects of one reload transaction into the old ones.

    ``canon`` maps each new object (by id, holding the object so the id stays
    valid) to the object that represents it from now on.  ``replaced`` maps
    each old object whose identity could not be kept (by id) to ``(old, new,
    why)``, for the heap fallback.  ``discarded`` lists ``(new, old)`` for each
    new class merged into its old one, for :func:`.rebase.rebase_discarded`.
    ``recoded`` lists ``(old code, new code)`` of each function merged, for
    :func:`.closures.update_live_closures`.
    """

    def __init__(self, targets: set[str], notes: list[Note]) -> None:
        self.targets = targets
        self.notes = notes
        self.canon: dict[int, tuple[object, object]] = {}
        self.replaced: dict[int, tuple[object, object, str]] = {}
        self.discarded: list[tuple[type, type]] = []
        # Replaced classes whose instances must keep the old class (a layout or
        # the fields of a named tuple changed), and those whose old class, where
        # it stays (subclasses elsewhere, instances), may run the new code.
        self.instances_stay: set[int] = set()
        self.followable: set[int] = set()
        self.recoded: list[tuple[CodeType, CodeType]] = []
        self._functions: list[FunctionType] = []
        self._classes: list[type] = []
        self._active: set[int] = set()

    # -- public -------------------------------------------------------------

    @property
    def functions(self) -> list[FunctionType]:
        """The functions kept so far (merged old ones and adopted new ones)."""
        return self._functions

    def keep(self, new: object) -> object:
        """The canonical object for ``new`` (``new`` itself if it was not merged)."""
        hit = self.canon.get(id(new))
        return hit[1] if hit is not None and hit[0] is new else new

    def merge(self, old: object, new: object, where: str) -> object:
        """Merge ``new`` into ``old``; returns the object to keep in ``old``'s place."""
        if old is new:
            return old
        key = id(new)
        hit = self.canon.get(key)
        if hit is not None and hit[0] is new:
            return hit[1]
        if type(new) is FunctionType and new.__closure__ is None and not new.__dict__:
            # The common case, taken apart from the cycle guard below: merging a
            # function without closure or attributes reaches no other merge.
            keep = self._merge_function(old, new, where)
            self.canon[key] = (new, keep)
            return keep
        if key in self._active:
            return old  # a cycle (a closure reaching back to its function): old stays
        self._active.add(key)
        try:
            keep = self._merge(old, new, where)
        finally:
            self._active.discard(key)
        self.canon[key] = (new, keep)
        return keep

    def adopt(self, new: object) -> object:
        """Take in a new object that has no old counterpart."""
        keep = self.keep(new)
        if keep is not new:
            return keep
        if isinstance(new, FunctionType):
            self._functions.append(new)
        elif isinstance(new, type):
            if self._owned(new):
                self._classes.append(new)
        else:
            self.reclass(new)
        return new

    def reclass(self, value: object, depth: int = 0) -> object:
        """Give an instance made while the new code ran the class that survives.

        ``registry = Registry()`` at module level makes its instance from the
        new class object, which is merged into the old one: the instance must
        then belong to the old one, or ``isinstance(m.registry, m.Registry)``
        would fail.  Containers are looked into two levels deep.
        """
        kind = type(value)
        hit = self.canon.get(id(kind))
        if hit is not None and hit[0] is kind:
            if hit[1] is not kind and isinstance(hit[1], type):
                try:
                    object.__setattr__(value, "__class__", hit[1])  # past a frozen __setattr__
                except TypeError:
                    # The layouts differ: the instance keeps the discarded class,
                    # which rebase_discarded then bases on the survivor (or notes).
                    pass
        elif depth < 2:
            if kind is list or kind is tuple or kind is set or kind is frozenset:
                for item in value:
                    self.reclass(item, depth + 1)
            elif kind is dict:
                for item in value.values():
                    self.reclass(item, depth + 1)
        return value

    def finish(self) -> None:
        """Point defaults, closure cells and bases of kept objects at canonical objects."""
        keep = self.keep
        for f in self._functions:
            if f.__defaults__:
                mapped = tuple(keep(v) for v in f.__defaults__)
                if any(a is not b for a, b in zip(mapped, f.__defaults__)):
                    f.__defaults__ = mapped
            if f.__kwdefaults__:
                for k, v in f.__kwdefaults__.items():
                    k2 = keep(v)
                    if k2 is not v:
                        f.__kwdefaults__[k] = k2
            if f.__closure__:
                for cell in f.__closure__:
                    try:
                        v = cell.cell_contents
                    except ValueError:
                        continue
                    k2 = keep(v)
                    if k2 is not v:
                        cell.cell_contents = k2
        for cls in self._classes:
            bases = tuple(keep(b) for b in cls.__bases__)
            if bases != cls.__bases__:
                try:
                    cls.__bases__ = bases
                except TypeError as e:
                    self._note(cls.__qualname__, f"could not rebase it on the updated classes: {e}")

    # -- dispatch -----------------------------------------------------------

    def _owned(self, obj: object) -> bool:
        return getattr(obj, "__module__", None) in self.targets

    def _merge(self, old: object, new: object, where: str) -> object:
        """Merge by the kind of ``new``: its exact type in :data:`_MERGE_BY_KIND` first."""
        merge = _MERGE_BY_KIND.get(type(new))
        if merge is not None:
            return merge(self, old, new, where)
        if isinstance(new, type):
            # A class whose metaclass is not ``type`` (an enum, an ABC) is a class all the same.
            return self._merge_class(old, new, where)
        # Any other value is new state: only its class may have to be the survivor.
        return self.reclass(new)

    # -- kinds merged only into an old value of the same type ------------------

    def _merge_atomic(self, old: object, new: object, where: str) -> object:
        """An int, str, None…: the old value if equal, else the new one (no class to fix)."""
        if type(old) is type(new) and old == new:
            # Keeping the equal old value spares a class attribute write, which
            # invalidates the type caches of the class and its subclasses.
            return old
        return new

    def _merge_method_wrapper(self, old: object, new: object, where: str) -> object:
        """A ``classmethod`` or ``staticmethod``: merge the function it wraps."""
        kind = type(new)
        if type(old) is not kind:
            return self.reclass(new)
        func = self.merge(old.__func__, new.__func__, where)
        if func is old.__func__:
            return old
        return new if func is new.__func__ else kind(func)

    def _merge_property(self, old: object, new: object, where: str) -> object:
        if type(old) is not property:
            return self.reclass(new)
        parts = [
            self._part(getattr(old, a), getattr(new, a), where) for a in ("fget", "fset", "fdel")
        ]
        if all(p is getattr(old, a) for p, a in zip(parts, ("fget", "fset", "fdel"))) and (
            old.__doc__ == new.__doc__
        ):
            return old
        return property(*parts, new.__doc__)

    def _merge_partial(self, old: object, new: object, where: str) -> object:
        if type(old) is not functools.partial:
            return self.reclass(new)
        func = self.merge(old.func, new.func, where)
        old.__setstate__((func, new.args, new.keywords or None, new.__dict__ or None))
        return old

    def _merge_lru_cache(self, old: object, new: object, where: str) -> object:
        if type(old) is not _LRU_WRAPPER:
            return self.reclass(new)
        inner = self.merge(old.__wrapped__, new.__wrapped__, where)
        if inner is not old.__wrapped__:
            return new
        extra = {k: v for k, v in new.__dict__.items() if k != "__wrapped__"}
        old.__dict__.update(extra)
        old.cache_clear()
        return old

    def _merge_cached_property(self, old: object, new: object, where: str) -> object:
        if type(old) is not functools.cached_property:
            return self.reclass(new)
        old.func = self.merge(old.func, new.func, where)
        old.__doc__ = new.__doc__
        old.attrname = new.attrname
        return old

    def _part(self, old: object, new: object, where: str) -> object:
        if old is None or new is None:
            return new if new is None else self.adopt(new)
        return self.merge(old, new, where)

    # -- functions ----------------------------------------------------------

    def _merge_function(self, old: object, new: FunctionType, where: str) -> object:
        """The old function takes the new one's code, defaults, attributes and closure values."""
        if not (
            type(old) is FunctionType
            and old.__module__ == new.__module__
            and old.__qualname__ == new.__qualname__
            # A function of another module made anew by a factory or decorator the
            # target called: same code, new closure values.
            and (self._owned(new) or old.__code__ is new.__code__)
        ):
            return self.adopt(new)
        if old.__globals__ is not new.__globals__:
            # Generated code (namedtuple's __new__) lives in a namespace of its own.
            return self._replace(old, new, "it is generated code with its own namespace")
        oc, nc = old.__code__, new.__code__
        if oc is not nc:
            self.recoded.append((oc, nc))
        if oc.co_freevars != nc.co_freevars:
            return self._replace(
                old,
                new,
                f"its free variables changed ({', '.join(oc.co_freevars) or 'none'} → "
                f"{', '.join(nc.co_freevars) or 'none'})",
            )
        if oc is not nc:
            old.__code__ = nc
        old.__defaults__ = new.__defaults__
        old.__kwdefaults__ = new.__kwdefaults__
        try:
            old.__annotations__ = new.__annotations__
        except (AttributeError, TypeError):
            pass  # a function whose annotations cannot be set keeps its own: not behaviour
        old.__doc__ = new.__doc__
        od = old.__dict__
        for k, v in new.__dict__.items():
            ov = od.get(k, MISSING)
            od[k] = self.adopt(v) if ov is MISSING else self.merge(ov, v, k)
        if old.__closure__:
            for name, ocell, ncell in zip(nc.co_freevars, old.__closure__, new.__closure__):
                if name == "__class__":
                    continue
                self._merge_cell(ocell, ncell, name)
        self._functions.append(old)
        return old

    def _merge_cell(self, ocell: CellType, ncell: CellType, name: str) -> None:
        try:
            nv = ncell.cell_contents
        except ValueError:
            return
        try:
            ov = ocell.cell_contents
        except ValueError:
            ocell.cell_contents = self.adopt(nv)
            return
        keep = self.merge(ov, nv, name)
        if keep is not ov:
            ocell.cell_contents = keep

    def _replace(self, old: object, new: object, why: str) -> object:
        """Make ``new`` canonical in place of ``old``, for the heap fallback."""
        self.replaced[id(old)] = (old, new, why)
        return self.adopt(new)

    def _replace_class(self, old: type, new: type, why: str, *, layout: bool) -> object:
        """Replace a class; ``layout``: its instances' layout or fields changed, so they stay."""
        (self.instances_stay if layout else self.followable).add(id(old))
        return self._replace(old, new, why)

    def follow(self, old: type, new: type) -> None:
        """Make an old class that something still needs run ``new``'s code, as far as allowed.

        For a class replaced without a change of layout (its metaclass or bases
        changed) whose subclasses elsewhere or instances could not move to
        ``new``: the old class takes the new attributes, as a merge would, and
        an ABC ``new`` counts it as a virtual subclass, so those subclasses and
        instances run the new methods and pass ``isinstance(obj, new)``.
        """
        self._update_members(old, new)
        self.finish()
        if isinstance(new, abc.ABCMeta):
            new.register(old)

    def _note(self, what: str, message: str) -> None:
        self.notes.append(Note(f"{what}: {message}", severity=WARNING, kind="fallback"))

    # -- classes ------------------------------------------------------------

    def _merge_metaclass(self, old: type, new: type) -> object:
        """What ``new``'s metaclass is once merged: ``old``'s when it is the same one, edited.

        A metaclass the reloaded module defines is itself re-made by the
        reload; merged (first, if its turn has not come), it is the old one.
        """
        meta = type(new)
        keep = self.keep(meta)
        if keep is meta and self._owned(meta):
            keep = self.merge(type(old), meta, meta.__qualname__)
        return keep

    def _merge_class(self, old: object, new: type, where: str) -> object:
        """The old class takes the new one's attributes and bases; instances keep their class."""
        if not (
            isinstance(old, type)
            and self._owned(new)
            and old.__module__ == new.__module__
            and old.__qualname__ == new.__qualname__
        ):
            return self.adopt(new)
        if type(old) is not type(new) and self._merge_metaclass(old, new) is not type(old):
            return self._replace_class(old, new, "its metaclass changed", layout=False)
        if _slots(old) != _slots(new):
            return self._replace_class(
                old,
                new,
                "its __slots__ changed; existing instances keep the old layout",
                layout=True,
            )
        if old.__dict__.get("_fields") != new.__dict__.get("_fields"):
            # A named tuple's fields are its layout: its methods and accessors
            # index the tuple, so an old tuple must keep the class it was made with.
            return self._replace_class(
                old, new, "its fields changed; existing tuples keep the old class", layout=True
            )
        self.canon[id(new)] = (new, old)
        bases = tuple(self.keep(b) for b in new.__bases__)
        if bases != old.__bases__:
            try:
                old.__bases__ = bases
            except TypeError as e:
                del self.canon[id(new)]
                return self._replace_class(
                    old, new, f"its bases changed incompatibly ({e})", layout=False
                )
        _retarget_class_cell(new, old)
        members = self._update_members(old, new)
        if not members:
            self.discarded.append((new, old))
        return old

    def _update_members(self, old: type, new: type) -> dict[str, object]:
        """Set ``new``'s attributes on ``old``; returns the enum members kept (by name)."""
        members = _enum_members(old, new, self) if isinstance(old, enum.EnumMeta) else {}
        updates: list[tuple[str, object]] = []
        od = old.__dict__
        for k, nv in new.__dict__.items():
            if k in _CLASS_OWN:
                continue
            ov = od.get(k, MISSING)
            if k in members:
                keep = members[k]
            elif members and k in _ENUM_TABLES:
                keep = _map_members(nv, self)
            elif ov is not MISSING and isinstance(nv, SLOT_DESCRIPTORS):
                continue
            elif ov is MISSING:
                keep = self.adopt(nv)
            else:
                keep = self.merge(ov, nv, k)
            if keep is not ov:
                updates.append((k, keep))
        removed = [k for k in od if k not in new.__dict__ and k not in _CLASS_OWN]
        # Add and change before removing, so no thread finds a shared attribute missing.
        for k, v in updates:
            type.__setattr__(old, k, v)
        for k in removed:
            type.__delattr__(old, k)
        if isinstance(old, abc.ABCMeta):
            clear_abc_caches(old)
        return members


#: How each exact type of new object is merged into the old one.  Types not
#: here (subclasses included) are classes if they are types, else values.
_MERGE_BY_KIND: dict[type, Callable[[Merger, object, object, str], object]] = {
    FunctionType: Merger._merge_function,
    type: Merger._merge_class,
    classmethod: Merger._merge_method_wrapper,
    staticmethod: Merger._merge_method_wrapper,
    property: Merger._merge_property,
    functools.partial: Merger._merge_partial,
    _LRU_WRAPPER: Merger._merge_lru_cache,
    functools.cached_property: Merger._merge_cached_property,
    **dict.fromkeys(ATOMIC, Merger._merge_atomic),
}


def functions_in(value: object) -> Iterator[FunctionType]:
    """The plain functions a namespace value runs when called, through the usual
    wrappers (class/static methods, properties, ``functools.wraps`` and
    ``lru_cache`` chains, bounded: a ``__wrapped__`` chain may loop)."""
    seen = 0
    while value is not None and seen < 8:
        seen += 1
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
            continue
        if isinstance(value, property):
            for part in (value.fget, value.fset, value.fdel):
                yield from functions_in(part)
            return
        if isinstance(value, FunctionType):
            yield value
            value = getattr(value, "__wrapped__", None)
            continue
        value = getattr(value, "__wrapped__", None) if isinstance(value, _LRU_WRAPPER) else None


def class_cells(cls: type, holding: object = MISSING) -> Iterator[CellType]:
    """The ``__class__`` cells of ``cls``'s methods that hold ``holding`` (``cls`` by default).

    All methods of one class body share a single cell, holding the class the
    body made; methods a merge added to an old class bring the cell of the
    class body they came from, retargeted to it.
    """
    holding = cls if holding is MISSING else holding
    seen: set[int] = set()
    for value in cls.__dict__.values():
        if type(value) in _ATOMIC_KINDS:
            continue
        for f in functions_in(value):
            code = f.__code__
            if "__class__" in code.co_freevars and f.__closure__:
                cell = f.__closure__[code.co_freevars.index("__class__")]
                if id(cell) in seen:
                    continue
                seen.add(id(cell))
                try:
                    if cell.cell_contents is holding:
                        yield cell
                except ValueError:
                    pass


def _retarget_class_cell(new: type, old: type) -> None:
    """Methods of ``new`` that use ``super()`` must find ``old``, the class instances have."""
    cell = next(class_cells(new), None)
    if cell is not None:
        cell.cell_contents = old


def clear_abc_caches(cls: type) -> None:
    """Forget what ``isinstance``/``issubclass`` learnt from an ABC's previous definition.

    The caches of the ABC, of the ABCs above it (their answers recurse into
    their subclasses') and of every ABC below it (they inherit its
    ``__subclasshook__`` and abstract methods) are cleared; registrations stay.
    """
    for k in cls.__mro__:
        if isinstance(k, abc.ABCMeta):
            k._abc_caches_clear()
    seen = {id(cls)}
    below = type.__subclasses__(cls)
    while below:
        k = below.pop()
        if id(k) not in seen:
            seen.add(id(k))
            if isinstance(k, abc.ABCMeta):
                k._abc_caches_clear()
            if "__protocol_attrs__" in k.__dict__:
                _recompute_protocol(k)
            below.extend(type.__subclasses__(k))


def _recompute_protocol(k: type) -> None:
    """Recompute what typing derived from a protocol's bases when it was made (3.12+).

    A protocol based on a changed one keeps the members its bases had then
    (``__protocol_attrs__``, and what ``runtime_checkable`` derived from them):
    typing's own metaclass and decorator compute them anew.
    """
    typing = sys.modules.get("typing")
    init = type(k).__init__
    if typing is None or getattr(init, "__module__", None) != "typing":
        return
    init(k, k.__name__, k.__bases__, {})
    if k.__dict__.get("_is_runtime_protocol"):
        typing.runtime_checkable(k)


def _enum_members(old: type, new: type, merger: Merger) -> dict[str, object]:
    """Keep the old member objects (``old_member is m.Color.RED``), with new values."""
    mapping: dict[str, object] = {}
    old_members = old.__dict__.get("_member_map_", {})
    for name, member in new.__dict__.get("_member_map_", {}).items():
        previous = old_members.get(name)
        if previous is not None and type(previous) is old:
            for k, v in member.__dict__.items():
                if k != "__objclass__":
                    previous.__dict__[k] = v
            keep = previous
        else:
            object.__setattr__(member, "__class__", old)
            if "__objclass__" in member.__dict__:
                member.__dict__["__objclass__"] = old
            keep = member
        merger.canon[id(member)] = (member, keep)
        mapping[name] = keep
    return {k: v for k, v in mapping.items() if k in new.__dict__}


def _map_members(table: object, merger: Merger) -> object:
    keep = merger.keep
    if isinstance(table, dict):
        return {keep(k): keep(v) for k, v in table.items()}
    if isinstance(table, list):
        return [keep(v) for v in table]
    return table
