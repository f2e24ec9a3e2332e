"""reload_server: hot reload for long-running Python programs, driven from the editor.

The public API is the names in ``__all__``; each is documented where it is
defined and forwarded from here.  Importing this package is cheap (a few
milliseconds): the reimporter is imported now, so that the first reload does
not pay for it, and everything else — the server, the watcher, the runners —
only when its name is first used.  The language-server machinery (pygls,
lsprotocol) is only ever imported on the server's own thread.

The package is layered, each folder importing only the ones before it:
``core`` (the transaction), ``wire`` (what server and clients share on the
wire), ``runtime`` (runners, watcher, notebook), ``server`` (the embedded LSP
server) and ``cli`` (the launcher and command-line client).
"""

from __future__ import annotations

# Modules imported from now on have their import time noted, for stale detection;
# so this comes before the reimporter, which reads the clock.
from .core import importclock as _importclock

_importclock.install()

from .core import adapters as _adapters  # noqa: E402
from .core.adapters import Adapter  # noqa: E402
from .core.adapters import register as register_adapter  # noqa: E402
from .core.adapters import unregister as unregister_adapter  # noqa: E402
from .core.events import subscribe  # noqa: E402
from .core.results import Frame, Note, ReloadError, ReloadResult  # noqa: E402
from .core.staleness import modified  # noqa: E402
from .core.transaction import reimport  # noqa: E402
from .version import __version__ as __version__  # noqa: E402

# The built-in framework adapters (reload_server/adapters/), each made only in
# reloads while its framework is imported: framework -> "module:factory".
_adapters.builtin(
    {
        "click": "reload_server.adapters.click:ClickAdapter",
        "typer": "reload_server.adapters.typer:TyperAdapter",
        "functools": "reload_server.adapters.functools:SingledispatchAdapter",
        "marshmallow": "reload_server.adapters.marshmallow:MarshmallowAdapter",
        "sqlalchemy": "reload_server.adapters.sqlalchemy:SQLAlchemyAdapter",
        "django": "reload_server.adapters.django:DjangoAdapter",
        "flask": "reload_server.adapters.flask:FlaskAdapter",
        "starlette": "reload_server.adapters.fastapi:StarletteAdapter",
        "celery": "reload_server.adapters.celery:CeleryAdapter",
    }
)

# Public names defined in modules that are imported on first use: name -> module.
_LAZY = {
    "serve": "reload_server.server.control",
    "serve_from_env": "reload_server.server.control",
    "stop": "reload_server.server.control",
    "poll": "reload_server.runtime.runners",
    "watch": "reload_server.runtime.watcher",
    "load_ipython_extension": "reload_server.runtime.ipython",
    "unload_ipython_extension": "reload_server.runtime.ipython",
}

__all__ = [
    "Adapter",
    "Frame",
    "Note",
    "ReloadError",
    "ReloadResult",
    "modified",
    "poll",
    "register_adapter",
    "reimport",
    "serve",
    "serve_from_env",
    "stop",
    "subscribe",
    "unregister_adapter",
    "watch",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reload_server' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
