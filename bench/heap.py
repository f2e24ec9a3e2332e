"""A heap of N live objects, some referencing the reloaded module, and the correctness probe.

Of the N objects, 90 % are filler that has nothing to do with the module (small
dicts, lists and ``__slots__`` instances: all tracked by the garbage collector,
as the objects of a real app are), and 10 % reference ``benchmod``:

* instances of its classes (30 %) and of their subclasses in ``benchsub`` (20 %);
* bound methods of those instances (20 %);
* callbacks: its functions in small lists (15 %) and dicts (10 %), and
  ``functools.partial`` objects (5 %).

On top of that, :class:`Probe` keeps one of each kind of reference for every
function and class (a few thousand objects) and, after each reload, checks that
every one of them runs the new version's code.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from .gen import MODULE, SUBMODULE, USERMODULE, cname, fname


class Node:
    __slots__ = ("a", "b")

    def __init__(self, a: int, b: object) -> None:
        self.a = a
        self.b = b


def populate(n: int) -> list[Any]:
    """N live objects (the list holding them aside); 10 % reference ``benchmod``."""
    mod = sys.modules[MODULE]
    sub = sys.modules[SUBMODULE]
    funcs = [getattr(mod, fname(i)) for i in range(200) if hasattr(mod, fname(i))]
    classes = [getattr(mod, cname(i)) for i in range(50) if hasattr(mod, cname(i))]
    subs = [getattr(sub, f"Sub_{i:02d}") for i in range(len(classes))]
    heap: list[Any] = []
    add = heap.append
    n_ref = n // 10
    n_inst = n_ref * 30 // 100
    n_sub = n_ref * 20 // 100
    n_bound = n_ref * 20 // 100
    n_list = n_ref * 15 // 100
    n_dict = n_ref * 10 // 100
    n_partial = n_ref - n_inst - n_sub - n_bound - n_list - n_dict
    nc, nf = len(classes), len(funcs)
    instances = []
    for i in range(n_inst):
        obj = classes[i % nc](i & 255)
        instances.append(obj)
        add(obj)
    for i in range(n_sub):
        obj = subs[i % nc](i & 255)
        instances.append(obj)
        add(obj)
    for i in range(n_bound):
        add(instances[i % len(instances)].m if instances else funcs[i % nf])
    for i in range(n_list):
        add([funcs[i % nf], funcs[(i * 7) % nf]])
    for i in range(n_dict):
        add({"callback": funcs[i % nf], "n": i & 255})
    for i in range(n_partial):
        add(functools.partial(funcs[i % nf], i & 255))
    del instances
    filler = n - n_ref
    third = filler // 3
    for i in range(third):
        add({"a": i & 255, "b": None})
    for i in range(third):
        add([i & 255, None])
    for i in range(filler - 2 * third):
        add(Node(i & 255, None))
    return heap


class Probe:
    """References of every kind to version 0's objects, and checks that they run version v."""

    def __init__(self) -> None:
        mod = sys.modules[MODULE]
        sub = sys.modules[SUBMODULE]
        user = sys.modules[USERMODULE]
        self.names_f = [n for n in (fname(i) for i in range(200)) if hasattr(mod, n)]
        self.names_c = [n for n in (cname(i) for i in range(50)) if hasattr(mod, n)]
        self.funcs = [getattr(mod, n) for n in self.names_f]
        self.callbacks = {n: getattr(mod, n) for n in self.names_f}
        self.partials = [functools.partial(f, 1) for f in self.funcs]
        self.classes = [getattr(mod, n) for n in self.names_c]
        self.instances = [c(1) for c in self.classes]
        self.bound = [i.m for i in self.instances]
        self.subclasses = [getattr(sub, f"Sub_{n[2:]}") for n in self.names_c]
        self.sub_instances = [s(1) for s in self.subclasses]
        self.user = user

    def check(self, v: int) -> dict[str, str | None]:
        """For each kind of reference, None if it runs version ``v``, else what went wrong."""
        mod = sys.modules[MODULE]
        checks = {
            "functions": lambda: all(f(1)[0] == v for f in self.funcs),
            "callbacks": lambda: (
                all(f(1)[0] == v for f in self.callbacks.values())
                and all(p()[0] == v for p in self.partials)
                and all(f(1)[0] == v for f in self.user.CALLBACKS.values())
            ),
            "from_import": lambda: (
                all(getattr(self.user, n)(1)[0] == v for n in self.names_f)
                and all(getattr(self.user, n)(1).born == v for n in self.names_c)
            ),
            "instances": lambda: all(
                i.m(1)[0] == v and i.p[0] == v and type(i).make(1)[0] == v for i in self.instances
            ),
            "bound_methods": lambda: all(b(1)[0] == v for b in self.bound),
            "new_instances": lambda: all(getattr(mod, n)(1).born == v for n in self.names_c),
            "isinstance": lambda: all(
                isinstance(i, getattr(mod, n)) for i, n in zip(self.instances, self.names_c)
            ),
            "subclasses": lambda: (
                all(issubclass(s, getattr(mod, n)) for s, n in zip(self.subclasses, self.names_c))
                and all(s.m(1)[0] == v and s.p[0] == v for s in self.sub_instances)
            ),
            "super": lambda: (
                all(i.sup() == (v, (v, "base")) for i in self.instances)
                and all(s.sup() == (v, (v, "base")) for s in self.sub_instances)
            ),
        }
        out: dict[str, str | None] = {}
        for name, check in checks.items():
            try:
                out[name] = None if check() else "old code"
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                out[name] = f"{type(e).__name__}: {e}"[:120]
        return out
