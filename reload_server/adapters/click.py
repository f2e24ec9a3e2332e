"""click: commands and groups held from before a reload run the new code.

Re-running a module makes new ``click.Command`` objects (callback, options,
defaults, help) and new groups with the new command list; the module's names
move to them, but a command object the program already holds — the one it
passed to its entry point, a group another module holds — would keep the old
ones.  After the commit each such old command takes the new one's attributes
(:func:`~reload_server.adapters.become.become`), and a command the new code
no longer defines leaves the groups of other modules it was added to.
"""

from __future__ import annotations

import click

from ..core.adapters import Adapter
from ..core.results import Note
from ..core.values import is_a
from .become import become

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import ModuleType


class ClickAdapter(Adapter):
    """Brings the click commands and groups a reloaded module had up to date."""

    def __init__(self) -> None:
        # Per module: its top-level names that held a command before the new code ran.
        self.held: list[tuple[ModuleType, dict[str, click.Command]]] = []
        # Each group those commands reach, with the subcommands it listed then.
        self.listings: list[tuple[click.Group, dict[str, click.Command]]] = []

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        self.held = [(m, _commands(m)) for m in modules]
        # A group the run does not make again (its statement is unchanged, or it
        # is another module's) takes the re-run's subcommands in place: keep
        # what each listed, for a rollback.
        self.listings = _listings(c for _, held in self.held for c in held.values())

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        for group, commands in self.listings:
            group.commands.clear()
            group.commands.update(commands)

    def committed(self, modules: Sequence[ModuleType]) -> list[Note]:
        notes = []
        for module, before in self.held:
            ns = module.__dict__
            removed = []
            for name, old in before.items():
                new = ns.get(name)
                if new is old or not _made_by(old, module):
                    # Not made again (nothing to follow), or another module's command.
                    continue
                if not is_a(new, click.Command) or not _made_by(new, module):
                    removed.append(old)
                    continue
                try:
                    become(old, new)
                except TypeError as e:
                    notes.append(_left_behind(module, name, e))
            if removed:
                _leave_groups(removed, before.values())
        return notes


def _commands(module: ModuleType) -> dict[str, click.Command]:
    return {n: v for n, v in module.__dict__.items() if is_a(v, click.Command)}


def _listings(commands: Iterable[click.Command]) -> list[tuple[click.Group, dict]]:
    """Every group among ``commands`` and their subcommands, with a copy of its listing."""
    found: dict[int, tuple[click.Group, dict]] = {}
    todo = list(commands)
    while todo:
        group = todo.pop()
        if not is_a(group, click.Group) or id(group) in found:
            continue
        found[id(group)] = (group, dict(group.commands))
        todo.extend(group.commands.values())
    return list(found.values())


def _made_by(command: click.Command, module: ModuleType) -> bool:
    """Whether ``module``'s code made ``command``: its callback is one of the module's functions.

    A command bound to a name of the module but made elsewhere (imported) is
    that other module's, and never changed here.
    """
    if command.callback is not None:
        return getattr(command.callback, "__module__", None) == module.__name__
    # A group made without a function (``click.Group("cli")``): its commands tell.
    commands = getattr(command, "commands", {}).values()
    return any(getattr(c.callback, "__module__", None) == module.__name__ for c in commands)


def _leave_groups(removed: list[click.Command], held: object) -> None:
    """Take commands the new code no longer defines out of the groups the module used.

    A group of another module (``from app import cli`` and ``@cli.command()``)
    was not made again, so it still lists them; groups the module made
    itself already hold only the new code's commands.
    """
    gone = {id(c) for c in removed}
    for group in held:
        if is_a(group, click.Group):
            for key in [k for k, c in group.commands.items() if id(c) in gone]:
                del group.commands[key]


def _left_behind(module: ModuleType, name: str, error: TypeError) -> Note:
    return Note(
        f"{module.__name__}.{name}: the command held from before the reload keeps "
        f"its old code: its class cannot change ({error})",
        severity="warning",
        kind="fallback",
    )
