"""A real message broker for the distributed tests: a private ``redis-server``.

Started on a free loopback port, with nothing written to disk, and killed
afterwards; the tests that need it skip when ``redis-server`` is not installed
(``scripts/setup-test.sh`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.waits import TIMEOUT, wait_until

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Run a ``redis-server`` for the block; yields its URL (``redis://127.0.0.1:PORT/0``)."""
    assert REDIS_SERVER, "redis-server is not installed"
    port = free_port()
    log = open(workdir / f"redis-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: proc.poll() is not None or _answers_ping(port),
            what=f"redis-server on port {port} answers PING",
        )
        assert proc.poll() is None, (workdir / f"redis-{port}.log").read_text()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        log.close()
