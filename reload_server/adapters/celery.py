"""Celery: the task objects a program holds run the reloaded code, with its options.

``@app.task`` registers a task instance under a name, and hands back that
instance (or a lazy proxy of it); decorating again under a taken name hands
back the task registered first and drops the new function, so a re-run module
would keep running its old tasks.  So, for every Celery app of the program:

- before the new code runs, the app is given a registry without the tasks
  whose function a reloaded module defined, so the new code registers its
  tasks as it did at import, with its options (the registry the app had
  stays untouched meanwhile: a worker or ``send_task``, which look tasks up
  in ``app.tasks``, finds them; ``apply()`` on another thread, which reads
  the app's working registry, may not until the reload is done);
- after it ran, each old task made again (the same function, by module and
  qualified name, or the same task name) takes on the new one's class and
  attributes (:func:`~reload_server.adapters.become.become`) and is registered
  in its place, under the new name if the name changed: the object the
  program holds — the one ``@app.task`` returned, ``app.tasks[name]`` — is the
  registered task and runs the new code.  An old task whose statement did not
  run again (a reload that re-runs only what changed) stays as it was; one the
  new source no longer defines leaves the registry, and a new one joins it;
- the constructors Celery keeps for apps finalized later are those of the new
  code only;
- rollback puts every registry, task, proxy and constructor back as it was,
  the very same objects.

Missed: a task no top-level name of its module holds (made in a function) is
never unregistered, only replaced when the new code makes it again.
"""

from __future__ import annotations

import sys
from types import FunctionType

import celery
from celery import _state
from celery.local import PromiseProxy, Proxy

from ..core.adapters import Adapter
from ..core.values import MISSING, is_a
from .become import become
from .live import ran_again

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

    from celery import Celery, Task

# What a proxy keeps in its slots: taken from the new code's proxy by the held one.
_PROXY_SLOTS = ("_Proxy__local", "_Proxy__args", "_Proxy__kwargs")


def _celery() -> ModuleType:
    """The celery the program runs (a test may have imported it afresh since this module was)."""
    return sys.modules.get("celery") or celery


def _function(task: object) -> object:
    """The function ``task`` was made from: what its decorator was given."""
    fun = getattr(type(task), "_decorated_fun", None) or type(task).__dict__.get("run")
    return getattr(fun, "__func__", fun)


def _key(fun: object) -> tuple[str, str] | None:
    if not is_a(fun, FunctionType):
        return None
    return fun.__module__, fun.__qualname__


