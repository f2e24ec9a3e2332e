"""Real libraries' own test suites pass after every module of the library is edited and reloaded.

Each library (pinned in ``suites.txt``) runs in a fresh process
(``support/programs/own_suite.py``): its suite runs (and runs again as a
control, for a suite that passes less the second time), then one harmless line is appended to every module of the library, all its
loaded modules are reloaded with one ``reimport()`` call, and the suite runs
a third time in the same process.  Its test modules are not reloaded: they
still hold what they imported before, as the rest of a long-running program
would.  Whatever the run before passed must pass after the reload.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.ci import missing
from support.paths import PROGRAMS, PYTHON, REPO

HERE = Path(__file__).resolve().parent
SDISTS = HERE / ".sdists"


@dataclass(frozen=True)
class Library:
    name: str  # as pinned in suites.txt
    packages: tuple[str, ...]  # the import names it ships
    tests: tuple[str, ...]  # its suite, relative to the unpacked sdist
    least: int  # a first run that passes fewer tests did not really run the suite
    args: tuple[str, ...] = ()
    # Its suite passes less when run a second time in one process (without any
    # reload): what the reload must keep is what a second run passes.
    control: bool = False


# Pytest's own warnings about old ways these suites use it; the suites turn
# warnings into errors, and pytest is newer than they are.
_OLD_PYTEST_USE = (
    "-W",
    "ignore::pytest.PytestRemovedIn10Warning",
    "-W",
    "ignore::pytest.PytestUnknownMarkWarning",
)

LIBRARIES = (
    # `global _cache` in its terminal helpers, module-level instances (click.INT),
    # typing.overload stubs, imports under TYPE_CHECKING in import cycles.
    Library("click", ("click",), ("tests",), least=2000),
    # `_issubclass = issubclass` kept before defining its own; many small modules.
    Library("boltons", ("boltons",), ("tests",), least=400),
    # Lazily imported submodules through `global parser`; a tz cache per class.
    Library(
        "python-dateutil", ("dateutil",), ("tests",), least=1500, args=_OLD_PYTEST_USE, control=True
    ),
    # `del` of the helpers a module used at its top level; a second package (tlz)
    # made by an import hook.
    Library("toolz", ("toolz", "tlz"), ("toolz/tests",), least=150),
)


def pinned() -> dict[str, str]:
    pins = {}
    for line in (HERE / "suites.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name] = version
    return pins


def sdist_of(name: str, version: str) -> Path | None:
    # An sdist's file name spells the project's name as its maker chose.
    pattern = re.compile(
        rf"{re.sub(r'[-_.]+', '[-_.]+', name)}-{re.escape(version)}\.tar\.gz", re.I
    )
    return next((p for p in sorted(SDISTS.glob("*.tar.gz")) if pattern.fullmatch(p.name)), None)


def test_every_pinned_library_has_its_suite_run_here():
    assert sorted(pinned()) == sorted(lib.name for lib in LIBRARIES)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("library", LIBRARIES, ids=[lib.name for lib in LIBRARIES])
def test_a_reload_of_every_module_keeps_every_test_of_its_own_suite_passing(library, tmp_path):
    version = pinned()[library.name]
    sdist = sdist_of(library.name, version)
    if sdist is None:
        missing(
            f"no sdist of {library.name}=={version} in {SDISTS}: run bash scripts/setup-test.sh"
        )
    spec = tmp_path / "spec.json"
    out = tmp_path / "result.json"
    work = tmp_path / "work"
    work.mkdir()
    spec.write_text(
        json.dumps(
            {
                "sdist": str(sdist),
                "workdir": str(work),
                "packages": list(library.packages),
                "tests": list(library.tests),
                "args": list(library.args),
                "control": library.control,
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    # reload_server from this checkout; no plugins but the suite's own; and the
    # .pyc files a user's imports leave (this machine may be told not to write them).
    env.update(PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [PYTHON, str(PROGRAMS / "own_suite.py"), str(spec), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())

    assert not r["foreign"], f"imported from elsewhere than the sdist: {r['foreign']}"
    assert r["first"] >= library.least, f"the suite did not really run: {proc.stdout[-3000:]}"
    assert r["error"] is None, r["error"]
    assert sorted(r["reloaded"]) == r["modules"]
    assert r["builtins_changed"] == [] and r["issubclass_intact"]
    lost = "\n".join(f"{nodeid}\n{why}\n" for nodeid, why in r["why"].items())
    assert r["lost"] == [], f"{len(r['lost'])} test(s) lost by the reload:\n{lost}"
