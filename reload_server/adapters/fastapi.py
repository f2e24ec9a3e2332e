"""FastAPI and Starlette: the app the server holds serves the reloaded routes and schemas.

A server (uvicorn's ``Config``) holds the app object made at start-up.  A
reload re-runs ``@app.get`` against it, which would append a second route
behind the old one (the old one keeps answering, with the old signature); a
reloaded module's new ``APIRouter`` is not the one the app included; and a
route's body validator, built by pydantic when the route was made, keeps the
model's old fields.  So, for every Starlette app (FastAPI's included) the
program holds:

- before the new code runs, the routes whose endpoint a reloaded module
  defines are taken out of every router the app serves from (its own and the
  routers it includes);
- after it ran, a route the new code did not make again is put back if its
  ``def`` did not run again (a reload that re-runs only what changed) and is
  gone otherwise; the routes the new code made take the place of the old
  ones, in the same order; an included router a reloaded module defines is
  replaced by the module's current router, with the same include options
  (prefix, tags, dependencies: FastAPI keeps them with the inclusion);
- a module that makes its app anew keeps the app the server holds, which
  takes the new app's routes (a changed middleware or exception handler is
  refused: the held app's middleware stack was built at start-up), and so is
  one a statement that ran again made on the held app (``app.add_middleware``);
- after the commit, pydantic models a reloaded module defines, and their
  subclasses, are rebuilt, then every API route of the app is made again from
  its own settings, so bodies validate with the new fields into instances of
  the model the program holds; the OpenAPI schema is made again on next use.

Rollback puts every router's routes back, the very same route objects, and
the app's middleware list and exception handlers.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys

import starlette.applications

from reload_server.core.adapters import Adapter
from reload_server.core.results import INFO, WARNING, Note

from ..core.values import is_a
from .live import MISSING, Apps, defined_in, definition, ran_again

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import ModuleType


def _routers(router: object) -> list[object]:
    """``router`` and every router it includes (FastAPI keeps included routers whole)."""
    found = [router]
    for route in getattr(router, "routes", ()):
        inner = getattr(route, "original_router", None)
        if inner is not None and all(inner is not r for r in found):
            found.extend(r for r in _routers(inner) if all(r is not f for f in found))
    return found


def _touched(router: object) -> None:
    """Tell FastAPI's caches (included routes, OpenAPI) that the routes changed."""
    mark = getattr(router, "_mark_routes_changed", None)
    if mark is not None:
        mark()


