"""``python -m reload_server reload``: finds the server, reloads, prints like a compiler."""

from __future__ import annotations

import re
import subprocess
import textwrap

from support.apps import child_env
from support.paths import PYTHON
from support.sources import GREETING, GREETING_V2
from support.waits import TIMEOUT

SYNTAX_ERROR = 'def greet():\n    return "hello again"\n\nvalue = (1 +* 2)\n'


def cli(*args: str, cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "reload_server", "reload", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(**(env or {})),
        timeout=TIMEOUT,
    )


def test_reload_of_an_edited_file_exits_0_and_changes_the_app(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.write("greeting.py", GREETING_V2)

    result = cli("src/greeting.py", cwd=app.root)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reloaded greeting in ")
    assert app.eval("greeting.greet()") == "hello again"


def test_a_syntax_error_is_printed_compiler_style_and_exits_1(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.write("greeting.py", SYNTAX_ERROR)

    result = cli("src/greeting.py", cwd=app.root)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"src/greeting\.py:4:13: error: SyntaxError: .*", lines[0]), lines
    assert lines[-1].startswith("reload failed (compile): ")
    assert app.eval("greeting.greet()") == "hello"


def test_a_rolled_back_reload_prints_the_error_and_its_traceback(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.write("greeting.py", 'def f():\n    raise KeyError("k")\n\nf()\n')

    result = cli("src/greeting.py", cwd=app.root)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r"src/greeting\.py:2(:\d+)?: error: KeyError: .*old code is still running.*", lines[0]
    ), lines
    assert "src/greeting.py:4: note: in <module>" in lines
    assert "src/greeting.py:2: note: in f" in lines


def test_reload_stale_exits_0(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.write("greeting.py", GREETING_V2)

    result = cli("--stale", cwd=app.root)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reloaded greeting in ")
    assert app.eval("greeting.greet()") == "hello again"


def test_a_file_that_is_not_loaded_exits_0_and_says_so(make_app):
    app = make_app({"greeting.py": GREETING, "notes.py": "X = 1\n"}, ["greeting"])

    result = cli("src/notes.py", cwd=app.root)

    assert result.returncode == 0
    assert "not the source of any loaded module" in result.stdout


def test_no_server_found_exits_2(tmp_path):
    result = cli("whatever.py", cwd=tmp_path)

    assert result.returncode == 2
    assert "no running reload server found" in result.stderr


def test_the_token_is_taken_from_the_discovery_file(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"], serve={"token": "tok"})
    app.write("greeting.py", GREETING_V2)

    result = cli("src/greeting.py", cwd=app.root)

    assert result.returncode == 0, result.stderr


def test_port_and_token_can_be_given_explicitly(make_app, tmp_path):
    app = make_app(
        {"greeting.py": GREETING}, ["greeting"], serve={"token": "tok", "discovery": False}
    )
    app.write("greeting.py", GREETING_V2)
    port = str(app.address[1])

    refused = cli("--port", port, app.path("greeting.py"), cwd=tmp_path)
    accepted = cli("--port", port, "--token", "tok", app.path("greeting.py"), cwd=tmp_path)

    assert refused.returncode == 2
    assert "Unauthorized" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert app.eval("greeting.greet()") == "hello again"


def test_the_client_does_not_import_pygls(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    code = textwrap.dedent(
        f"""
        import runpy, sys
        sys.argv = ["reload_server", "reload", "--port", "{app.address[1]}", {app.path("greeting.py")!r}]
        try:
            runpy.run_module("reload_server", run_name="__main__")
        except SystemExit as e:
            assert e.code == 0, e.code
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("pygls", "lsprotocol")))
        """
    )

    result = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, env=child_env(), timeout=TIMEOUT
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
