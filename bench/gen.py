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

# Every version is dated this far apart, so mtime-based checks (IPython's, the
# .pyc validation of importlib) always see a change, whatever the clock does.
_EPOCH = 1_700_000_000


def fname(i: int) -> str:
    return f"f_{i:03d}"


def cname(i: int) -> str:
    return f"C_{i:02d}"


def module_source(version: int, n_functions: int = N_FUNCTIONS, n_classes: int = N_CLASSES) -> str:
    """The source of ``benchmod`` at ``version``: every body differs between versions."""
    v = version
    out = [
        f'"""Generated benchmark module, version {v}."""',
        "",
        f"VERSION = {v}",
        "",
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
        out += [
            f"def {fname(i)}(x, y=1):",
            f'    """{fname(i)}, version {v}."""',
            f"    a = x * y + {i + v}",
            f"    return ({v}, a - {v})",
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


def write_version(root: Path, version: int, name: str = MODULE, **sizes: int) -> Path:
    """Write ``name``.py at ``version`` under ``root``, dated after every earlier version."""
    path = root / f"{name}.py"
    path.write_text(module_source(version, **sizes))
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


if __name__ == "__main__":  # pragma: no cover - a quick look at the sizes
    text = module_source(1)
    print(f"{MODULE}: {len(text.splitlines())} lines")
