"""Flask: the app the server holds serves the reloaded routes and blueprints.

Re-running ``@app.route`` against a live app trips Flask's "overwriting an
existing endpoint function" check, and a reloaded module's new ``Blueprint``
is never registered with the app (its registration ran once, at start-up, in
another module).  So, for every Flask app the program holds:

- before the new code runs, the endpoints whose view functions a reloaded
  module defined are taken out of the app (their rules and view functions),
  and Flask's "setup is finished" guard is lifted, so the new code registers
  its routes as it did at start-up;
- after it ran, an endpoint it did not register again is put back if its
  ``def`` did not run again (the module's name still holds the very function:
  a reload that re-runs only what changed), and is gone otherwise (the route
  was removed); a blueprint a reloaded module defines is unregistered and the
  module's current blueprint registered in its place, with the options of the
  first registration (``url_prefix``, ``name``);
- a module that makes its app anew (``app = Flask(__name__)`` ran again) keeps
  the app the server holds: the new app's routes and blueprints move into it.
  A changed config, hook or error handler in that module is refused: the new
  app would have it and the held app would not.  So is one that a statement
  of that module which ran again (a reload that re-runs only what changed)
  made on the held app itself: it was set up, and its extensions read the
  config, at start-up.

Rollback puts every routing table back as it was, the very same objects.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import flask
from werkzeug.routing.matcher import StateMachineMatcher

from reload_server.core.adapters import Adapter

from ..core.values import is_a
from .live import Apps, defined_in, definition, ran_again

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import ModuleType

    from flask import Blueprint, Flask

    from reload_server.core.results import Note

# The app's tables keyed by blueprint name (None: the app itself); a
# blueprint's registration adds to them under its name.
_KEYED = (
    "error_handler_spec",
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "url_default_functions",
    "url_value_preprocessors",
    "template_context_processors",
)


def _no_check(f_name: str) -> None:
    """Stands in for Flask's ``_check_setup_finished`` while a reload registers routes."""


def _save(value: object) -> object:
    """The contents of nested dicts and lists, to put back into the same objects."""
    if is_a(value, dict):
        return (value, [(k, _save(v)) for k, v in value.items()])
    if is_a(value, list):
        return (value, list(value))
    return (value, None)


def _restore(saved: object) -> object:
    obj, contents = saved  # type: ignore[misc]
    if is_a(obj, dict):
        obj.clear()
        for key, child in contents:
            obj[key] = _restore(child)
    elif is_a(obj, list):
        obj[:] = contents
    return obj


def _flask() -> ModuleType:
    """The flask the program runs (a test may have imported it afresh since this module was)."""
    return sys.modules.get("flask") or flask


def _rebuild_matcher(app: Flask) -> None:
    """Werkzeug's matcher only grows: after rules are taken out it is built anew."""
    url_map = app.url_map
    matcher = StateMachineMatcher(url_map.merge_slashes)
    for rules in url_map._rules_by_endpoint.values():
        for rule in rules:
            if not rule.build_only:
                matcher.add(rule)
    url_map._matcher = matcher
    url_map._remap = True


def _drop_endpoints(app: Flask, endpoints: Iterable[str]) -> None:
    for endpoint in list(endpoints):
        app.view_functions.pop(endpoint, None)
        app.url_map._rules_by_endpoint.pop(endpoint, None)


def _under(key: object, name: str) -> bool:
    return is_a(key, str) and (key == name or key.startswith(name + "."))


