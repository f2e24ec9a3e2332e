"""The build stays honest: CI runs the README's commands, and the public API is documented."""

from __future__ import annotations

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