class _HeldRouter:
    """One router of a held app during one reload: its routes before, and what was taken out."""

    def __init__(self, router: object, names: set[str], before: dict[str, dict]) -> None:
        self.router = router
        self.routes: list = router.routes  # type: ignore[attr-defined]
        self.saved = list(self.routes)
        # The routes the reload starts from (the held app's, less what a new app replaces).
        self.base = list(self.saved)
        # Owned routes: route -> (module, name, the value that name held).
        self.owned: dict[int, tuple] = {}
        for route in self.routes:
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None and defined_in(endpoint, names):
                self.owned[id(route)] = definition(endpoint, before)
        # Inclusions of routers a reloaded module defines: id(inclusion) -> (module, name).
        self.included: dict[int, tuple[str, str]] = {}
        for route in self.routes:
            inner = getattr(route, "original_router", None)
            if inner is None:
                continue
            for module, space in before.items():
                name = next((k for k, v in space.items() if v is inner), None)
                if name is not None:
                    self.included[id(route)] = (module, name)
                    break
        # FastAPI before 0.137 copied an included router's routes into the including
        # one: (module, name) of such a router -> the include options read back.
        self.copied: dict[tuple[str, str], dict] = self._copies(before)
        self.kept = 0

    def _copies(self, before: dict[str, dict]) -> dict[tuple[str, str], dict]:
        routing = sys.modules.get("fastapi.routing")
        if routing is None or hasattr(routing, "_IncludedRouter"):
            return {}
        originals: dict[int, tuple[str, str, object]] = {}
        for module, space in before.items():
            for name, value in space.items():
                if is_a(value, routing.APIRouter) and value is not self.router:
                    for route in value.routes:
                        endpoint = getattr(route, "endpoint", None)
                        if endpoint is not None:
                            originals[id(endpoint)] = (module, name, route)
        found: dict[tuple[str, str], list] = {}
        for route in self.routes:
            origin = originals.get(id(getattr(route, "endpoint", None)))
            if origin is None or origin[2] is route:
                continue
            found.setdefault(origin[:2], []).append((route, origin[2]))
            # Always made again, by including the module's router again.
            self.owned[id(route)] = (*origin[:2], MISSING)
        return {where: self._include_options(where, pairs) for where, pairs in found.items()}

    def _include_options(self, where: tuple[str, str], pairs: list) -> dict:
        """The ``include_router`` options that made these copies of the router's routes."""
        router = self.router
        prefixes, tags, dependencies = set(), [], []
        for copy, original in pairs:
            if copy.path.endswith(original.path):
                prefixes.add(copy.path[: len(copy.path) - len(original.path)])
            own_tags = len(copy.tags) - len(original.tags)
            tags.append(copy.tags[len(getattr(router, "tags", ())) : own_tags])
            own_deps = len(copy.dependencies) - len(original.dependencies)
            dependencies.append(
                copy.dependencies[len(getattr(router, "dependencies", ())) : own_deps]
            )
        if len(prefixes) != 1 or any(t != tags[0] for t in tags):
            return {"unknown": f"{where[0]}.{where[1]}"}
        if any(d != dependencies[0] for d in dependencies):
            return {"unknown": f"{where[0]}.{where[1]}"}
        return {"prefix": prefixes.pop(), "tags": tags[0], "dependencies": dependencies[0]}

    def take_out(self) -> None:
        if self.owned:
            self.routes[:] = [r for r in self.saved if id(r) not in self.owned]
            _touched(self.router)
        self.kept = len(self.routes)

    def put_back(self, made: list | None = None) -> None:
        """After the new code ran: old routes in their places, new ones where the old ones were."""
        for (module, name), options in self.copied.items():
            router = sys.modules[module].__dict__.get(name)
            if router is None:
                continue  # the router is gone: so are its routes
            if "unknown" in options:
                raise RuntimeError(
                    f"cannot tell the options router {options['unknown']} was included with "
                    "(this FastAPI copies an included router's routes): restart the program"
                )
            self.router.include_router(router, **options)  # type: ignore[attr-defined]
        new = list(self.routes[self.kept :]) if made is None else made
        out: list = []
        placed = False
        for route in self.base:
            if id(route) in self.owned:
                if not placed:
                    out.extend(new)
                    placed = True
                if not ran_again(*self.owned[id(route)]):
                    out.append(route)
                continue
            where = self.included.get(id(route))
            if where is not None:
                route = self._include_again(route, *where)
                if route is None:
                    continue
            out.append(route)
        if not placed:
            out.extend(new)
        self.routes[:] = out
        _touched(self.router)

    @staticmethod
    def _include_again(included: object, module: str, name: str) -> object | None:
        """The inclusion of the module's current router, with the old inclusion's options."""
        router = sys.modules[module].__dict__.get(name)
        old = included.original_router  # type: ignore[attr-defined]
        if router is old:
            return included
        if not is_a(router, type(old)):
            return None  # the router is gone: so are its routes
        context = dataclasses.replace(included.include_context, included_router=router)  # type: ignore[attr-defined]
        return type(included)(original_router=router, include_context=context)

    def restore(self) -> None:
        self.routes[:] = self.saved
        _touched(self.router)


class _HeldApp:
    """One live app during one reload: its routers, and its OpenAPI schema before."""

    def __init__(self, app: object, names: set[str], before: dict[str, dict]) -> None:
        self.app = app
        self.routers = [_HeldRouter(r, names, before) for r in _routers(app.router)]  # type: ignore[attr-defined]
        self.openapi = getattr(app, "openapi_schema", MISSING)
        self.bound = [(m, k) for m, space in before.items() for k, v in space.items() if v is app]
        self.names = names
        # What the middleware stack is built from: a statement that runs again
        # against the held app (``app.add_middleware``) changes these in place.
        self.middleware = list(getattr(app, "user_middleware", ()))
        self.handlers = dict(getattr(app, "exception_handlers", {}))

    def take_out(self) -> None:
        for held in self.routers:
            held.take_out()

    def put_back(self) -> None:
        own = self.routers[0]
        made = None
        before = {"user_middleware": self.middleware, "exception_handlers": self.handlers}
        for attr, value in before.items():
            if _shape(getattr(self.app, attr, None)) != _shape(value):
                raise RuntimeError(
                    f"the reload changed the {attr} of the app the program serves, whose "
                    "middleware stack was built at start-up: restart the program (routes reload)"
                )
        for module, name in self.bound:
            new = sys.modules[module].__dict__.get(name)
            if is_a(new, type(self.app)) and new is not self.app:
                made = self._adopt(new)
                sys.modules[module].__dict__[name] = self.app
        own.put_back(made)
        for held in self.routers[1:]:
            held.put_back()

    def _adopt(self, new: object) -> list:
        """The module made its app anew: the routes the held app takes from it."""
        app = self.app
        for attr in ("user_middleware", "exception_handlers"):
            if _shape(getattr(new, attr, None)) != _shape(getattr(app, attr, None)):
                raise RuntimeError(
                    f"the reload made a new app whose {attr} differs from the app the program "
                    "serves, whose middleware stack was built at start-up: restart the program "
                    "(routes reload)"
                )
        own = self.routers[0]
        kept = {id(r) for r in own.routes}
        taken = []
        for route in new.router.routes:  # type: ignore[attr-defined]
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None and defined_in(endpoint, self.names):
                taken.append(route)
            elif getattr(route, "original_router", None) is not None and id(route) not in kept:
                taken.append(route)
        # The new app includes the routers again (the reloaded ones anew): the held
        # app's inclusions of them make way.
        inner = {id(getattr(r, "original_router", None)) for r in taken}
        own.base = [
            r
            for r in own.base
            if id(r) not in own.included
            and (getattr(r, "original_router", None) is None or id(r.original_router) not in inner)
        ]
        return taken

    def rebuild_routes(self) -> int:
        """Make every API route again from its settings: its validators follow the models."""
        count = 0
        for held in self.routers:
            routes = held.routes
            for index, route in enumerate(routes):
                remade = _remade(route)
                if remade is not None:
                    routes[index] = remade
                    count += 1
            _touched(held.router)
        if self.openapi is not MISSING:
            self.app.openapi_schema = None  # type: ignore[attr-defined]
        return count

    def restore(self) -> None:
        for held in self.routers:
            held.restore()
        app = self.app
        if hasattr(app, "user_middleware"):
            app.user_middleware[:] = self.middleware  # type: ignore[attr-defined]
        if hasattr(app, "exception_handlers"):
            app.exception_handlers.clear()  # type: ignore[attr-defined]
            app.exception_handlers.update(self.handlers)  # type: ignore[attr-defined]
        if self.openapi is not MISSING:
            self.app.openapi_schema = self.openapi  # type: ignore[attr-defined]


