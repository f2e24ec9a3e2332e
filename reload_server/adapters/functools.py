"""functools.singledispatch: a reloaded dispatcher keeps what other modules registered.

Re-running ``@singledispatch def show(x)`` makes a new dispatcher whose
registry holds only what the module itself registers; the merge then gives
the old function (the one every importer holds) the new closure, and so the
new registry.  Implementations other modules added with ``@show.register``
would be lost, where a restart would have them again (those modules import
this one and register after it).  After the commit they are registered again
on top of the module's own, in the order they were registered; what the
module itself registers comes from its new code only.

This adapter is made in every reload (``functools`` is always imported): it
looks at the reloaded modules' namespaces once and does nothing else when
they define no dispatcher.
"""

from __future__ import annotations

from types import FunctionType

from ..core.adapters import Adapter, retired_code

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType


class SingledispatchAdapter(Adapter):
    """Keeps other modules' registrations on the dispatchers a reloaded module defines."""

    def __init__(self) -> None:
        # (module, name, registrations other modules made) per dispatcher defined there.
        self.foreign: list[tuple[ModuleType, str, list[tuple[type, Callable]]]] = []
        # (dispatcher, type, implementation) of each registration the check took out.
        self.dropped: list[tuple[FunctionType, type, Callable]] = []
        # The dispatchers the reloaded modules held before the run, with their registries.
        self.before: list[tuple[ModuleType, FunctionType, dict[type, Callable]]] = []

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        reloaded = {m.__name__ for m in modules}
        for module in modules:
            for name, value in module.__dict__.items():
                if not _is_dispatcher(value) or value.__module__ != module.__name__:
                    continue
                others = [
                    (cls, impl)
                    for cls, impl in value.registry.items()
                    if getattr(impl, "__module__", None) not in reloaded
                ]
                if others:
                    self.foreign.append((module, name, others))
                self.before.append((module, value, dict(value.registry)))

    def check(self, modules: Sequence[ModuleType]) -> None:
        # A dispatcher whose statement did not run again (the module runs only
        # what changed) keeps the registrations of statements the new code no
        # longer has: a restart would not make them.
        for module, dispatcher, registered in self.before:
            retired = retired_code(module)
            if not retired or module.__dict__.get(dispatcher.__name__) is not dispatcher:
                continue
            for cls, impl in registered.items():
                code = getattr(_unwrapped(impl), "__code__", None)
                if cls is object or dispatcher.registry.get(cls) is not impl or code is None:
                    continue
                if getattr(impl, "__module__", None) == module.__name__ and code in retired:
                    _unregister(dispatcher, cls)
                    self.dropped.append((dispatcher, cls, impl))

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        for dispatcher, cls, impl in reversed(self.dropped):
            dispatcher.register(cls, impl)

    def committed(self, modules: Sequence[ModuleType]) -> None:
        for module, name, others in self.foreign:
            dispatcher = module.__dict__.get(name)
            if not _is_dispatcher(dispatcher):
                continue  # no longer a dispatcher: nothing to register on
            for cls, impl in others:
                if dispatcher.registry.get(cls) is not impl:
                    dispatcher.register(cls, impl)


def _unwrapped(func: object) -> object:
    """The function under ``functools.wraps`` decorators (a few deep; a cycle stops it)."""
    for _ in range(16):
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            break
        func = inner
    return func


def _unregister(dispatcher: FunctionType, cls: type) -> None:
    """Take ``cls``'s implementation out of ``dispatcher``: only ``register`` can reach its dict."""
    dispatch = dispatcher.dispatch  # type: ignore[attr-defined]
    cells = dict(zip(dispatch.__code__.co_freevars, dispatch.__closure__ or ()))
    cells["registry"].cell_contents.pop(cls, None)
    dispatcher._clear_cache()  # type: ignore[attr-defined]


def _is_dispatcher(value: object) -> bool:
    """Whether ``value`` is a function ``functools.singledispatch`` made."""
    if type(value) is not FunctionType:
        return False
    attrs = value.__dict__
    return "registry" in attrs and "dispatch" in attrs and "register" in attrs