def _proxied_function(value: object) -> object:
    """The function a task proxy (lazy ``@app.task``, ``@shared_task``) was made from."""
    try:
        args = object.__getattribute__(value, "_Proxy__args")
        local = object.__getattribute__(value, "_Proxy__local")
    except AttributeError:
        return None
    if args and is_a(args[0], FunctionType):
        return args[0]  # lazy @app.task: app._task_from_fun(fun, **options)
    for cell in getattr(local, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:
            continue
        if is_a(inner, FunctionType) and inner is not local:
            return inner  # @shared_task: looks its task up by the function's name
    return None


def _evaluated(value: object) -> object:
    """The task a lazy proxy already stands for, or ``MISSING``."""
    try:
        return object.__getattribute__(value, "__thing")
    except AttributeError:
        return MISSING


def _task_key(value: object) -> tuple[str, str] | None:
    """Which task a module's value is: the key of its function, or None if it is no task."""
    if is_a(value, _celery().Task):
        return _key(_function(value))
    if is_a(value, (Proxy, PromiseProxy)):
        thing = _evaluated(value) if is_a(value, PromiseProxy) else MISSING
        if thing is not MISSING:
            return _key(_function(thing))
        return _key(_proxied_function(value))
    return None


class _HeldApp:
    """One app during one reload: its registry, and how to put everything back."""

    def __init__(self, app: Celery, names: set[str]) -> None:
        self.app = app
        self.registry = app._tasks
        self.saved = dict(self.registry)
        self.pending = list(app._pending)
        # Registered tasks a reloaded module made: name -> task.
        self.owned = {
            name: task
            for name, task in self.saved.items()
            if getattr(_function(task), "__module__", None) in names
        }
        # For rollback: each owned task's class and attributes.
        self.tasks = [(t, type(t), dict(t.__dict__)) for t in self.owned.values()]

    def take_out(self) -> None:
        if not self.owned:
            return  # what the new code adds goes into the registry itself
        overlay = type(self.registry)()
        overlay.update((n, t) for n, t in self.saved.items() if n not in self.owned)
        self.app._tasks = overlay

    def adopt(self, made: Celery, names: set[str]) -> None:
        """The module made its app anew: the held app takes the new app's tasks.

        The program's tasks, workers and clients use the held app, which
        keeps its connections and what was configured on it at run time; a
        setting the new code gives its app differently is refused.
        """
        app = self.app
        changed = [
            key
            for key, value in made._preconf.items()
            if value is not None and app.conf.get(key) != value
        ]
        if made.main != app.main or changed:
            what = ", ".join(changed) or f"its name ({made.main!r})"
            raise RuntimeError(
                f"the reload made a new Celery app {made.main!r} whose {what} differs from "
                "the app the program runs, which cannot take it: restart the program "
                "(tasks reload; settings do not)"
            )
        _evaluate_pending(made, [], names)
        for name, task in list(made._tasks.items()):
            if getattr(_function(task), "__module__", None) not in names:
                continue  # Celery's own tasks, which the held app has
            cls = type(task)
            cls.app = app
            cls.bind(app)
            app._tasks[name] = task
        _state._apps.discard(made)

    def put_back(self, before: dict[str, dict], names: set[str]) -> dict[int, Task]:
        """Register what the new code made; returns old task by id of the new one it became."""
        app = self.app
        made = app._tasks
        if not app.finalized:
            # Lazy tasks the new code declared are made now, while the old ones can follow.
            _evaluate_pending(app, self.pending, names)
        self._unswap(made)
        new = {n: t for n, t in made.items() if self.saved.get(n) is not t}
        by_key = {_key(_function(t)): t for t in new.values()}
        became: dict[int, Task] = {}
        final = {n: t for n, t in made.items() if n not in new}
        for name, old in self.owned.items():
            successor = by_key.get(_key(_function(old)))
            if successor is None and name in new and id(new[name]) not in became:
                successor = new[name]
            if successor is not None and id(successor) not in became:
                try:
                    become(old, successor)
                except TypeError as e:  # raised before anything changed
                    raise RuntimeError(
                        f"task {name!r}: the task the program holds cannot take the new "
                        f"code's task class ({e}): restart the program"
                    ) from None
                became[id(successor)] = old
                final[successor.name] = old
            elif not _removed(old, before):
                final.setdefault(name, old)
        for name, task in new.items():
            if id(task) not in became:
                final.setdefault(name, task)
        _replace(self.registry, final)
        return became

    def _unswap(self, overlay: dict) -> None:
        """The app's registry is its own again, also where finalizing it during the run cached one."""
        self.app._tasks = self.registry
        if self.app.__dict__.get("tasks") is overlay:
            self.app.__dict__["tasks"] = self.registry

    def restore(self) -> None:
        for task, cls, attrs in self.tasks:
            shared = task.__dict__
            shared.clear()
            shared.update(attrs)
            if type(task) is not cls:
                task.__class__ = cls
        self._unswap(self.app._tasks)
        _replace(self.registry, self.saved)
        self.app._pending.clear()
        self.app._pending.extend(self.pending)


def _replace(registry: dict, tasks: dict) -> None:
    """Make ``registry`` hold ``tasks``, never empty meanwhile: other threads look tasks up in it."""
    for name in [n for n in registry if n not in tasks]:
        del registry[name]
    registry.update(tasks)


def _evaluate_pending(app: Celery, before: list, names: set[str]) -> None:
    """Make the lazy tasks of the modules ``names`` that ``app`` got since ``before``."""
    for proxy in list(app._pending)[len(before) :]:
        if getattr(_proxied_function(proxy), "__module__", None) in names:
            proxy._get_current_object()


def _removed(task: Task, before: dict[str, dict]) -> bool:
    """Whether the new source no longer defines ``task``: the def that made it ran again or went.

    A task no top-level name of its module held is never taken for removed.
    """
    key = _key(_function(task))
    if key is None or key[0] not in before:
        return False
    holders = [n for n, v in before[key[0]].items() if _task_key(v) == key]
    return bool(holders) and all(ran_again(key[0], n, before[key[0]][n]) for n in holders)


class CeleryAdapter(Adapter):
    """Keeps every Celery app's registered tasks, and the objects held for them, the new code's."""

    def __init__(self) -> None:
        self.held: list[_HeldApp] = []
        self.before: dict[str, dict] = {}
        self.names: set[str] = set()
        self.finalizers: set[object] = set()
        self.current: object = None
        # Where a reloaded module bound an app: (module, name, held app).
        self.bound: list[tuple[ModuleType, str, _HeldApp]] = []
        # (module, name, value it held before, value the new code bound, proxy slots before).
        self.rebound: list[tuple[ModuleType, str, object, object, dict]] = []

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        self.names = {m.__name__ for m in modules}
        self.before = {m.__name__: dict(m.__dict__) for m in modules}
        self.finalizers = set(_state._on_app_finalizers)
        self.current = _state._tls.current_app
        for app in list(_state._get_active_apps()):
            if not is_a(app, _celery().Celery):
                continue
            if not app.finalized and app.autofinalize:
                # Lazy tasks of the reloaded modules are made now, as their first use
                # would: the held proxies then stand for tasks that can follow the edit.
                for proxy in list(app._pending):
                    if getattr(_proxied_function(proxy), "__module__", None) in self.names:
                        proxy._get_current_object()
            held = _HeldApp(app, self.names)
            self.held.append(held)
            held.take_out()
            self.bound += [
                (m, n, held)
                for m in modules
                for n, v in self.before[m.__name__].items()
                if v is app
            ]

    def check(self, modules: Sequence[ModuleType]) -> None:
        for module, name, held in self.bound:
            made = module.__dict__.get(name)
            if made is not held.app and is_a(made, _celery().Celery):
                held.adopt(made, self.names)
                module.__dict__[name] = held.app
        if _state._tls.current_app is not self.current:
            _state._tls.current_app = self.current  # a new app made itself the current one
        became: dict[int, Task] = {}
        for held in self.held:
            became.update(held.put_back(self.before, self.names))
        self._rebind(modules, became)
        self._drop_old_constructors()

    def committed(self, modules: Sequence[ModuleType]) -> None:
        # The merge may have handed the constructors the old function object (now
        # running the new code) where the task has the new one: Celery, seeing two
        # functions under one name when an app is finalized, would warn.
        functions = {
            _key(_function(t)): _function(t)
            for held in self.held
            for t in held.registry.values()
            if getattr(_function(t), "__module__", None) in self.names
        }
        for constructor in _state._on_app_finalizers - self.finalizers:
            for cell in getattr(constructor, "__closure__", None) or ():
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                fun = functions.get(_key(value))
                if fun is not None and fun is not value:
                    cell.cell_contents = fun

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        for held in reversed(self.held):
            held.restore()
        for _, _, old, _, slots in self.rebound:
            for slot, value in slots.items():
                object.__setattr__(old, slot, value)
        _state._on_app_finalizers.clear()
        _state._on_app_finalizers.update(self.finalizers)
        _state._tls.current_app = self.current

    def _rebind(self, modules: Sequence[ModuleType], became: dict[int, Task]) -> None:
        """The module's names hold what they held before, where that now runs the new code.

        A task the new code made gives way to the old one that became it; a
        proxy to the old proxy of the same task, which takes the new proxy's
        way of finding its task (its name may have changed).
        """
        for module in modules:
            ns = module.__dict__
            for name, old in self.before[module.__name__].items():
                new = ns.get(name, MISSING)
                if new is old or new is MISSING:
                    continue
                if is_a(new, _celery().Task) and id(new) in became:
                    task = became[id(new)]
                    if old is task or is_a(old, PromiseProxy) and _evaluated(old) is task:
                        ns[name] = old
                elif (
                    type(new) is type(old)
                    and is_a(old, (Proxy, PromiseProxy))
                    and _task_key(old) is not None
                    and _task_key(new) == _task_key(old)
                ):
                    slots = {}
                    if type(old) is Proxy:
                        for slot in _PROXY_SLOTS:
                            slots[slot] = object.__getattribute__(old, slot)
                            object.__setattr__(old, slot, object.__getattribute__(new, slot))
                    self.rebound.append((module, name, old, new, slots))
                    ns[name] = old

    def _drop_old_constructors(self) -> None:
        """Forget the old code's task constructors that the new code's replace or removed.

        Celery keeps one per decorated function, run when an app is finalized;
        left there, an app made later would register the old function or the
        new one, whichever its set yields first.
        """
        added = set(_state._on_app_finalizers) - self.finalizers
        renewed = {_key(_constructed(c)) for c in added} - {None}
        for constructor in self.finalizers:
            fun = _constructed(constructor)
            key = _key(fun)
            if key is None or key[0] not in self.names:
                continue
            if (
                key in renewed
                or self.before[key[0]].get(key[1], MISSING) is not MISSING
                and (ran_again(key[0], key[1], self.before[key[0]][key[1]]))
            ):
                _state._on_app_finalizers.discard(constructor)


def _constructed(constructor: object) -> object:
    """The function a task constructor Celery keeps for apps finalized later registers."""
    for cell in getattr(constructor, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if is_a(value, FunctionType):
            return value
    return None
