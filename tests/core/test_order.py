"""Targets reload in the order a restart would run them, whatever order they are named in."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from reload_server import reimport

# ``a`` binds BASE, then imports ``b``, which reads it: the cycle a restart runs
# with ``b`` finishing first, but after ``a`` had bound BASE.
A = "BASE = {}\nimport b\n"
B = "from a import BASE\nDERIVED = BASE * 2\n"


def _after_a_restart(project, entry: str, expression: str) -> object:
    """What ``expression`` gives in a fresh interpreter that imports ``entry`` (no ``.pyc`` written)."""
    code = f"import json, {entry}\nprint(json.dumps({expression}))"
    out = subprocess.run(
        [sys.executable, "-B", "-c", code],
        cwd=project.root,
        env={**os.environ, "PYTHONPATH": str(project.root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_a_module_that_reads_a_value_from_its_cycle_partner_runs_after_it(project):
    project.write("b.py", B)
    project.module("a", A.format(1))
    b = project.module("b")
    project.edit("a", A.format(5))
    reimport("a", "b")
    assert b.DERIVED == 10


def test_a_cycle_runs_in_the_same_order_whichever_order_its_modules_are_named_in(project):
    project.write("b.py", B)
    project.module("a", A.format(1))
    first = reimport("a", "b").modules
    second = reimport("b", "a").modules
    assert first == second


def test_a_cycle_entered_from_the_reader_reloads_to_the_values_a_restart_gives(project):
    project.write("a.py", A.format(1))
    b = project.module("b", B)
    project.edit("a", A.format(5))
    reimport("a", "b")
    assert b.DERIVED == _after_a_restart(project, "b", "b.DERIVED")


def test_a_cycle_s_top_level_side_effects_run_in_the_order_a_restart_runs_them(project):
    log = project.module("log", "events = []\n")
    project.write("b.py", "import log\nimport a\nlog.events.append('b')\n")
    project.module("a", "import log\nimport b\nlog.events.append('a')\n")
    del log.events[:]
    # Unchanged modules run nothing unless asked to run whole: the order of whole runs is tested.
    reimport("b", "a", full=True)
    assert log.events == _after_a_restart(project, "a", "__import__('log').events")