class _HeldApp:
    """One live app during one reload: what was taken out, and how to put it all back."""

    def __init__(self, app: Flask, names: set[str], before: dict[str, dict]) -> None:
        self.app = app
        self.saved_dict = dict(app.__dict__)
        self.saved = [
            _save(app.config),
            _save(app.view_functions),
            _save(app.url_map._rules_by_endpoint),
            _save(app.blueprints),
            *(_save(getattr(app, k)) for k in _KEYED),
        ]
        self.matcher = app.url_map._matcher
        # Where the app itself is bound in a reloaded module: (module, name).
        self.bound = [(m, k) for m, space in before.items() for k, v in space.items() if v is app]
        # The app's own config and hooks, as they were, to tell an edit of them
        # when the statement that makes the app does not run again.
        self.own = _own_setup(app)
        # Endpoints of the app's own routes whose view a reloaded module defined:
        # endpoint -> (rules, view, module, name, the value that name held).
        self.owned: dict[str, tuple] = {}
        for endpoint, view in app.view_functions.items():
            if "." in endpoint or not defined_in(view, names):
                continue
            module, name, held = definition(view, before)
            rules = list(app.url_map._rules_by_endpoint.get(endpoint, ()))
            self.owned[endpoint] = (rules, view, module, name, held)
        # Blueprints registered on the app itself (nested ones go with their parent):
        # those a reloaded module made, registered name -> (module, name, options);
        # the others, registered name -> (blueprint, its deferred setup before the run).
        self.blueprints: dict[str, tuple[str, str, dict]] = {}
        self.foreign: dict[str, tuple[Blueprint, list]] = {}
        # Nested blueprints a reloaded module made: registered name -> (module, name).
        self.nested: dict[str, tuple[str, str]] = {}
        # The setup steps every registered blueprint had before the run.
        self.deferred = {
            id(bp): (bp, list(bp.deferred_functions)) for bp in app.blueprints.values()
        }
        for key, bp in app.blueprints.items():
            # Made by the module whose name it was given (``Blueprint(..., __name__)``),
            # not merely imported there.
            where = next(
                (
                    (m, k)
                    for m, space in before.items()
                    if m == bp.import_name
                    for k, v in space.items()
                    if v is bp
                ),
                None,
            )
            if where is not None and "." in key:
                self.nested[key] = where
            elif where is not None:
                self.blueprints[key] = (*where, _registration_options(app, key, bp))
            elif "." not in key:
                self.foreign[key] = (bp, self.deferred[id(bp)][1])
        self.names = names
        self.before = before

    def take_out(self) -> None:
        """Out of the app before the run: what the new code registers again."""
        for key in self.blueprints:
            self._unregister(key)
        if self.owned or self.blueprints:
            _drop_endpoints(self.app, self.owned)
            _rebuild_matcher(self.app)

    def put_back(self) -> None:
        """After the new code ran: restore what did not run again, re-register blueprints."""
        app = self.app
        for module, name in self.bound:
            made = sys.modules[module].__dict__.get(name)
            if is_a(made, _flask().Flask) and made is not app:
                self._adopt(made)
                sys.modules[module].__dict__[name] = app
            elif made is app and module == app.import_name:
                self._check_own_setup()
        for endpoint, (rules, view, module, name, held) in self.owned.items():
            if endpoint in app.view_functions:
                continue
            if not ran_again(module, name, held):
                app.view_functions[endpoint] = view
                app.url_map._rules_by_endpoint[endpoint] = rules
        for key, (module, name, options) in self.blueprints.items():
            bp = sys.modules[module].__dict__.get(name)
            if key in app.blueprints or not is_a(bp, _flask().Blueprint):
                continue  # registered again by the new code, or gone
            if id(bp) in self.deferred:  # the same blueprint: its statement did not run again
                self._prune(bp, self.deferred[id(bp)][1])
            app.register_blueprint(bp, **options)
        for key, (bp, deferred) in self.foreign.items():
            self._register_again(key, bp, deferred)
        for key, (module, name) in self.nested.items():
            self._check_nested(key, sys.modules[module].__dict__.get(name))
        _rebuild_matcher(app)

    def _adopt(self, made: Flask) -> None:
        """The module made its app anew: the held app takes the new app's routes."""
        app = self.app
        for attr in ("config", *_KEYED):
            if self._comparable(getattr(made, attr)) != self._comparable(getattr(app, attr)):
                raise RuntimeError(
                    f"the reload made a new Flask app {made.name!r} whose {attr} differs from "
                    f"the app the program serves, which cannot take it: {_RESTART}"
                )
        for endpoint, view in made.view_functions.items():
            if endpoint == "static" or "." in endpoint:
                continue
            app.view_functions[endpoint] = view
            app.url_map._rules_by_endpoint[endpoint] = []
            for rule in made.url_map._rules_by_endpoint.get(endpoint, ()):
                copy = rule.empty()
                copy.bind(app.url_map)
                app.url_map._rules_by_endpoint[endpoint].append(copy)
        for key, bp in made.blueprints.items():
            if "." not in key and key not in app.blueprints:
                app.register_blueprint(bp, name=key)

    def _check_own_setup(self) -> None:
        """The module that makes the app ran statements that changed its config or hooks.

        Refused as when the whole module runs and makes a new app: what the
        app and its extensions read from them at start-up would not follow.
        """
        now = _own_setup(self.app)
        for attr, value in self.own.items():
            if not _same(value, now[attr]):
                raise RuntimeError(
                    f"the reload changed the {attr} of the Flask app {self.app.name!r} in the "
                    f"module that makes it; the app was set up with the old one: {_RESTART}"
                )

    @staticmethod
    def _comparable(value: object) -> object:
        """A table's shape: plain values as they are, functions by qualified name."""
        if is_a(value, dict):
            return {k: _HeldApp._comparable(v) for k, v in value.items() if v or v == 0}
        if is_a(value, list):
            return [_HeldApp._comparable(v) for v in value]
        if value is None or is_a(value, (str, bytes, int, float, timedelta)):
            return value
        if callable(value):
            return getattr(value, "__qualname__", repr(value))
        # Other objects made anew compare by what they are, not by identity.
        return type(value).__qualname__

    def _unregister(self, key: str) -> None:
        app = self.app
        _drop_endpoints(app, [e for e in app.view_functions if _under(e, key)])
        _drop_endpoints(app, [e for e in app.url_map._rules_by_endpoint if _under(e, key)])
        for table in ("blueprints", *_KEYED):
            mapping = getattr(app, table)
            for k in [k for k in mapping if _under(k, key)]:
                del mapping[k]

    def _register_again(self, key: str, bp: Blueprint, deferred: list) -> None:
        """A blueprint of a module not reloaded, that a reloaded module adds routes to.

        The new code recorded its routes on the blueprint again; the ones the
        old code recorded for defs that ran again (or are gone) are dropped,
        and the blueprint is registered anew with the result.
        """
        if len(bp.deferred_functions) == len(deferred) and not any(map(self._stale, deferred)):
            return
        options = _registration_options(self.app, key, bp, deferred)
        self._prune(bp, deferred)
        self._unregister(key)
        self.app.register_blueprint(bp, **options)

    def _prune(self, bp: Blueprint, deferred: list) -> None:
        """Drop the setup steps the old code recorded for defs the new code ran again or removed."""
        added = bp.deferred_functions[len(deferred) :]
        bp.deferred_functions[:] = [d for d in deferred if not self._stale(d)] + added

    def _stale(self, deferred: object) -> bool:
        """Whether a recorded setup step registers a view of a def the reload ran again."""
        for cell in getattr(deferred, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if callable(value) and defined_in(value, self.names):
                return ran_again(*definition(value, self.before))
        return False

    def _check_nested(self, key: str, bp: object) -> None:
        """A nested blueprint reloads with its parent's module: alone, only if its routes stay."""
        old = self.app.blueprints.get(key)
        if bp is old and old is not None:
            # Its statement did not run again, but its routes' statements may have:
            # they recorded setup steps on it that its parent never replays.
            deferred = self.deferred[id(old)][1]
            if len(old.deferred_functions) == len(deferred) and not any(map(self._stale, deferred)):
                return
            self._prune(old, deferred)
            if _routes_of(old) == _routes_of(old, deferred):
                return
        elif bp is not None and _routes_of(bp) == _routes_of(old):
            return
        parent = key.rpartition(".")[0]
        raise RuntimeError(
            f"blueprint {key!r} is nested in blueprint {parent!r}, which registered it once: "
            "its routes changed, so reload the module that defines the parent with it"
        )

    def restore(self) -> None:
        app = self.app
        for bp, deferred in self.deferred.values():
            bp.deferred_functions[:] = deferred
        app.__dict__.clear()
        app.__dict__.update(self.saved_dict)
        for saved in self.saved:
            _restore(saved)
        app.url_map._matcher = self.matcher
        app.url_map._remap = True


_RESTART = (
    "restart the program (routes and views reload; move hooks into a blueprint to reload them)"
)


def _own_setup(app: Flask) -> dict[str, object]:
    """A copy of the app's config and of its own hooks (not its blueprints')."""
    own = {"config": _copy(dict(app.config))}
    for attr in _KEYED:
        own[attr] = _copy(getattr(app, attr).get(None))
    return own


def _copy(value: object) -> object:
    if is_a(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if is_a(value, list):
        return [_copy(v) for v in value]
    return value


def _same(a: object, b: object) -> bool:
    """Equal copies: the same containers' contents, the same objects (or equal plain values)."""
    if is_a(a, dict) and is_a(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if is_a(a, list) and is_a(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if a is b:
        return True
    plain = (str, bytes, int, float, bool, type(None), timedelta)
    return type(a) is type(b) and is_a(a, plain) and a == b


def _routes_of(bp: object, deferred: list | None = None, **options: object) -> list:
    """The rules ``bp`` registers on a scratch app: (endpoint, rule, methods), or None."""
    scratch = _flask().Flask(getattr(bp, "import_name", "scratch"))
    saved = list(bp.deferred_functions)  # type: ignore[attr-defined]
    if deferred is not None:
        bp.deferred_functions[:] = deferred  # type: ignore[attr-defined]
    try:
        scratch.register_blueprint(bp, **options)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a blueprint that cannot be replayed has no known shape
        return None  # type: ignore[return-value]
    finally:
        bp.deferred_functions[:] = saved  # type: ignore[attr-defined]
    return sorted(
        (r.endpoint, r.rule, sorted(r.methods or ()))
        for rules in scratch.url_map._rules_by_endpoint.values()
        for r in rules
    )


def _registration_options(
    app: Flask, key: str, bp: Blueprint, deferred: list | None = None
) -> dict[str, object]:
    """The ``register_blueprint`` options ``bp`` was registered with under ``key``.

    Flask keeps none of them; they are read back from the rules: ``bp``'s
    routes (``deferred``, when given, are the setup steps it had then)
    registered once more on a scratch app, without a prefix, and compared
    with the app's.  A prefix equal to the blueprint's own is left to the
    blueprint, so an edit of ``Blueprint(url_prefix=…)`` applies.
    """
    options: dict[str, object] = {}
    if key != bp.name:
        options["name"] = key
    bare = _routes_of(bp, deferred, url_prefix="", name=key)
    if bare is None:
        return options
    # The prefix that makes every bare rule one of the app's rules for its endpoint.
    prefixes: set[str] | None = None
    for endpoint, rule, _ in bare:
        if endpoint.count(".") != key.count(".") + 1:
            continue  # a nested blueprint's: its own prefix is in it too
        real = [r.rule for r in app.url_map._rules_by_endpoint.get(endpoint, ())]
        fits = {r[: len(r) - len(rule)] for r in real if r.endswith(rule)}
        prefixes = fits if prefixes is None else prefixes & fits
    if prefixes is not None and len(prefixes) == 1:
        prefix = prefixes.pop()
        if prefix != (bp.url_prefix or "").rstrip("/"):
            options["url_prefix"] = prefix
    return options


_apps = Apps()


class FlaskAdapter(Adapter):
    """Keeps every live Flask app's routes and blueprints those of the running code."""

    def __init__(self) -> None:
        self.held: list[_HeldApp] = []
        self.lifted: list[object] = []

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        names = {m.__name__ for m in modules}
        before = {m.__name__: dict(m.__dict__) for m in modules}
        for app in _apps.find(_flask().Flask, modules):
            held = _HeldApp(app, names, before)
            self.held.append(held)
            held.take_out()
        # Blueprints of the reloaded modules, and those registered on an app, which
        # a reloaded module may add routes to.
        blueprints = [v for space in before.values() for v in space.values()]
        blueprints += [bp for held in self.held for bp in held.app.blueprints.values()]
        for obj in [h.app for h in self.held] + [
            b for b in blueprints if is_a(b, _flask().Blueprint)
        ]:
            if "_check_setup_finished" not in obj.__dict__:
                obj._check_setup_finished = _no_check  # type: ignore[method-assign]
                self.lifted.append(obj)

    def check(self, modules: Sequence[ModuleType]) -> None:
        for held in self.held:
            held.put_back()

    def committed(self, modules: Sequence[ModuleType]) -> Iterable[Note] | None:
        self._lower()
        return None

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        self._lower()
        for held in self.held:
            held.restore()

    def _lower(self) -> None:
        for obj in self.lifted:
            obj.__dict__.pop("_check_setup_finished", None)
        self.lifted = []
