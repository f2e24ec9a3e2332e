"""Generated source code for the benchmarks.

``benchmod`` is the module that gets reloaded: about 2,250 lines, 200 functions
and 50 classes of 5 members each (``__init__``, a method, a property, a
classmethod and a method calling ``super()``), all deriving from one ``Base``.
Version ``v`` of it differs from every other version in every body: each
function and member returns ``v`` as the first item of its result, so a probe
can tell which version's code an old reference runs.

``benchsub`` subclasses every class of ``benchmod`` (its ``m`` calls
``super().m``), and ``benchuser`` holds ``from benchmod import ...`` copies of
every name and a dict of callbacks.  Neither is ever reloaded.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

N_FUNCTIONS = 200
N_CLASSES = 50
MODULE = "benchmod"
SUBMODULE = "benchsub"
USERMODULE = "benchuser"
# A copy of ``benchmod`` that only ``importlib.reload`` reloads, where both tools
# take turns in one process: reload_server's reimport, like an app's, then finds
# its own module as its last reload left it (an importlib.reload in between
# would make it run the whole module, not only what changed).
IL_MODULE = "benchmod_il"

# Every version is dated this far apart, so mtime-based checks (IPython's, the
# .pyc validation of importlib) always see a change, whatever the clock does.
_EPOCH = 1_700_000_000


def fname(i: int) -> str:
    return f"f_{i:03d}"


def cname(i: int) -> str:
    return f"C_{i:02d}"


def module_source(
    version: int,
    n_functions: int = N_FUNCTIONS,
    n_classes: int = N_CLASSES,
    constant: bool = True,
    only: int | None = None,
) -> str:
    """The source of ``benchmod`` at ``version``: every body differs between versions.

    ``constant=False`` leaves out ``VERSION = version``, the one module-level
    value that is not a function or class.  ``only=i``: the one-function edit,
    version 0 everywhere but in the body of function ``i``, which returns
    ``version`` (every version has the same lines, only that body differs).
    """
    v = version if only is None else 0
    out = [f'"""Generated benchmark module, version {v}."""', ""]
    out += [f"VERSION = {v}", ""] if constant else []
    out += [
        "",
        "class Base:",
        f'    """Base of every class, version {v}."""',
        "",
        "    def sup(self):",
        f"        return ({v}, 'base')",
        "",
        "",
    ]
    for i in range(n_functions):
        fv = version if i == only else v
        out += [
            f"def {fname(i)}(x, y=1):",
            f'    """{fname(i)}, version {fv}."""',
            f"    a = x * y + {i + fv}",
            f"    return ({fv}, a - {fv})",
            "",
            "",
        ]
    for i in range(n_classes):
        out += [
            f"class {cname(i)}(Base):",
            f'    """{cname(i)}, version {v}."""',
            "",
            "    def __init__(self, value):",
            f"        self.value, self.born = value, {v}",
            "",
            "    def m(self, x):",
            f"        return ({v}, self.value + x + {i})",
            "",
            "    @property",
            "    def p(self):",
            f"        return ({v}, self.value * {i + 1})",
            "",
            "    @classmethod",
            "    def make(cls, value):",
            f"        return ({v}, cls.__name__, value)",
            "",
            "    def sup(self):",
            f"        return ({v}, super().sup())",
            "",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


def sub_source(n_classes: int = N_CLASSES) -> str:
    """``benchsub``: a subclass of every class of ``benchmod``, in another module."""
    out = [f'"""Subclasses of {MODULE}\'s classes (never reloaded)."""', "", f"import {MODULE}", ""]
    for i in range(n_classes):
        out += [
            "",
            f"class Sub_{i:02d}({MODULE}.{cname(i)}):",
            "    def m(self, x):",
            "        return super().m(x)",
            "",
        ]
    return "\n".join(out)


def user_source(n_functions: int = N_FUNCTIONS, n_classes: int = N_CLASSES) -> str:
    """``benchuser``: ``from benchmod import ...`` copies and a callback table."""
    names = [fname(i) for i in range(n_functions)] + [cname(i) for i in range(n_classes)]
    out = [f'"""from-import copies of {MODULE} (never reloaded)."""', ""]
    out += [f"from {MODULE} import {n}  # noqa: F401" for n in names]
    out += ["", "CALLBACKS = {"]
    out += [f"    {fname(i)!r}: {fname(i)}," for i in range(n_functions)]
    out += ["}", ""]
    return "\n".join(out)


def _stamp(path: Path, version: int) -> None:
    t = _EPOCH + 10 * version
    os.utime(path, (t, t))


def write_version(
    root: Path, version: int, name: str = MODULE, only: int | None = None, **sizes: int
) -> Path:
    """Write ``name``.py at ``version`` under ``root``, dated after every earlier version.

    ``only``: the one-function edit (:func:`module_source`).
    """
    path = root / f"{name}.py"
    path.write_text(module_source(version, only=only, **sizes))
    _stamp(path, version)
    importlib.invalidate_caches()
    return path


