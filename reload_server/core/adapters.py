"""Framework adapters: keeping a framework's registries consistent across a reload.

Re-running a module re-runs its decorators and registrations against live
framework objects (a Flask app's URL map, Django's app registry, SQLAlchemy's
mappers).  An *adapter* is told of each step of a reload of the modules it
cares about and keeps such registries right:

- :meth:`Adapter.before_run` — the new code is about to run: take the old
  code's registrations out of the way (and keep them, for a rollback);
- :meth:`Adapter.check` — the new code ran and its ``__reload_check__``
  passed: raise to refuse an edit the framework cannot take (the reload is
  then rolled back and the message reported at phase ``"check"``);
- :meth:`Adapter.committed` — the new code is the running code: rebuild
  caches; return notes to report;
- :meth:`Adapter.rolled_back` — the reload was undone and the old namespaces
  restored: put back what ``before_run`` took away.

A module that runs only what changed leaves the objects its unchanged
statements made in place, and the statements that run act on them: an
adapter keeps, in ``before_run``, what they may change, for a rollback; and
:func:`retired_code` tells it which of the old statements the new code no
longer has (their registrations on live objects are not the new code's).

One adapter object serves one reload: :func:`start` makes them afresh, from
the factories registered with :func:`register` whose framework the program has
imported, so an adapter for a framework the program never imported costs
nothing and imports nothing.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from types import CodeType, ModuleType

    from .results import Note


class Adapter:
    """Base class of adapters: every hook does nothing; override the ones you need.

    ``modules`` are the module objects the reload runs, in the order their new
    code runs.  Hooks run on the reload's thread, holding the reload lock.
    """

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        """Called after ``__unimport__`` hooks, before any new code runs."""

    def check(self, modules: Sequence[ModuleType]) -> None:
        """Called after the new code ran and passed ``__reload_check__``; raise to refuse it."""

    def committed(self, modules: Sequence[ModuleType]) -> Iterable[Note] | None:
        """Called after the commit: the new code runs now.  May return notes to report."""
        return None

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        """Called after a rollback restored the old namespaces (whatever phase failed)."""


def retired_code(module: ModuleType) -> list[CodeType] | None:
    """What the reload in progress no longer runs of ``module``: for its adapters' hooks.

    The function bodies (code objects) of the top-level statements of the code
    ``module`` ran until now that its new code does not have (removed, or
    changed and run anew): a registration one of them made on a live object
    that the new code does not make again is not the new code's.  ``[]`` when
    every old statement is still there; None when the module's whole new code
    runs (every object it makes is made anew) or outside a reload's run.
    """
    return _retired.get(module.__name__)


def note_retired(module: ModuleType, bodies: list[CodeType] | None) -> None:
    """Record what :func:`retired_code` says of ``module`` until the reload ends (the transaction)."""
    if bodies is None:
        _retired.pop(module.__name__, None)
    else:
        _retired[module.__name__] = bodies


def forget_retired() -> None:
    """The reload ended: nothing is retired any more."""
    _retired.clear()


# By module name, what the reload in progress no longer runs (reloads are serialised).
_retired: dict[str, list[CodeType]] = {}

_lock = threading.Lock()
# (framework module name or None, factory), in registration order.
_factories: list[tuple[str | None, Callable[[], Adapter]]] = []
# Built-in adapters by framework: "package.module:Class", imported on first use.
_builtin: dict[str, str] = {}


def register(factory: Callable[[], Adapter], framework: str | None = None) -> None:
    """Use an adapter made by ``factory()`` in every reload from now on.

    With ``framework`` (a top-level module name such as ``"flask"``), only in
    reloads while that module is imported.  Registering the same factory again
    does nothing.
    """
    with _lock:
        if (framework, factory) not in _factories:
            _factories.append((framework, factory))


def unregister(factory: Callable[[], Adapter]) -> None:
    """Stop using the adapter ``factory`` makes."""
    with _lock:
        _factories[:] = [(f, x) for f, x in _factories if x is not factory]


def builtin(table: dict[str, str]) -> None:
    """Declare built-in adapters: framework module name -> ``"module:Factory"``, imported lazily."""
    with _lock:
        _builtin.update(table)


def start() -> list[Adapter]:
    """Fresh adapters for one reload: those whose framework is imported (or that need none)."""
    loaded = sys.modules
    with _lock:
        wanted = [(fw, f) for fw, f in _factories if fw is None or fw in loaded]
        builtins = [(fw, spec) for fw, spec in _builtin.items() if fw in loaded]
    for framework, spec in builtins:
        wanted.append((None, _builtin_factory(framework, spec)))
    return [factory() for _, factory in wanted]


# Built-in adapter module name -> the framework's modules (name -> module) when it was imported.
_imported_with: dict[str, dict[str, object]] = {}


def _framework_modules(framework: str) -> dict[str, object]:
    prefix = framework + "."
    return {n: m for n, m in list(sys.modules.items()) if n == framework or n.startswith(prefix)}


def _builtin_factory(framework: str, spec: str) -> Callable[[], Adapter]:
    """The factory ``spec`` names, from an adapter module imported with today's framework.

    An adapter module binds the framework's objects when imported.  If the
    framework, or one of its modules, was removed from ``sys.modules`` and
    imported anew since (test suites do this, some keeping the package and
    dropping only the submodules imported after it), those objects are dead
    copies: the adapter is imported anew too.
    """
    module_name, _, attr = spec.partition(":")
    module = sys.modules.get(module_name)
    if module is not None:
        seen = _imported_with.get(module_name, {})
        if not seen or any(sys.modules.get(n) is not m for n, m in seen.items()):
            del sys.modules[module_name]
            module = None
    if module is None:
        import importlib

        module = importlib.import_module(module_name)
        _imported_with[module_name] = _framework_modules(framework)
    return getattr(module, attr)
