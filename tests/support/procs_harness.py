"""Helpers for tests that run real programs: processes, their output, HTTP, the CLI.

Every wait is bounded by ``TIMEOUT``.  Programs run with the repository
importable and no stray ``RELOAD_SERVER_*`` settings, in a temporary copy of
their directory, so tests edit the copy and never the repository.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PYTHON = sys.executable
TIMEOUT = 15.0


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELOAD_SERVER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    # The first version must look older than any edit a fast test makes.
    past = time.time() - 5
    for path in target.glob("*.py"):
        os.utime(path, (past, past))
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a file, as an editor saving it would; its mtime always moves on."""
    before = path.stat().st_mtime_ns
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


def resave(path: Path) -> None:
    """Save a file again, unchanged but with a later mtime (an editor's ``:w``)."""
    before = path.stat().st_mtime_ns
    path.write_text(path.read_text())
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


@contextlib.contextmanager
def resaving(path: Path, every: float = 3.0) -> Iterator[None]:
    """While the block waits for a watcher to act on the last save of ``path``, save
    it again every few seconds (unchanged, later mtime), as a user would.

    ``watch()`` reports itself ready before watchfiles has set up its inotify
    watches (the RustNotify is created on the generator's first iteration), so
    a save made right after start-up can go unseen; see the report on issue 8.
    """
    done = threading.Event()

    def run() -> None:
        while not done.wait(every):
            resave(path)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class Proc:
    """A running program; its stdout and stderr lines are collected as they come."""

    def __init__(self, args: list[str], cwd: Path, **popen: Any) -> None:
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            **popen,
        )
        self.pid = self.proc.pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(
        self, pattern: str, *, stream: str = "out", after: int = 0, timeout: float = TIMEOUT
    ) -> re.Match[str]:
        """The first line (from index ``after``) of stdout/stderr matching ``pattern``."""
        lines = self.out if stream == "out" else self.err
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in lines[after:]:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                exited = self.proc.poll() is not None
                if remaining <= 0 or (exited and not self._changed.wait(0.5)):
                    raise AssertionError(
                        f"no line matching {pattern!r} on std{stream} within {timeout} s "
                        f"(exit {self.proc.poll()})\nstdout:\n"
                        + "\n".join(self.out[-30:])
                        + "\nstderr:\n"
                        + "\n".join(self.err[-30:])
                    )
                if not exited:
                    self._changed.wait(min(remaining, 0.2))

    def stop(self) -> None:
        """SIGTERM (the program's own way to stop), then SIGKILL of its group if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m reload_server reload ARGS``."""
    return subprocess.run(
        [PYTHON, "-m", "reload_server", "reload", *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.read().decode().strip()


def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or predicate}")
        time.sleep(0.05)


def discovery_pids(root: Path) -> set[int]:
    directory = root / ".reload_server"
    if not directory.is_dir():
        return set()
    return {int(p.stem) for p in directory.glob("*.json") if p.stem.isdigit()}
