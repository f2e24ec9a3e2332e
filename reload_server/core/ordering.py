"""Ordering reload targets as a restart would run them, whatever order the caller names them in.

A start-up ran the modules' bodies in the order ``sys.modules`` lists them: the
import system moves each module there to the end once its body has run, so a
module follows the modules its top level imports, and in an import cycle the
module imported last (whose import found the first one half-run) comes first.
That *load order* is the order a reload keeps, with two corrections:

* a module runs after the targets it imports outside its own cycle, for an
  edit may have added an import the start-up did not see;
* inside a cycle, a module whose top level reads a value from another with
  ``from a import BASE`` (``a.BASE`` not a submodule) runs after ``a``.  A
  start-up gave it ``a``'s value, as ``a`` had bound ``BASE`` before the import
  that closed the cycle; a reload runs whole bodies one after another, so the
  reader must come after ``a``.  Plain ``import a`` reads nothing and does not
  constrain.  When such reads form a cycle themselves, the module first in load
  order among those whose other needs are met runs first.
"""

from __future__ import annotations

import heapq
import sys

from .sources import Source


def order(sources: list[Source]) -> list[Source]:
    """The targets in the order a restart would run them: load order, corrected (module docstring)."""
    if len(sources) < 2:
        return list(sources)
    by_name = {s.name: s for s in sources}
    deps = {s.name: _imports(s, by_name) for s in sources}
    rank = {name: i for i, name in enumerate(_load_order(by_name))}
    cycle = _cycles(list(by_name), deps)
    # What must run before each module: targets it imports outside its cycle,
    # and targets of its cycle it reads a value from.
    before: dict[str, set[str]] = {}
    for s in sources:
        must = {d for d in deps[s.name] if cycle[d] != cycle[s.name]}
        must.update(d for d in _reads(s, by_name) if cycle[d] == cycle[s.name])
        before[s.name] = must
    return [by_name[n] for n in _schedule(before, rank, cycle)]


def _imports(s: Source, by_name: dict[str, Source]) -> list[str]:
    """The targets ``s`` imports, in the order its top level imports them: its package first."""
    parent = s.name.rpartition(".")[0]
    found = [parent] if parent in by_name else []
    found += [d for d in s.imports if d in by_name and d != s.name and d != parent]
    return found


def _reads(s: Source, by_name: dict[str, Source]) -> set[str]:
    """The targets ``s``'s top level reads a value from (``from Y import value``)."""
    modules = sys.modules
    found = set()
    for module, name in s.reads:
        if module in by_name and module != s.name:
            sub = f"{module}.{name}"
            if sub not in by_name and sub not in modules:
                found.add(module)
    return found


def _load_order(by_name: dict[str, Source]) -> list[str]:
    """The targets in ``sys.modules`` order: the order their first import finished them.

    The import system moves a module to the end of ``sys.modules`` when its
    body has run (for the order of clean-up at exit), so this is the order a
    start-up ran them in, cycles included.
    """
    loaded = [n for n in sys.modules if n in by_name]
    seen = set(loaded)
    return loaded + [n for n in by_name if n not in seen]


def _cycles(names: list[str], deps: dict[str, list[str]]) -> dict[str, int]:
    """Each target's import cycle (strongly connected component), as a number."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    for root in names:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(deps[root]))]
        while work:
            name, pending = work[-1]
            for dep in pending:
                if dep not in index:
                    index[dep] = low[dep] = len(index)
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(deps[dep])))
                    break
                if dep in on_stack:
                    low[name] = min(low[name], index[dep])
            else:
                work.pop()
                if work:
                    caller = work[-1][0]
                    low[caller] = min(low[caller], low[name])
                if low[name] == index[name]:
                    number = index[name]  # the root's index: one per component
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = number
                        if member == name:
                            break
    return component


def _schedule(
    before: dict[str, set[str]], rank: dict[str, int], cycle: dict[str, int]
) -> list[str]:
    """Everything after what it must follow, else in load order; read cycles broken by rank."""
    waiting = {n: set(must) for n, must in before.items()}
    followers: dict[str, list[str]] = {n: [] for n in before}
    for n, must in before.items():
        for m in must:
            followers[m].append(n)
    ready = [(rank[n], n) for n, must in waiting.items() if not must]
    heapq.heapify(ready)
    result: list[str] = []
    while len(result) < len(before):
        if not ready:
            # Reads that form a cycle: run the earliest module in load order
            # whose only unmet needs are in its own cycle.
            stuck = min(
                (n for n, must in waiting.items() if all(cycle[m] == cycle[n] for m in must)),
                key=rank.__getitem__,
            )
            waiting[stuck].clear()
            heapq.heappush(ready, (rank[stuck], stuck))
        _, name = heapq.heappop(ready)
        if name not in waiting:
            continue
        del waiting[name]
        result.append(name)
        for follower in followers[name]:
            must = waiting.get(follower)
            if must is not None and name in must:
                must.discard(name)
                if not must:
                    heapq.heappush(ready, (rank[follower], follower))
    return result