def _shape(value: object) -> object:
    if is_a(value, dict):
        return sorted(repr(k) for k in value)
    if is_a(value, list):
        return [repr(getattr(m, "cls", m)) for m in value]
    return value


def _remade(route: object) -> object | None:
    """A FastAPI route made anew from its own settings, or None for other routes."""
    routing = sys.modules.get("fastapi.routing")
    if routing is None or not is_a(route, routing.APIRoute):
        return None
    kind = type(route)
    parameters = inspect.signature(kind.__init__).parameters
    settings = {
        name: getattr(route, name)
        for name, p in parameters.items()
        if p.kind is p.KEYWORD_ONLY and hasattr(route, name)
    }
    return kind(route.path, route.endpoint, **settings)


def _models(modules: Sequence[ModuleType]) -> list[type]:
    """The pydantic models the modules define, then their subclasses anywhere, bases first."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return []
    found: list[type] = []
    for module in modules:
        for value in list(module.__dict__.values()):
            if (
                is_a(value, type)
                and issubclass(value, pydantic.BaseModel)
                and value.__module__ == module.__name__
                and value not in found
            ):
                found.append(value)
    for cls in found:  # grows while it runs: subclasses of subclasses too
        found.extend(s for s in cls.__subclasses__() if s not in found)
    return found


_apps = Apps()


class StarletteAdapter(Adapter):
    """Keeps every live Starlette/FastAPI app's routes and schemas those of the running code."""

    def __init__(self) -> None:
        self.held: list[_HeldApp] = []

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        names = {m.__name__ for m in modules}
        before = {m.__name__: dict(m.__dict__) for m in modules}
        # The starlette the program runs (a test may have imported it afresh since).
        app_class = (sys.modules.get("starlette.applications") or starlette.applications).Starlette
        for app in _apps.find(app_class, modules):
            held = _HeldApp(app, names, before)
            self.held.append(held)
            held.take_out()

    def check(self, modules: Sequence[ModuleType]) -> None:
        for held in self.held:
            held.put_back()

    def committed(self, modules: Sequence[ModuleType]) -> Iterable[Note] | None:
        notes = []
        models = _models(modules)
        for model in models:
            try:
                model.model_rebuild(force=True, _parent_namespace_depth=0)
            except Exception as e:  # noqa: BLE001 - the commit is done: say which model is stale
                notes.append(
                    Note(
                        f"pydantic model {model.__qualname__} could not be rebuilt "
                        f"({type(e).__name__}: {e}): it validates with its old schema",
                        WARNING,
                        model.__module__,
                        kind="update",
                    )
                )
        for held in self.held:
            if models:
                count = held.rebuild_routes()
                notes.append(
                    Note(
                        f"remade {count} API routes: the models they use changed",
                        INFO,
                        kind="update",
                    )
                )
            elif held.openapi is not MISSING:
                held.app.openapi_schema = None  # type: ignore[attr-defined]
        return notes

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        for held in self.held:
            held.restore()
