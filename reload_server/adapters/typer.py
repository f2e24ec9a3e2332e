"""typer: a Typer app held from before a reload serves the new commands.

Typer builds its click command from ``app.registered_commands`` and
``app.registered_groups`` on every invocation, so what must be right is those
lists.  An app the reloaded module made (``app = typer.Typer()``) is made
again by the new code, and the old app object the program holds takes the new
one's attributes.  An app of another module that the reloaded module adds
commands to (``from main import app`` and ``@app.command()``) was not made
again: the re-run appended its commands a second time.  Each appended entry
takes the place of the entry it repeats (same function, same sub-app name),
so the order of the listing stays, and an entry whose function or sub-app
the new code no longer defines is dropped.
"""

from __future__ import annotations

import typer

from ..core.adapters import Adapter
from ..core.results import Note
from ..core.values import is_a
from .become import become

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType
    from typing import Any


class TyperAdapter(Adapter):
    """Brings the Typer apps a reloaded module made or added commands to up to date."""

    def __init__(self) -> None:
        # Per module: its namespace before the new code ran, and each app it
        # held with the commands and groups that app had then.
        self.held: list[tuple[ModuleType, dict[str, Any], list[_Listing]]] = []

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        self.held = []
        for module in modules:
            ns = dict(module.__dict__)
            apps = [_Listing(name, app) for name, app in ns.items() if is_a(app, typer.Typer)]
            if apps:
                self.held.append((module, ns, apps))

    def committed(self, modules: Sequence[ModuleType]) -> list[Note]:
        notes = []
        names = {m.__name__ for m in modules}
        for module, before, apps in self.held:
            now = module.__dict__
            for listing in apps:
                new = now.get(listing.name)
                if new is listing.app:
                    listing.settle(module, before, names)
                elif is_a(new, typer.Typer) and _made_by(listing.app, module):
                    try:
                        become(listing.app, new)
                    except TypeError as e:
                        notes.append(
                            Note(
                                f"{module.__name__}.{listing.name}: the Typer app held from "
                                f"before the reload keeps its old commands ({e})",
                                severity="warning",
                                kind="fallback",
                            )
                        )
        return notes

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        # An app the run did not make again took the re-run's entries in place.
        for _module, _before, apps in self.held:
            for listing in apps:
                listing.app.registered_commands[:] = listing.commands
                listing.app.registered_groups[:] = listing.groups
                listing.app.registered_callback = listing.callback


class _Listing:
    """An app's command and group entries as they were before the new code ran."""

    def __init__(self, name: str, app: typer.Typer) -> None:
        self.name = name
        self.app = app
        self.commands = list(app.registered_commands)
        self.groups = list(app.registered_groups)
        self.callback = app.registered_callback

    def settle(self, module: ModuleType, before: dict[str, Any], reloaded: set[str]) -> None:
        """Fold the entries the re-run appended into the ones they repeat; drop removed ones."""
        app = self.app
        app.registered_commands[:] = _fold(
            self.commands,
            app.registered_commands,
            _command_key,
            lambda info: _removed(info.callback, module, before, reloaded),
        )
        app.registered_groups[:] = _fold(
            self.groups,
            app.registered_groups,
            _group_key,
            lambda info: _removed(info.typer_instance, module, before, reloaded),
        )


def _fold(before: list, now: list, key: Any, removed: Any) -> list:
    kept = [info for info in now if not any(info is b for b in before)]
    appended = {}
    for info in kept:
        appended.setdefault(key(info), info)
    result = []
    for info in now:
        if any(info is b for b in before):
            again = appended.pop(key(info), None)
            if again is not None:
                result.append(again)  # the re-run's entry, in the old one's place
            elif not removed(info):
                result.append(info)
    taken = {id(info) for info in result}
    result.extend(info for info in kept if id(info) not in taken)
    return result


def _command_key(info: Any) -> object:
    callback = info.callback
    if callback is None:
        return ("name", info.name)
    return (getattr(callback, "__module__", None), getattr(callback, "__qualname__", id(callback)))


def _group_key(info: Any) -> object:
    instance = info.typer_instance
    return info.name or (instance.info.name if instance is not None else None) or id(info)


def _removed(obj: object, module: ModuleType, before: dict[str, Any], reloaded: set[str]) -> bool:
    """Whether the new code of ``module`` no longer binds ``obj`` under the name it had.

    Only an object the module's old namespace held by name can be known to be
    gone; an entry whose function no name held (a lambda) stays.
    """
    if obj is None or module.__name__ not in reloaded:
        return False
    if is_a(obj, typer.Typer):
        if not _made_by(obj, module):
            return False
    elif getattr(obj, "__module__", None) != module.__name__:
        return False  # another module's function: this module cannot remove it
    ns = module.__dict__
    return any(v is obj and ns.get(k) is not obj for k, v in before.items())


def _made_by(app: typer.Typer, module: ModuleType) -> bool:
    """Whether ``app`` is ``module``'s: none of its functions is another module's.

    A name that held another module's app (imported) and now holds a
    different one must not turn the first app into the second.
    """
    infos = [*app.registered_commands, app.registered_callback, app.info]
    owners = {getattr(getattr(i, "callback", None), "__module__", None) for i in infos} - {None}
    return not owners or module.__name__ in owners
