"""Ordering reload targets so each module runs after the targets it imports."""

from __future__ import annotations

from .sources import Source


def order(sources: list[Source]) -> list[Source]:
    """Packages before their submodules, then imported targets before importers.

    A stable depth-first topological sort over the imports among the targets;
    an import cycle is broken at the point it is found, keeping package depth
    order there.
    """
    by_name = {s.name: s for s in sources}
    ranked = sorted(sources, key=lambda s: s.name.count("."))
    done: set[str] = set()
    visiting: set[str] = set()
    result: list[Source] = []

    def visit(s: Source) -> None:
        if s.name in done or s.name in visiting:
            return
        visiting.add(s.name)
        parent = s.name.rpartition(".")[0]
        deps = [parent] if parent in by_name else []
        deps += [d for d in s.imports if d in by_name and d != s.name]
        for dep in deps:
            visit(by_name[dep])
        visiting.discard(s.name)
        done.add(s.name)
        result.append(s)

    for s in ranked:
        visit(s)
    return result
