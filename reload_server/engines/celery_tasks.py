"""Registered Celery tasks follow reloads of the modules that define them.

Celery's ``@app.task`` hands back the task already registered under a name and
drops the function it was given, so after a reload of a task module the task
would keep running the old body.  While a reload runs the module's new code,
:func:`follow_tasks` has the decorator note the new function and keep the
registered task; when the reload commits, the task takes the new function, as
if it had been defined with it.  A task the new code adds is registered at
once (not as a lazy proxy) and unregistered if the reload is rolled back.
"""

from __future__ import annotations

import sys
import threading

from ..core import events
from ..core.results import ReloadError, ReloadResult
from ..core.transaction import reload_lock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from celery import Celery

# Per thread running a reload (which publishes its outcome on that thread too):
# (task, new function, bind) for each task its new code decorated again, and
# (app, task) for each task its new code registered for the first time.
_redecorated: dict[int, list[tuple[Any, Callable, bool]]] = {}
_added: dict[int, list[tuple[Any, Any]]] = {}
_redecorated_lock = threading.Lock()
_unsubscribe: Callable[[], None] | None = None


def follow_tasks(app: Celery) -> None:
    """Make ``@app.task`` in a reloaded module give the registered task the new function."""
    global _unsubscribe
    if app.__dict__.get("_reload_server_follows"):
        return
    app._reload_server_follows = True
    make_task = app._task_from_fun
    decorator = app.task

    def task_from_fun(fun: Callable, name: str | None = None, **options: Any) -> Any:
        if not _reloading(fun):
            return make_task(fun, name=name, **options)
        existing = _registered_task(app, fun, name)
        if existing is not None:
            # A lazy task of the old code evaluated while the new code runs: the task stays.
            return existing
        # A task the new code adds: registered now, unregistered if the reload is undone.
        added = make_task(fun, name=name, **options)
        with _redecorated_lock:
            _added.setdefault(threading.get_ident(), []).append((app, added))
        return added

    def task(*args: Any, **options: Any) -> Any:
        if args:
            if len(args) == 1 and callable(args[0]) and not options:
                return decorate(args[0], {})
            return decorator(*args, **options)
        return lambda fun: decorate(fun, options)

    def decorate(fun: Callable, options: dict[str, Any]) -> Any:
        if not _reloading(fun):
            return decorator(**options)(fun)
        existing = _registered_task(app, fun, options.get("name"))
        if existing is None:
            # Not a lazy proxy, evaluated whenever something first touches it, nor
            # shared with apps made later: registered with this app now, which
            # the reload can undo.
            return decorator(**{**options, "lazy": False, "shared": False})(fun)
        if not options.get("pydantic"):
            with _redecorated_lock:
                _redecorated.setdefault(threading.get_ident(), []).append(
                    (existing, fun, bool(options.get("bind")))
                )
        # The task stays the registered one; the commit hands it the new function.
        keep = options.get("filter")
        return keep(existing) if keep else existing

    app._task_from_fun = task_from_fun
    app.task = task
    if _unsubscribe is None:
        _unsubscribe = events.subscribe(_apply_redecorated)


def _registered_task(app: Celery, fun: Callable, name: str | None) -> Any:
    return app._tasks.get(name or app.gen_task_name(fun.__name__, fun.__module__))


def _reloading(fun: Callable) -> bool:
    """Whether ``fun`` comes from a reload running on this thread (its module's code run again)."""
    module = sys.modules.get(getattr(fun, "__module__", None) or "")
    owned = getattr(reload_lock, "_is_owned", None)
    return (
        module is not None
        and getattr(fun, "__globals__", None) is module.__dict__
        and owned is not None
        and owned()
    )


def _apply_redecorated(outcome: ReloadResult | ReloadError) -> None:
    thread = threading.get_ident()
    with _redecorated_lock:
        taken = _redecorated.pop(thread, [])
        added = _added.pop(thread, [])
    if not isinstance(outcome, ReloadResult):
        # Rolled back: the registered tasks keep the code they had, and added ones go.
        for app, task in added:
            if app._tasks.get(task.name) is task:
                del app._tasks[task.name]
        return
    reloaded = set(outcome.modules)
    for task, fun, bind in taken:
        if fun.__module__ in reloaded:
            _give_function(task, fun, bind)


def _give_function(task: Any, fun: Callable, bind: bool) -> None:
    """Make ``task`` run ``fun``, as Celery's decorator would have made it."""
    cls = type(task)
    run = fun if bind else staticmethod(fun)
    cls.run = run
    cls.__wrapped__ = run
    cls._decorated_fun = staticmethod(fun)
    cls.__doc__ = fun.__doc__
    cls.__header__ = task.app.type_checker(fun, bound=bind)
