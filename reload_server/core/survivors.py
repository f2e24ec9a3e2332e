"""Discarded new objects that something kept are replaced by their survivors.

Re-running a module makes new functions, classes and enum members, and the
merge keeps the old ones (:mod:`.merge`).  The new ones are then discarded,
unless the re-run handed them out: a ``register(name)`` decorator, an
``__init_subclass__`` or a metaclass put them in a registry, or the module
built a table or a default argument of them (``FILTERS = {"csv": export_csv}``,
``ignore=(Null,)``).  There they are replaced by their survivors, so that
``REGISTRY["csv"] is m.export_csv`` and identity-based APIs find the object.

Reference counts tell whether any discarded object is held beyond what the
reload itself and the discarded objects hold; only then is the heap searched,
once for all of them (and once more for the holders of tuples that had to be
rebuilt).
"""

from __future__ import annotations

import gc
import sys
import time
from functools import partial
from types import BuiltinFunctionType, CellType, CodeType, FunctionType, ModuleType

from .results import INFO, Note
from .values import ATOMIC

_ATOMIC_KINDS = frozenset(ATOMIC)
# Shared by nature: never looked into, even when only a discarded object holds them.
_NEVER_OWNED = frozenset({FunctionType, ModuleType, CodeType, BuiltinFunctionType, *ATOMIC})
# How far into the containers the discarded objects own references are counted.
_DEPTH = 4
# References to a referent while it is checked: its holder, the list
# ``gc.get_referents`` returned, the loop variable and ``getrefcount``'s argument.
_OWNED_REFS = 4


def replace_held(
    canon: dict[int, tuple[object, object]],
    discarded: list[tuple[type, type]],
    notes: list[Note],
) -> int:
    """Replace, where something still holds it, each discarded new object by its survivor.

    ``canon`` is the merger's map of new objects to the objects kept for them,
    ``discarded`` its list of ``(new, old)`` classes; neither is changed.  A
    search, when one runs, is told in an info note.  Returns how many
    references were replaced.
    """
    pairs = [
        (new, keep)
        for new, keep in canon.values()
        if keep is not new and type(new) not in _ATOMIC_KINDS
    ]
    if not pairs:
        return 0
    extra: dict[int, int] = {}
    for new, _ in discarded:
        extra[id(new)] = extra.get(id(new), 0) + 1
    survivor = {id(new): keep for new, keep in pairs}
    excess: dict[int, int] = {}
    for new, _keep in pairs:
        # References: canon's tuple, this list's tuple, ``new`` and getrefcount's argument.
        n = sys.getrefcount(new) - 4 - extra.get(id(new), 0)
        if n > 0:
            excess[id(new)] = n
    del new, _keep
    if not excess:
        return 0
    # Most references among discarded objects come from classes, wrappers and
    # closures: look into those first, and into plain functions (annotations,
    # attributes) only when something is left unexplained.
    first = [new for new, _ in pairs if type(new) is not FunctionType or _holds_values(new)]
    internal, owned = _internal_references(first, survivor, whole=False)
    if any(n > internal.get(k, 0) for k, n in excess.items()):
        rest = [new for new, _ in pairs if type(new) is FunctionType]
        more, owned_more = _internal_references(rest, survivor, whole=True, owned=owned)
        for k, n in more.items():
            internal[k] = internal.get(k, 0) + n
        owned |= owned_more
    first = rest = None
    held = [pair[0] for pair in pairs if excess.get(id(pair[0]), 0) > internal.get(id(pair[0]), 0)]
    if not held:
        return 0
    skip = owned | {id(pairs), id(held), id(discarded)}
    for mine in (pairs, canon.values(), discarded):
        skip.update(map(id, mine))
    skip.update(survivor)
    t0 = time.perf_counter()
    count = _Replacer(survivor, skip).run(held)
    notes.append(
        Note(
            f"{len(held)} new objects the re-run handed out (to a registry, a table, a "
            f"default) are held elsewhere: replaced {count} references by the objects kept, "
            f"in {(time.perf_counter() - t0) * 1000:.1f} ms",
            severity=INFO,
            kind="fallback",
        )
    )
    return count


def _holds_values(f: FunctionType) -> bool:
    """Whether ``f`` may hold a new object: a closure, or a default that is no plain value.

    Defaults such as ``y=1`` or ``name=None`` hold nothing a reload made, and
    most functions have only those: not looking into them keeps this step's
    cost near nothing for an ordinary module.
    """
    if f.__closure__:
        return True
    defaults = f.__defaults__ or ()
    kwdefaults = f.__kwdefaults__
    if kwdefaults:
        defaults = (*defaults, *kwdefaults.values())
    return any(type(v) not in _ATOMIC_KINDS for v in defaults)


def _internal_references(
    starts: list[object],
    survivor: dict[int, object],
    whole: bool,
    owned: set[int] | None = None,
) -> tuple[dict[int, int], set[int]]:
    """References among the discarded objects: through what they alone hold.

    An object (a class's ``__dict__``, ``__mro__`` and slot descriptors, a
    function's closure and defaults, an enum's member map) that only a
    discarded object holds is looked into; one that something else holds too
    (a class attribute the survivor adopted) is not, so references from it
    count as holders.  Functions are looked into for their closure and
    defaults only, unless ``whole``; ``owned`` are objects looked into
    already (by a call that was not ``whole``).
    """
    counts: dict[int, int] = {}
    owned = set() if owned is None else set(owned)
    stack = [(new, 0) for new in starts]
    while stack:
        obj, depth = stack.pop()
        if depth == 0 and not whole and type(obj) is FunctionType:
            # A function's other parts (code, globals, names) hold no new object.
            refs = [p for p in (obj.__closure__, obj.__defaults__, obj.__kwdefaults__) if p]
        else:
            refs = gc.get_referents(obj)
        for ref in refs:
            key = id(ref)
            if key in survivor:
                counts[key] = counts.get(key, 0) + 1
            elif (
                depth < _DEPTH
                and key not in owned
                and type(ref) not in _NEVER_OWNED
                and not isinstance(ref, type)
                and sys.getrefcount(ref) <= _OWNED_REFS
            ):
                owned.add(key)
                stack.append((ref, depth + 1))
        ref = None  # no reference left for the next count
    return counts, owned


