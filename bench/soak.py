"""Soak: thousands of reload cycles of one real module through the server, memory bounded.

    python -m bench.soak [--cycles 1000] [--every 100] [--json]

Starts a real app process with the server embedded (the test suite's app
harness), holding live instances of the reloaded module's classes, instances of
a subclass defined in another module, callbacks in lists, a ``from m import f``
copy and registry state.  Each cycle edits the module on disk (new code every
time) and asks for ``reloadPath`` over one LSP connection, as an editor would.
Every ``--every`` cycles it measures, in the app after ``gc.collect()``: RSS,
the number of objects the collector tracks, module objects, function objects
whose code comes from the reloaded file, and classes defined by it.  At the end
it checks that everything runs the last version's code.

The test suite runs a short version (tests/reliability/test_soak.py); the
figures of a long run go into docs/reliability.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _support() -> Any:
    """The test support the soak drives its app with: the app harness, the raw client, writes."""
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    from support.apps import AppFactory
    from support.raw import Raw
    from support.sources import write_source

    return types.SimpleNamespace(AppFactory=AppFactory, Raw=Raw, write_source=write_source)


SOAKED = """\
import functools

try:
    REGISTRY
except NameError:
    REGISTRY = []

GENERATION = {gen}
FACTOR = {factor}
HANDLERS = {{"scale": lambda x: scale(x)}}


def scale(x):
    return x * FACTOR


@functools.lru_cache(maxsize=32)
def cached(x):
    return scale(x) + {gen} - GENERATION


def make_adder(n):
    def add(x):
        return scale(x) + n

    return add


class Base:
    kind = "base{gen}"

    def __init__(self, v):
        self.v = v

    def value(self):
        return scale(self.v)

    @property
    def label(self):
        return f"gen{{GENERATION}}"

    @classmethod
    def build(cls, v):
        return cls(v)

    @staticmethod
    def twice(x):
        return 2 * scale(x)


def on_event(x):
    return ("event", scale(x))
"""

USER = """\
import soaked
from soaked import scale as imported_scale


class Child(soaked.Base):
    def value(self):
        return super().value() + 1


INSTANCES = [soaked.Base(2), Child(3), soaked.Base.build(4)]
CALLBACKS = [soaked.on_event, soaked.scale, soaked.make_adder(10)]
soaked.REGISTRY.append(soaked.on_event)
"""

MEASURE = """(lambda gc, types: (gc.collect(), {
    "rss_kb": int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]),
    "gc_objects": len(gc.get_objects()),
    "modules": sum(1 for o in gc.get_objects() if isinstance(o, types.ModuleType)),
    "soaked_functions": sum(1 for o in gc.get_objects() if isinstance(o, types.FunctionType)
                            and o.__code__.co_filename == FILE),
    "soaked_classes": sum(1 for o in gc.get_objects() if isinstance(o, type)
                          and o.__module__ == 'soaked'),
    "sys_modules": len(sys.modules),
})[1])(__import__('gc'), __import__('types'))"""


def factor(gen: int) -> int:
    return gen % 7 + 1


def soak(cycles: int = 1000, every: int = 100, base: Path | None = None) -> dict[str, Any]:
    """Run the soak; the measurements and the final checks as a dict."""
    support = _support()
    base = Path(tempfile.mkdtemp(prefix="soak-")) if base is None else base
    factory = support.AppFactory(base)
    try:
        app = factory(
            {"soaked.py": SOAKED.format(gen=0, factor=factor(0)), "soak_user.py": USER},
            ["soaked", "soak_user"],
        )
        path = app.src / "soaked.py"
        app.exec(f"FILE = {str(path)!r}\nimport soak_user")
        samples: list[dict[str, Any]] = []
        statuses: dict[str, int] = {}
        started = time.monotonic()
        with support.Raw(app.address, timeout=60) as conn:
            conn.initialize({"clientName": "soak"})
            samples.append({"cycle": 0, **app.eval(MEASURE)})
            for gen in range(1, cycles + 1):
                support.write_source(path, SOAKED.format(gen=gen, factor=factor(gen)))
                reply = conn.call("reloadPath", {"path": str(path)})
                status = reply.get("result", {}).get("status", f"error {reply.get('error')}")
                statuses[status] = statuses.get(status, 0) + 1
                if gen % 10 == 0:
                    # The app keeps making and dropping instances, as a live program would.
                    app.exec(f"soak_user.INSTANCES[2] = soaked.Base.build({gen})")
                if gen % every == 0 or gen == cycles:
                    samples.append({"cycle": gen, **app.eval(MEASURE)})
        elapsed = time.monotonic() - started
        k = factor(cycles)
        checks = {
            "generation": app.eval("soaked.GENERATION") == cycles,
            "old_instance": app.eval("soak_user.INSTANCES[0].value()") == 2 * k,
            "subclass_instance": app.eval("soak_user.INSTANCES[1].value()") == 3 * k + 1,
            "label": app.eval("soak_user.INSTANCES[0].label") == f"gen{cycles}",
            "class_attribute": app.eval("soak_user.Child.kind") == f"base{cycles}",
            "callback": app.eval("soak_user.CALLBACKS[0](5)") == ["event", 5 * k],
            "registry_callback": app.eval("soaked.REGISTRY[0](1)") == ["event", k],
            "closure": app.eval("soak_user.CALLBACKS[2](1)") == k + 10,
            "from_import_copy": app.eval("soak_user.imported_scale(3)") == 3 * k,
            "lru_cache": app.eval("soaked.cached(2)") == 2 * k,
            "staticmethod": app.eval("soak_user.Child.twice(1)") == 2 * k,
            "registry_size": app.eval("len(soaked.REGISTRY)") == 1,
        }
        return {
            "cycles": cycles,
            "statuses": statuses,
            "seconds": round(elapsed, 1),
            "samples": samples,
            "checks": checks,
        }
    finally:
        factory.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")
    args = parser.parse_args(argv)
    result = soak(args.cycles, args.every)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['cycles']} reload cycles in {result['seconds']} s: {result['statuses']}")
        print("| cycle | RSS (KiB) | gc objects | modules | soaked functions | soaked classes |")
        print("|---:|---:|---:|---:|---:|---:|")
        for s in result["samples"]:
            print(
                f"| {s['cycle']} | {s['rss_kb']} | {s['gc_objects']} | {s['modules']} | "
                f"{s['soaked_functions']} | {s['soaked_classes']} |"
            )
        failed = [k for k, ok in result["checks"].items() if not ok]
        print("behaviour at the end: " + ("all checks pass" if not failed else f"FAILED {failed}"))
    ok = all(result["checks"].values()) and set(result["statuses"]) == {"reloaded"}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
