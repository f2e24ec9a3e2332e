"""Run a library's own test suite around a reload of every one of its modules, in one process.

Started by tests/libraries/test_own_suites.py as
``python own_suite.py SPEC.json RESULT.json``.  SPEC holds ``sdist`` (a
``.tar.gz``), ``workdir`` (an empty folder), ``packages`` (the import names
the library ships), ``tests`` (its test paths, relative to the unpacked
sdist), ``args`` (more pytest arguments) and ``control`` (whether its suite
passes less when run a second time).  In this process:

1. the sdist is unpacked and its source folder put first on ``sys.path``, so
   its own copy is imported, not one installed in the environment;
2. its suite runs with ``pytest.main`` (the first run, which imports it all),
   and with ``control``, once more as it is: what a second run passes without
   a reload (some suites pass less the second time, e.g. parametrized by a
   generator that the first collection used up);
3. one harmless line is appended to every module of the library, and every
   loaded module of it is reloaded with one ``reimport()`` call;
4. the suite runs again.  pytest's default import mode finds its test
   modules already in ``sys.modules``, so they keep the objects they imported
   before the reload, as any long-running program's other modules would.

RESULT gets what each run passed, what the control (else the first run)
passed that the run after the reload did not (with why), the reload's outcome
and notes, and the builtins the reload changed (none may change).
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import tarfile
import time
from pathlib import Path

EDIT = "_edited_for_a_reload = True\n"


class Outcomes:
    """A pytest plugin noting which tests passed, and why the others failed."""

    def __init__(self) -> None:
        self.passed: set[str] = set()
        self.failed: dict[str, str] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self.failed[report.nodeid] = str(report.longrepr)[-2000:]
            self.passed.discard(report.nodeid)
        elif report.when == "call" and report.passed:
            self.passed.add(report.nodeid)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.failed[report.nodeid] = str(report.longrepr)[-2000:]


def run_suite(spec: dict) -> Outcomes:
    import pytest

    outcomes = Outcomes()
    pytest.main(
        [*spec["tests"], "-q", "--no-header", "-p", "no:cacheprovider", *spec["args"]],
        plugins=[outcomes],
    )
    return outcomes


def library_modules(packages: list[str]) -> list[str]:
    """The library's modules loaded from their files, its test modules (which the suite imported) left out.

    Left out too: modules a loader made otherwise (``tlz.functoolz``, which
    ``tlz``'s loader fills with ``toolz.functoolz``'s names), which only name a file.
    """
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in packages
        and "tests" not in name.split(".")
        and getattr(module, "__file__", None)
        and getattr(module.__spec__, "origin", None) == module.__file__
    )


def edit_every_module(source: Path, packages: list[str]) -> int:
    edited = 0
    for package in packages:
        for path in sorted((source / package).rglob("*.py")):
            if "tests" in path.relative_to(source).parts:
                continue
            text = path.read_text(encoding="utf-8")
            path.write_text(
                text + ("\n" if text and not text.endswith("\n") else "") + EDIT, encoding="utf-8"
            )
            edited += 1
    return edited


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    work = Path(spec["workdir"])
    with tarfile.open(spec["sdist"]) as tar:
        tar.extractall(work, filter="data")
    (root,) = work.iterdir()
    source = root / "src" if (root / "src").is_dir() else root
    sys.path.insert(0, str(source))
    os.chdir(root)
    # Imported first, as a program that embeds it does.
    from reload_server import ReloadError, reimport

    started = time.perf_counter()
    first = run_suite(spec)
    first_took = time.perf_counter() - started
    names = library_modules(spec["packages"])
    foreign = [n for n in names if not sys.modules[n].__file__.startswith(str(source))]
    control = run_suite(spec) if spec["control"] else first

    edited = edit_every_module(source, spec["packages"])
    before = dict(vars(builtins))
    issubclass_before = builtins.issubclass
    error = None
    reloaded: list[str] = []
    notes: list[str] = []
    started = time.perf_counter()
    try:
        result = reimport(*names)
        reloaded = list(result.modules)
        notes = [str(n) for n in result.notes]
    except ReloadError as e:
        error = str(e)
    reload_took = time.perf_counter() - started
    changed = sorted(
        k for k, v in vars(builtins).items() if k != "_" and k in before and before[k] is not v
    )

    after = run_suite(spec)
    lost = sorted(control.passed - after.passed)
    out = {
        "modules": names,
        "foreign": foreign,
        "edited": edited,
        "reloaded": reloaded,
        "error": error,
        "notes": notes,
        "first": len(first.passed),
        "control": len(control.passed),
        "after": len(after.passed),
        "lost": lost,
        "why": {nodeid: after.failed.get(nodeid, "not run") for nodeid in lost[:10]},
        "builtins_changed": changed,
        "issubclass_intact": builtins.issubclass is issubclass_before
        and type(builtins.issubclass).__name__ == "builtin_function_or_method",
        "seconds": {"first_run": first_took, "reload": reload_took},
    }
    Path(sys.argv[2]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
