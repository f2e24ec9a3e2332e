"""The reloaders under test, behind one small interface.

Each tool is set up once after ``benchmod`` is imported and the heap is built
(untimed), then asked to reload the module after each edit (timed: only the
``reload`` call).  ``importlib`` and ``reload_server`` are always measured;
the peers only where they are installed (see ``requirements-peers.txt``).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class Tool:
    name = ""
    label = ""
    #: Top-level module that must be importable for this tool to run.
    requires = ""
    peer = True
    note = ""

    def setup(self, module: ModuleType) -> None:
        """Called once, after the first import of the module and before any edit."""

    def reload(self, module: ModuleType) -> None:
        raise NotImplementedError


class ImportlibReload(Tool):
    name = "importlib"
    label = "`importlib.reload`"
    requires = "importlib"
    peer = False
    note = "compile + exec in the module's namespace; updates no old reference (the floor)"

    def reload(self, module: ModuleType) -> None:
        importlib.reload(module)


class ReloadServer(Tool):
    name = "reload_server"
    label = "**reload_server** `reimport()`"
    requires = "reload_server"
    peer = False

    def setup(self, module: ModuleType) -> None:
        import reload_server

        self._reimport = reload_server.reimport

    def reload(self, module: ModuleType) -> None:
        self._reimport(module)


class XReload(Tool):
    name = "xreload"
    label = "xreload"
    requires = "xreload"

    def setup(self, module: ModuleType) -> None:
        from xreload import xreload

        self._xreload = xreload

    def reload(self, module: ModuleType) -> None:
        self._xreload(module)


class IPythonAutoreload(Tool):
    name = "ipython-autoreload2"
    label = "IPython `%autoreload 2`"
    requires = "IPython"
    note = "ModuleReloader.check(): stat of every loaded module, then deduperreload or superreload"

    def setup(self, module: ModuleType) -> None:
        from IPython.extensions.autoreload import ModuleReloader

        self._reloader = ModuleReloader()  # records mtimes and sources of loaded modules
        self._reloader.enabled = True
        self._reloader.check_all = True
        self._reloader.hide_errors = False

    def reload(self, module: ModuleType) -> None:
        self._reloader.check()
        if self._reloader.failed:
            raise RuntimeError(f"autoreload failed: {list(self._reloader.failed)}")


class IPythonSuperreload(Tool):
    name = "ipython-superreload"
    label = "IPython `superreload`"
    requires = "IPython"
    note = "the path of `%autoreload 3` and of edits deduperreload cannot patch"

    def setup(self, module: ModuleType) -> None:
        from IPython.extensions.autoreload import superreload

        self._superreload = superreload
        self._old_objects: dict = {}

    def reload(self, module: ModuleType) -> None:
        self._superreload(module, importlib.reload, self._old_objects)


class Jurigged(Tool):
    name = "jurigged"
    label = "jurigged"
    requires = "jurigged"
    note = "registry.prepare() at setup; its first reload builds its cache"

    def setup(self, module: ModuleType) -> None:
        from jurigged import registry

        self._registry = registry
        registry.prepare(module.__name__)
        self._file = module.__file__

    def reload(self, module: ModuleType) -> None:
        self._registry.get(self._file).refresh()


class ReimportNg(Tool):
    name = "reimport-ng"
    label = "reimport-ng"
    requires = "reimport"

    def setup(self, module: ModuleType) -> None:
        import reimport

        self._reimport = reimport.reimport

    def reload(self, module: ModuleType) -> None:
        self._reimport(module)


TOOLS: dict[str, type[Tool]] = {
    t.name: t
    for t in (
        ImportlibReload,
        ReloadServer,
        XReload,
        IPythonAutoreload,
        IPythonSuperreload,
        Jurigged,
        ReimportNg,
    )
}


def available(name: str) -> bool:
    """Whether the tool's package can be imported by this interpreter."""
    return importlib.util.find_spec(TOOLS[name].requires) is not None
