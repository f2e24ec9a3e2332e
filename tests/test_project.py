"""The build stays honest: CI runs the README's commands, and the public API is documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import reload_server

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = next(c for c in _readme_commands() if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci


def test_readme_main_job_command_runs_the_example_with_the_server():
    main_job = _readme_commands()[0]
    assert "-m reload_server --listen" in main_job
    script = main_job.split()[-1]
    assert (ROOT / script).is_file()


def test_every_public_name_has_a_docstring():
    missing = [n for n in reload_server.__all__ if not getattr(reload_server, n).__doc__]
    assert missing == []


def test_importing_the_package_does_not_import_the_language_server():
    code = "import sys, reload_server; print(sorted(m for m in ('pygls', 'lsprotocol', 'watchfiles') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_required_part_of_the_suite_exists(pytestconfig):
    # The suite's conftest as pytest loaded it ("conftest" alone may name another one).
    suite = pytestconfig.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    assert suite is not None
    assert [p for p in suite.REQUIRED_PARTS if not (ROOT / "tests" / p).exists()] == []


def _ci_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_under_ci_arguments_cannot_narrow_the_run():
    for args in (["tests/wire"], ["-k", "framing"]):
        result = _ci_pytest(*args)
        assert result.returncode != 0, (args, result.stdout[-2000:])
        assert "a CI run must be the whole suite" in result.stdout + result.stderr, args


def test_the_code_is_ruff_clean():
    paths = ["reload_server", "tests", "bench", "examples"]
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run([*ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [*ruff, "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout
