"""Questions a test asks a running app: is its module intact, is its server alive."""

from __future__ import annotations

from typing import Any

from support.apps import App
from support.raw import Raw

# Evaluated in the app: what a module holds, by identity and by value.
SNAPSHOT = """(lambda m: {
    "module": id(m),
    "dict": id(vars(m)),
    "names": sorted(k for k in vars(m) if not k.startswith('__')),
    "ids": {k: id(v) for k, v in vars(m).items() if not k.startswith('__')},
    "code": {k: id(v.__code__) for k, v in vars(m).items() if hasattr(v, '__code__')},
    "state": repr(getattr(m, 'STATE', None)),
    "in_sys_modules": sys.modules.get(%(name)r) is m,
})(sys.modules[%(name)r])"""


def snapshot(app: App, name: str) -> dict[str, Any]:
    """What module ``name`` of the app is: object identities, code identities and state."""
    return app.eval(SNAPSHOT % {"name": name})


def server_alive(app: App) -> bool:
    """The server thread runs and still answers a new client."""
    threads = app.eval("sorted(t.name for t in threading.enumerate())")
    if "reload_server" not in threads:
        return False
    with Raw(app.address) as conn:
        conn.initialize()
        reply = conn.call("reloadStale", {"root": str(app.root / "nowhere")})
    return reply.get("result", {}).get("status") == "unchanged"
