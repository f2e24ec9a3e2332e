"""Real Celery workers for the distributed tests: ``celery worker`` with the prefork pool.

Each :class:`CeleryWorker` is one worker process (its own node name and its
own queue, so that a test can send tasks to one worker) with its pool
children, run in a session of its own so that :meth:`CeleryWorker.stop`
ends the children too, even when the main process is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from support.apps import child_env
from support.paths import PYTHON
from support.waits import TIMEOUT, wait_until

# Seconds to wait for a prefork pool to be replaced or covered: each new child
# starts a Python process and imports the app, which on a loaded 2-core
# machine (CI beside a CPU-bound job) has taken more than TIMEOUT.
POOL_WAIT = 2.5 * TIMEOUT  # inside the 120 s a test may take


class CeleryWorker:
    """``python -m celery -A APP worker --pool=prefork --concurrency=N -n NAME@host -Q NAME``."""

    def __init__(
        self, app: Any, app_module: str, name: str, cwd: Path, concurrency: int = 2
    ) -> None:
        self.app = app
        self.name = name
        self.node = f"{name}@{socket.gethostname()}"
        self.log_path = cwd / f"worker-{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                app_module,
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "-n",
                self.node,
                "-Q",
                name,
                "-O",
                "fair",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=cwd,
            env=child_env(PYTHONPATH=os.pathsep.join([child_env()["PYTHONPATH"], str(cwd)])),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.concurrency = concurrency
        #: The worker's main process: where remote-control commands run.
        self.pid = self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> None:
        """Wait until the worker answers a ping and its pool has all its children."""
        wait_until(
            lambda: self._gone() or len(self.children()) == self.concurrency,
            what=lambda: f"{self.node} ready; its log:\n{self.log()}",
        )
        assert self.proc.poll() is None, self.log()

    def _gone(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.node} exited; its log:\n{self.log()}")
        return False

    def children(self) -> list[int]:
        """The pids of the pool's children now (empty if the worker does not answer)."""
        stats = self.app.control.inspect(destination=[self.node], timeout=1.0, limit=1).stats()
        return list(((stats or {}).get(self.node) or {}).get("pool", {}).get("processes", []))

    def run_everywhere(self, task: Any) -> dict[int, Any]:
        """Send ``task`` to this worker until every pool child has run it: ``{child pid: result}``.

        Each result must be ``[value, pid]``.
        """
        children = set(self.children())
        seen: dict[int, Any] = {}

        def covered() -> bool:
            batch = [task.apply_async(queue=self.name) for _ in range(2 * self.concurrency)]
            for result in batch:
                value, pid = result.get(timeout=TIMEOUT)
                seen[pid] = value
            return children <= set(seen)

        wait_until(
            covered,
            timeout=POOL_WAIT,
            what=lambda: f"every child of {self.node} ran {task.name}: {seen}",
        )
        return {pid: seen[pid] for pid in children}

    def restart_pool(self, task: Any) -> None:
        """Fork the pool's children again from the main process, and wait until they run.

        Celery's ``pool_restart`` marks each child to exit before its next job;
        an idle child is woken by sending it ``task``, whose result is ignored.
        """
        before = set(self.children())
        self.app.control.broadcast("pool_restart", destination=[self.node])

        def restarted() -> bool:
            now = set(self.children())
            if now & before:
                task.apply_async(queue=self.name, ignore_result=True)
                return False
            return len(now) == self.concurrency

        wait_until(
            restarted,
            timeout=POOL_WAIT,
            what=lambda: f"{self.node}'s pool restarted; its log:\n{self.log()}",
        )

    def stop(self) -> None:
        """End the worker and its children (warm shutdown, else killed)."""
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(TIMEOUT)
        finally:
            self._log.close()
