"""The IPython extension: ``%load_ext reload_server``.

Before each cell runs, every loaded module whose file changed is reloaded in one
transaction — the role of ``%autoreload 2``, with rollback: when the new code
does not compile or fails at import, the cell runs against the old code and the
error says where, instead of leaving modules half-updated.

``%reimport NAME …`` reloads named modules (or paths) on demand.
"""

from __future__ import annotations

import sys
from typing import Any

from ..core import staleness
from ..core.results import ReloadError
from ..core.transaction import reimport
from .watcher import describe


class AutoReimport:
    """The pre-cell hook; one per shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.enabled = True
        staleness.snapshot()

    def pre_run_cell(self, *_: Any) -> None:
        if not self.enabled:
            return
        stale = staleness.modified()  # never lists __main__ or anything else unreloadable
        if not stale:
            return
        try:
            reimport(*stale)
        except ReloadError as e:
            print(describe(e), file=sys.stderr)
            for note in e.notes:
                print(f"  {note}", file=sys.stderr)


_hooks: dict[int, AutoReimport] = {}


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext reload_server``: reload stale modules before each cell, transactionally."""
    if id(shell) in _hooks:
        return
    hook = _hooks[id(shell)] = AutoReimport(shell)
    shell.events.register("pre_run_cell", hook.pre_run_cell)

    def reimport_magic(line: str) -> None:
        """%reimport NAME_OR_PATH …: reload modules now; %reimport off|on toggles auto-reload."""
        words = line.split()
        if words in (["off"], ["on"]):
            hook.enabled = words == ["on"]
            return
        try:
            print(describe(reimport(*words)))
        except ReloadError as e:
            print(describe(e), file=sys.stderr)
            for note in e.notes:
                print(f"  {note}", file=sys.stderr)

    shell.register_magic_function(reimport_magic, "line", "reimport")


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext reload_server``: stop reloading before each cell."""
    hook = _hooks.pop(id(shell), None)
    if hook is not None:
        shell.events.unregister("pre_run_cell", hook.pre_run_cell)
