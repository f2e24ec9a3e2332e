"""Turning what the caller names (names, module objects, paths) into reloadable modules."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from types import ModuleType

from .results import Note, ReloadError
from .uris import uri_to_path

# Per file string, its resolved real path: resolving costs a syscall per path
# component, and module files do not move while loaded.
_realpaths: dict[str, str] = {}

_SELF = __name__.partition(".")[0]


def source_file(module: object) -> str | None:
    """The ``.py`` source file a loaded module runs (its ``__file__``), or None.

    The one answer to "which file is this module": staleness stats it, a path
    finds the module by it, and a reload compiles it.  None too for a module
    that a loader made otherwise and that only names a file (``tlz.functoolz``,
    a copy of ``toolz.functoolz``'s namespace, gives that module's file): its
    spec has a loader but no location.
    """
    file = getattr(module, "__file__", None)
    if not (isinstance(file, str) and file.endswith(".py")):
        return None
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.loader is not None and not spec.has_location:
        return None
    return file


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _real(path: str) -> str:
    real = _realpaths.get(path)
    if real is None:
        real = _realpaths[path] = os.path.normcase(os.path.realpath(path))
    return real


def _as_path(target: str | os.PathLike[str]) -> str:
    text = os.fspath(target)
    return uri_to_path(text) if text.startswith("file://") else text


def modules_shape() -> tuple[int, object, int]:
    """A cheap fingerprint of ``sys.modules``: its length, its newest key and module.

    An import appends to ``sys.modules`` (a re-import of a removed name too) and
    a removal shortens it, so every change but one changes this; caches keyed on
    it also check the identity of the modules they use, which catches the one
    left: a module replaced in place under its own name.
    """
    modules = sys.modules
    last = next(reversed(modules), None)
    return len(modules), last, id(modules.get(last))


class _FileIndex:
    """Loaded modules by source file, for the shape of ``sys.modules`` it was built at."""

    def __init__(self) -> None:
        self.shape = modules_shape()
        self.by_norm: dict[str, list[tuple[str, ModuleType]]] = {}
        self.modules = list(sys.modules.items())
        for name, module in self.modules:
            file = source_file(module)
            if file is not None:
                self.by_norm.setdefault(_norm(file), []).append((name, module))
        self._by_real: dict[str, list[tuple[str, ModuleType]]] | None = None

    def by_real(self) -> dict[str, list[tuple[str, ModuleType]]]:
        # Only for paths no module file matches as written (symlinked trees):
        # built on the first such look-up.
        if self._by_real is None:
            self._by_real = {}
            for norm, entries in self.by_norm.items():
                self._by_real.setdefault(_real(norm), []).extend(entries)
        return self._by_real


_index: _FileIndex | None = None


def index_modules() -> None:
    """Index the loaded modules by file now, so the next look-up by file is instant."""
    global _index
    if _index is None or _index.shape != modules_shape():
        _index = _FileIndex()


def _live(entries: list[tuple[str, ModuleType]]) -> list[str] | None:
    """The names, or None if one of them no longer maps to the module indexed."""
    current = sys.modules.get
    for name, module in entries:
        if current(name) is not module:
            return None
    return [name for name, _ in entries]


def modules_for_file(path: str | os.PathLike[str]) -> list[str]:
    """Names of the loaded modules whose source file is ``path``.

    ``path`` may be relative (to the working directory), a ``file://`` URI, or
    reach the file through symlinks.  Returns ``[]`` when no loaded module has
    that source, which includes files never imported.  Costs a dictionary
    look-up while no module was imported or removed since the last call.
    """
    global _index
    wanted = _norm(_as_path(path))
    for _ in range(2):
        index_modules()
        index = _index
        assert index is not None
        entries = index.by_norm.get(wanted) or index.by_real().get(_real(wanted))
        # A miss is checked against every module: one replaced in place could
        # be the one wanted.
        found = _live(entries if entries is not None else index.modules)
        if found is not None:
            return found if entries is not None else []
        _index = None  # a module was replaced under its name: index again
    return []


def never_reloaded(name: str) -> str | None:
    """Why module ``name`` can never be reloaded in place, whatever it holds; else None.

    The program's main script runs as ``__main__`` and has no module to update
    in place; reload_server must not swap its own code in the middle of a reload.
    """
    if name == "__main__" or name == "__mp_main__":
        return f"{name} is the program's main script and cannot be reloaded in place"
    if name == _SELF or name.startswith(_SELF) and name[len(_SELF)] == ".":
        return f"{name} is part of reload_server, which does not reload itself"
    return None


def refusal(name: str, module: ModuleType | None) -> str | None:
    """Why module ``name`` cannot be reloaded, or None if it can."""
    if module is None:
        return f"{name} is not loaded"
    never = never_reloaded(name)
    if never is not None:
        return never
    if name in sys.builtin_module_names:
        return f"{name} is a built-in module"
    if source_file(module) is None:
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            return f"{name} has no Python source ({os.path.basename(file)} is an extension or bytecode)"
        return f"{name} has no source file (namespace package, frozen or generated module)"
    return None


def _owner(name: str) -> str:
    """The outermost package that asks to be reimported whole, or ``name`` itself."""
    owner = name
    parts = name.split(".")
    for i in range(1, len(parts)):
        parent = sys.modules.get(".".join(parts[:i]))
        if parent is not None and getattr(parent, "__package_reimport__", False) is True:
            owner = parent.__name__
            break
    return owner


def _family(package: str) -> list[str]:
    prefix = package + "."
    return [
        n
        for n, m in list(sys.modules.items())
        if (n == package or n.startswith(prefix)) and m is not None and source_file(m)
    ]


def resolve(targets: Iterable[str | ModuleType | os.PathLike[str]]) -> list[str]:
    """Module names to reload for ``targets``, or :class:`ReloadError` (phase ``resolve``).

    A package declaring ``__package_reimport__ = True`` is reloaded whole when
    any of its submodules is named.  Nothing is changed by resolving.
    """
    names: list[str] = []
    notes: list[Note] = []
    for target in targets:
        if isinstance(target, ModuleType):
            candidates = [target.__name__]
        elif isinstance(target, str) and not looks_like_path(target):
            candidates = [target]
        elif isinstance(target, (str, os.PathLike)):
            path = _as_path(target)
            candidates = modules_for_file(path)
            if not candidates:
                notes.append(
                    Note(
                        f"{path} is not the source of any loaded module",
                        kind="resolve",
                        file=os.path.abspath(path),
                    )
                )
                continue
        else:
            notes.append(
                Note(f"cannot reload {target!r}: expected a name, module or path", kind="resolve")
            )
            continue
        for name in candidates:
            why = refusal(name, sys.modules.get(name))
            if why:
                notes.append(Note(why, kind="resolve", module=name))
                continue
            owner = _owner(name)
            expanded = _family(owner) if owner != name else [name]
            for n in expanded:
                if n not in names:
                    names.append(n)
    if notes:
        raise ReloadError(
            "; ".join(n.message for n in notes),
            phase="resolve",
            modules=tuple(names),
            notes=tuple(notes),
        )
    return names


def looks_like_path(text: str) -> bool:
    return text.endswith(".py") or os.sep in text or "/" in text or text.startswith("file://")
