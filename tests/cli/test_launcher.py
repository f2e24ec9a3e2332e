"""``python -m reload_server [--listen ...] app.py | -m pkg``: any program, server embedded."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support.apps import child_env
from support.paths import PYTHON, REPO
from support.sources import write_source
from support.waits import TIMEOUT

REPORT = """\
import json, os, sys, threading
from reload_server.server import control
print(json.dumps({
    "name": __name__,
    "argv": sys.argv,
    "path0": sys.path[0],
    "address": control.address(),
    "listen_env": os.environ.get("RELOAD_SERVER_LISTEN"),
    "server_thread": any(t.name == "reload_server" for t in threading.enumerate()),
}))
"""


def launch(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "reload_server", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(**(env or {})),
        timeout=TIMEOUT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runs_a_script_as_main_with_its_arguments_and_the_server_running(tmp_path):
    script = tmp_path / "tools" / "app.py"
    write_source(script, REPORT)
    port = free_port()

    result = launch("--listen", str(port), "tools/app.py", "--flag", "value", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == "__main__"
    assert report["argv"] == ["tools/app.py", "--flag", "value"]
    assert report["path0"] == str(script.parent)
    assert report["address"] == ["127.0.0.1", port]
    assert report["server_thread"] is True
    assert f"listening on 127.0.0.1:{port}" in result.stderr


def test_runs_a_package_with_dash_m(tmp_path):
    write_source(tmp_path / "pkg" / "__init__.py", "")
    write_source(tmp_path / "pkg" / "__main__.py", REPORT)

    result = launch("--listen", "127.0.0.1:0", "-m", "pkg", "a", "b", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == "__main__"
    assert report["argv"] == [str(tmp_path / "pkg" / "__main__.py"), "a", "b"]
    assert report["address"][0] == "127.0.0.1"
    assert report["server_thread"] is True


def test_the_listen_variable_does_the_same_without_the_switch(tmp_path):
    write_source(tmp_path / "app.py", REPORT)
    port = free_port()

    result = launch("app.py", cwd=tmp_path, env={"RELOAD_SERVER_LISTEN": str(port)})

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["address"] == ["127.0.0.1", port]
    assert report["listen_env"] is None  # not inherited by the app's own child processes


def test_the_programs_exit_code_is_the_launchers(tmp_path):
    write_source(tmp_path / "app.py", "import sys\nsys.exit(3)\n")

    result = launch("app.py", cwd=tmp_path)

    assert result.returncode == 3


def test_no_program_is_a_usage_error(tmp_path):
    result = launch("--listen", "0", cwd=tmp_path)

    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_an_unusable_address_is_reported(tmp_path):
    write_source(tmp_path / "app.py", "print('ran')\n")

    result = launch("--listen", "0.0.0.0:0", "app.py", cwd=tmp_path)

    assert result.returncode == 2
    assert "allow_remote" in result.stderr
    assert "ran" not in result.stdout


def test_sigterm_ends_the_program_cleanly_and_removes_the_discovery_file(tmp_path):
    write_source(
        tmp_path / "app.py",
        "import time\nprint('up', flush=True)\nwhile True:\n    time.sleep(0.05)\n",
    )
    proc = subprocess.Popen(
        [PYTHON, "-m", "reload_server", "app.py"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=child_env(),
    )
    try:
        assert proc.stdout.readline() == "up\n"
        assert list((tmp_path / ".reload_server").glob("*.json"))

        proc.send_signal(signal.SIGTERM)

        assert proc.wait(timeout=TIMEOUT) == 143
        assert not (tmp_path / ".reload_server").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)


def _exit_status(proc: subprocess.Popen, err: queue.Queue[str]) -> int:
    """The process's exit status; if it does not exit, a failure showing where its threads are."""
    try:
        return proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(timeout=TIMEOUT)
        lines = []
        with contextlib.suppress(queue.Empty):
            while True:
                lines.append(err.get(timeout=1))
        pytest.fail("the process did not exit; its threads:\n" + "".join(lines))


def test_the_example_clock_changes_when_greeting_is_edited_and_reloaded(tmp_path):
    # The README's main job, on a copy of the example.
    shutil.copytree(REPO / "examples" / "clock", tmp_path / "clock")
    proc = subprocess.Popen(
        [PYTHON, "-m", "reload_server", "--listen", "0", "clock/app.py", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=child_env(PYTHONFAULTHANDLER="1"),  # SIGABRT prints every thread's stack
    )
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    threading.Thread(target=_lines, args=(proc.stderr, err), daemon=True).start()
    try:
        assert re.search(r"listening on 127\.0\.0\.1:\d+", err.get(timeout=TIMEOUT))
        assert "Hello, world!" in out.get(timeout=TIMEOUT)
        greeting = tmp_path / "clock" / "greeting.py"
        write_source(
            greeting, greeting.read_text().replace('NAME = "world"', 'NAME = "reloaded world"')
        )

        result = subprocess.run(
            [PYTHON, "-m", "reload_server", "reload", "clock/greeting.py"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=child_env(),
            timeout=TIMEOUT,
        )

        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("reloaded greeting")
        deadline = time.monotonic() + TIMEOUT
        while "Hello, reloaded world!" not in out.get(timeout=TIMEOUT):
            assert time.monotonic() < deadline

        proc.send_signal(signal.SIGINT)  # Ctrl-C: the clock stops, the server with it
        assert _exit_status(proc, err) == 0
        assert not list((tmp_path / ".reload_server").glob("*.json"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
