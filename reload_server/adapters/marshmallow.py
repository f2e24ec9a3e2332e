"""marshmallow: the class registry names the schema classes the program runs.

``fields.Nested("Pet")`` finds its schema by name in marshmallow's class
registry, which every ``Schema`` subclass joins when it is made.  Re-running
a module registers its schemas again; the merge keeps the old classes (so a
held class sees added fields), and this adapter makes the registry follow:
after the commit each entry of a reloaded module's schema names the class
the module now binds under that name — so a name never resolves to a
discarded class nor to two classes — and a schema the new code no longer
defines leaves the registry, as it would be absent after a restart.
"""

from __future__ import annotations

from marshmallow import Schema, class_registry

from ..core.adapters import Adapter
from ..core.values import is_a

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType


class MarshmallowAdapter(Adapter):
    """Points marshmallow's class registry at the schema classes that survive a reload."""

    def __init__(self) -> None:
        # Ids of the registered classes a reloaded module bound at their qualname
        # before the new code ran: only those can be known to be gone.
        self.bound: set[int] = set()

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        by_name = {m.__name__: m for m in modules}
        for classes in class_registry._registry.values():
            for cls in classes:
                module = by_name.get(cls.__module__)
                if module is not None and _bound(module, cls.__qualname__) is cls:
                    self.bound.add(id(cls))

    def committed(self, modules: Sequence[ModuleType]) -> None:
        if not self.bound:
            return
        by_name = {m.__name__: m for m in modules}
        registry = class_registry._registry
        for key, classes in list(registry.items()):
            if not any(c.__module__ in by_name for c in classes):
                continue
            kept: list[type] = []
            for cls in classes:
                module = by_name.get(cls.__module__)
                current = cls if module is None else _bound(module, cls.__qualname__)
                if current is None and id(cls) not in self.bound:
                    current = cls  # made where no name shows it (in a function): stays
                if current is not None and all(current is not k for k in kept):
                    kept.append(current)
            if kept:
                registry[key] = kept
            else:
                del registry[key]


def _bound(module: ModuleType, qualname: str) -> type | None:
    """The schema class ``module`` binds at ``qualname`` now (``None``: no longer defined)."""
    value: object = module
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if is_a(value, type) and issubclass(value, Schema):
        return value
    return None