class _Replacer:
    """One search for the holders of discarded objects, replacing them in place."""

    def __init__(self, survivor: dict[int, object], skip: set[int]) -> None:
        self.survivor = survivor
        self.skip = skip
        self.count = 0

    def sub(self, value: object) -> object:
        keep = self.survivor.get(id(value))
        return value if keep is None else keep

    def hit(self, value: object) -> bool:
        return id(value) in self.survivor

    def run(self, held: list[object]) -> int:
        targets = held
        self.skip.add(id(held))
        for _ in range(3):  # tuples in tuples: a bounded number of rounds
            rebuilt = {}
            for holder in gc.get_referrers(*targets):
                if id(holder) in self.skip or type(holder).__name__ == "frame":
                    continue
                if type(holder) is tuple or type(holder) is frozenset:
                    rebuilt[id(holder)] = (holder, type(holder)(self.sub(v) for v in holder))
                else:
                    try:
                        self._replace_in(holder)
                    except Exception:  # noqa: BLE001 - a holder that refuses keeps the new object
                        continue
            if not rebuilt:
                break
            for old, new in rebuilt.values():
                self.survivor[id(old)] = new
                self.skip.add(id(new))
            targets = [old for old, _ in rebuilt.values()]
            self.skip.add(id(targets))
            self.skip.update(map(id, rebuilt.values()))
        return self.count

    def _replace_in(self, holder: object) -> None:
        kind = type(holder)
        # Subclasses (OrderedDict, defaultdict) by their type, never by asking the object.
        if issubclass(kind, dict):
            self._replace_in_dict(holder)
        elif issubclass(kind, list):
            self._replace_in_list(holder)
        elif issubclass(kind, set):
            found = [v for v in holder if self.hit(v)]
            for v in found:
                holder.discard(v)
                holder.add(self.sub(v))
            self.count += len(found)
        elif kind is CellType:
            try:
                value = holder.cell_contents
            except ValueError:
                return
            if self.hit(value):
                holder.cell_contents = self.sub(value)
                self.count += 1
        elif kind is FunctionType:
            if holder.__defaults__ and any(self.hit(v) for v in holder.__defaults__):
                holder.__defaults__ = tuple(self.sub(v) for v in holder.__defaults__)
                self.count += 1
        elif kind is partial:
            if self.hit(holder.func) or any(self.hit(v) for v in holder.args):
                args = tuple(self.sub(v) for v in holder.args)
                state = (self.sub(holder.func), args, holder.keywords or None)
                holder.__setstate__((*state, holder.__dict__ or None))
                self.count += 1
        elif issubclass(kind, type):  # not isinstance: it sets up lazy proxies
            if any(self.hit(b) for b in holder.__bases__):
                try:
                    holder.__bases__ = tuple(self.sub(b) for b in holder.__bases__)
                    self.count += 1
                except TypeError:
                    pass
        else:
            self._replace_in_instance(holder)

    def _replace_in_dict(self, d: dict) -> None:
        owner = _class_of_namespace(d)
        for key, value in list(d.items()):
            if self.hit(key):
                keep = self.sub(key)
                # The re-run registered the new object: its entry is the current one.
                d[keep] = d.pop(key)
                key = keep
                self.count += 1
            if self.hit(value):
                if owner is not None:
                    type.__setattr__(owner, key, self.sub(value))
                else:
                    d[key] = self.sub(value)
                self.count += 1

    def _replace_in_list(self, items: list) -> None:
        drop = []
        for i, value in enumerate(items):
            if not self.hit(value):
                continue
            keep = self.sub(value)
            if any(_same(v, keep) for v in items):
                # The list held the old object and the re-run added the new one.
                drop.append(i)
            else:
                items[i] = keep
            self.count += 1
        for i in reversed(drop):
            del items[i]

    def _replace_in_instance(self, obj: object) -> None:
        if self.hit(type(obj)):
            try:
                object.__setattr__(
                    obj, "__class__", self.sub(type(obj))
                )  # past a frozen __setattr__
                self.count += 1
            except TypeError:
                pass
        attrs = getattr(obj, "__dict__", None)
        if type(attrs) is dict:
            self._replace_in_dict(attrs)


def _same(a: object, b: object) -> bool:
    """The same object, or tuples of the same objects (a registry's ``(event, handler)``)."""
    if a is b:
        return True
    return (
        type(a) is tuple
        and type(b) is tuple
        and len(a) == len(b)
        and all(x is y for x, y in zip(a, b))
    )


def _class_of_namespace(d: dict) -> type | None:
    """The class whose namespace ``d`` is, if it looks like one (written through ``setattr``
    so the type's attribute caches see the change)."""
    if "__module__" not in d or "__name__" in d:
        return None
    for ref in gc.get_referrers(d):
        if isinstance(ref, type) and any(x is d for x in gc.get_referents(ref)):
            return ref
    return None
