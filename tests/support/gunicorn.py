"""A real gunicorn serving a tiny WSGI app with ``preload_app`` and several sync workers.

The app module (``wsgi.py``) imports ``answer.py`` and calls
``reload_server.serve(0)`` at import: gunicorn's master imports it once
(``--preload``) and serves; every forked worker starts its own server through
the fork hook.  Each HTTP answer is ``<worker pid> <answer.text()>``.
"""

from __future__ import annotations

import os
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

from reload_server.wire import discovery
from support.apps import Proc
from support.paths import PYTHON
from support.waits import TIMEOUT, wait_until

WSGI = """\
import os

import answer
import reload_server

reload_server.serve(0)


def app(environ, start_response):
    body = f"{os.getpid()} {answer.text()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def answer_source(text: str, fail_if_marked: bool = False) -> str:
    """``answer.py`` returning ``text``; with ``fail_if_marked`` its new code raises in a
    process for which a file ``fail-<pid>`` exists in the working directory."""
    source = f"import os\n\n\ndef text():\n    return {text!r}\n"
    if fail_if_marked:
        source += (
            '\n\nif os.path.exists(f"fail-{os.getpid()}"):\n'
            '    raise RuntimeError(f"marked to fail in {os.getpid()}")\n'
        )
    return source


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn in ``root`` (which must hold ``answer.py``), its master and workers."""

    def __init__(self, root: Path, workers: int = 3) -> None:
        self.root = root
        self.workers = workers
        (root / "wsgi.py").write_text(WSGI)
        self.port = free_port()
        self.proc = Proc(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--preload",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",
                "--chdir",
                str(root),
                "wsgi:app",
            ],
            root,
        )
        self.master = self.proc.pid
        # Every process serves (a discovery entry each) and the workers answer HTTP.
        wait_until(
            lambda: len(self.worker_pids()) == workers,
            what=lambda: self.proc._report(f"{workers} workers with a reload server each"),
        )

    def worker_pids(self) -> set[int]:
        """The live workers that serve reloads (every live discovery entry but the master's)."""
        live = {e.pid for e in discovery.find(self.root)}
        return live - {self.master} if self.master in live else set()

    def get(self) -> tuple[int, str]:
        """One HTTP answer: (the worker's pid, its text)."""
        url = f"http://127.0.0.1:{self.port}/"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            pid, _, text = response.read().decode().partition(" ")
        return int(pid), text

    def answers(self, pids: set[int] | None = None) -> dict[int, str]:
        """What each worker answers: HTTP requests until every one of ``pids`` (default:
        every live worker) has answered at least once; the latest answer of each."""
        wanted = self.worker_pids() if pids is None else set(pids)
        seen: dict[int, str] = {}

        def everyone() -> bool:
            try:
                pid, text = self.get()
            except (urllib.error.URLError, ConnectionError):
                return False  # a worker being replaced; ask again
            seen[pid] = text
            return wanted <= set(seen)

        wait_until(everyone, what=lambda: f"answers from every worker {wanted}: {seen}")
        return seen

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self.proc.stop()  # SIGTERM: gunicorn stops its workers, then itself
