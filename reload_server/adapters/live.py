"""What the web-framework adapters share: the apps a program holds, and which defs ran again.

Apps are found in loaded modules' namespaces (a server holds the app some
module made; no framework keeps a registry of its apps).  Looking at every
value of every module costs milliseconds, so each module object is looked at
once, when a reload first sees it; only the reloaded modules and ``__main__``
(which binds its app late, in ``main()``) are looked at again every time.
Missed: an app no module's namespace ever held (made by a factory and handed
straight to the server).
"""

from __future__ import annotations

import inspect
import os
import sys
import weakref

from reload_server.core.sources import file_facts
from reload_server.core.targets import source_file

from ..core.holders import unseen_modules
from ..core.values import is_a

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

#: A module namespace's value that is not there.
MISSING = object()


class Apps:
    """The instances of one app class that loaded modules' namespaces hold, found incrementally."""

    def __init__(self) -> None:
        self._found: weakref.WeakSet = weakref.WeakSet()
        # The sys.modules entries looked at (core.holders.unseen_modules): a reload looks at
        # those imported since, and at the reloaded modules again, not at every loaded module.
        self._seen: dict[str, object] = {}

    def find(self, kind: type, modules: Sequence[ModuleType]) -> list:
        """Every live ``kind`` instance held by a module, the reloaded ``modules`` looked at again."""
        entries = [m for _, m in unseen_modules(self._seen)]
        entries += [*modules, sys.modules.get("__main__")]
        for module in entries:
            space = getattr(module, "__dict__", None)
            if not is_a(space, dict):
                continue
            for value in list(space.values()):
                if is_a(value, kind):
                    self._found.add(value)
        # A test or a program may import the framework afresh: only its own apps count.
        return [app for app in list(self._found) if is_a(app, kind)]


def defined_in(func: object, names: set[str]) -> bool:
    """Whether ``func`` (or the function it wraps) was defined by one of the modules ``names``."""
    return getattr(unwrapped(func), "__module__", None) in names or (
        getattr(func, "__module__", None) in names
    )


def unwrapped(func: object) -> object:
    try:
        return inspect.unwrap(func)  # type: ignore[arg-type]
    except ValueError:  # a __wrapped__ cycle
        return func


def definition(func: object, before: dict[str, dict]) -> tuple[str, str, object]:
    """``(module, name, value)``: where a reloaded module's namespace held ``func``'s def before the run."""
    inner = unwrapped(func)
    module = getattr(inner, "__module__", None)
    if module not in before:
        module = getattr(func, "__module__", None)
    name = getattr(inner, "__name__", "")
    return module, name, before.get(module, {}).get(name, MISSING)  # type: ignore[return-value]


def ran_again(module_name: str, name: str, held: object) -> bool:
    """Whether the reload ran the def that bound ``held`` to ``name``, or removed it.

    A def the reload did not run leaves the very object in the namespace and is
    still in the new source; a re-run binds a new object; a removed def leaves
    the old object until the commit, but the new source no longer binds it.
    """
    if held is MISSING:
        return True
    module = sys.modules[module_name]
    if module.__dict__.get(name, MISSING) is not held:
        return True
    file = source_file(module)
    if file is None:
        return True
    try:
        st = os.stat(file)
    except OSError:
        return True
    return name not in file_facts(module, file, st).bound