def write_project(root: Path, **sizes: int) -> Path:
    """Write version 0 of ``benchmod`` and its two companion modules under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    n_classes = sizes.get("n_classes", N_CLASSES)
    n_functions = sizes.get("n_functions", N_FUNCTIONS)
    for name, text in (
        (SUBMODULE, sub_source(n_classes)),
        (USERMODULE, user_source(n_functions, n_classes)),
    ):
        p = root / f"{name}.py"
        p.write_text(text)
        _stamp(p, 0)
    return write_version(root, 0, **sizes)


def small_source(version: int) -> str:
    """A small module (a few definitions) for the latency benchmark."""
    return (
        f'"""Small module, version {version}."""\n\n'
        f"VERSION = {version}\n\n\n"
        f"def f(x):\n    return ({version}, x)\n\n\n"
        f"class K:\n    def m(self):\n        return ({version}, self)\n"
    )


def write_small(root: Path, version: int, name: str = "smallmod") -> Path:
    path = root / f"{name}.py"
    path.write_text(small_source(version))
    _stamp(path, version)
    importlib.invalidate_caches()
    return path


# -- many loaded modules ------------------------------------------------------------
#
# ``count`` small modules (``many_00000`` …) and four targets: the benchmark module
# with a module-level registry and config dict made anew on every run ("state"),
# and without them ("plain"), each in one copy reloaded by reload_server ("rs") and
# one by importlib ("il"), so that neither tool sees what the other left behind.
# Every tenth small module copies names from one of the targets.

MANY_PREFIX = "many_"


def many_target(state: bool, tool: str) -> str:
    """The name of the target module of this variant reloaded by ``tool``."""
    return f"manytarget_{'state' if state else 'plain'}_{'rs' if tool == 'reload_server' else 'il'}"


MANY_TARGETS = [
    many_target(state, tool) for state in (True, False) for tool in ("reload_server", "importlib")
]


def many_target_source(
    version: int, state: bool, n_functions: int = N_FUNCTIONS, n_classes: int = N_CLASSES
) -> str:
    """The benchmark module at ``version``, plus a registry class and, with ``state``,
    a ``registry`` instance and a ``CONFIG`` dict that every run of the module makes anew."""
    out = [
        module_source(version, n_functions, n_classes, constant=False).rstrip("\n"),
        "",
        "",
        "class Registry:",
        "    def __init__(self):",
        "        self.entries = {}",
        "",
        "    def register(self, name, value):",
        "        self.entries[name] = value",
        "        return value",
    ]
    if state:
        out += [
            "",
            "",
            "registry = Registry()",
            f'CONFIG = {{"version": {version}, "timeout": 5, "retries": 3, "hosts": ["a", "b"]}}',
        ]
    return "\n".join(out) + "\n"


def many_imports(
    i: int, n_functions: int = N_FUNCTIONS, n_classes: int = N_CLASSES
) -> tuple[str, list[tuple[str, str]]] | None:
    """What small module ``i`` copies: ``(target, [(name, local), ...])``, or None."""
    if i % 10:
        return None
    state = (i // 10) % 4 < 2
    target = many_target(state, "reload_server" if (i // 10) % 2 == 0 else "importlib")
    names = [
        (fname((i * 7) % n_functions), fname((i * 7) % n_functions)),
        (fname((i * 13 + 1) % n_functions), "handler"),
        (cname(i % n_classes), cname(i % n_classes)),
    ]
    if state and (i // 40) % 2 == 0:
        names += [("registry", "registry"), ("CONFIG", "settings")]
    return target, names


def many_source(i: int, n_functions: int = N_FUNCTIONS, n_classes: int = N_CLASSES) -> str:
    out = [f'"""Loaded module {i}."""', ""]
    copies = many_imports(i, n_functions, n_classes)
    if copies is not None:
        target, names = copies
        listed = ", ".join(n if n == local else f"{n} as {local}" for n, local in names)
        out += [f"from {target} import {listed}", ""]
    out += [f"X = {i}", "", "", "def get():", "    return X", ""]
    return "\n".join(out)


def many_name(i: int) -> str:
    return f"{MANY_PREFIX}{i:05d}"


def write_many_target(root: Path, version: int, **sizes: int) -> None:
    """Write ``version`` of the four targets, dated after every earlier version."""
    for state in (True, False):
        text = many_target_source(version, state, **sizes)
        for tool in ("reload_server", "importlib"):
            path = root / f"{many_target(state, tool)}.py"
            path.write_text(text)
            _stamp(path, version)
    importlib.invalidate_caches()


def write_many(root: Path, count: int, **sizes: int) -> None:
    """Write ``count`` small modules and version 0 of the four targets under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = root / f"{many_name(i)}.py"
        path.write_text(many_source(i, **sizes))
        _stamp(path, 0)
    write_many_target(root, 0, **sizes)


if __name__ == "__main__":  # pragma: no cover - a quick look at the sizes
    text = module_source(1)
    print(f"{MODULE}: {len(text.splitlines())} lines")
