"""Real Dask clusters for the fleet tests: a LocalCluster of worker processes, and extra workers.

Workers are spawned processes: they start with this process's ``sys.path``
(multiprocessing's spawn hands it over), so the directory a test writes its
modules to, and ``tests/`` itself (for the worker-side helpers below), must be
on it before the cluster starts.  The helpers that run on workers live here,
in an importable module, because functions are shipped to workers by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.paths import REPO
from support.waits import TIMEOUT, wait_until


@contextlib.contextmanager
def local_cluster(n_workers: int, modules_dir: Path) -> Iterator[Any]:
    """A ``Client`` of a new LocalCluster of ``n_workers`` single-threaded worker processes.

    ``modules_dir`` is put on the workers' ``sys.path`` (and this process's).
    The cluster and its processes are closed on exit, even on failure.
    """
    from distributed import Client, LocalCluster

    sys.path.insert(0, str(modules_dir))
    try:
        with (
            LocalCluster(
                n_workers=n_workers,
                processes=True,
                threads_per_worker=1,
                dashboard_address=None,
                scheduler_port=0,
                worker_dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.wait_for_workers(n_workers, timeout=TIMEOUT)
            yield client
    finally:
        sys.path.remove(str(modules_dir))


@contextlib.contextmanager
def extra_worker(client: Any, modules_dir: Path, tmp: Path) -> Iterator[str]:
    """One more worker, a ``dask worker`` process of its own, as on another host.

    Its ``sys.path`` starts with ``modules_dir`` (its own copy of the project)
    and holds neither this process's test directories nor its edits.  Yields
    the worker's address once the scheduler knows it; stopped on exit.
    """
    before = set(client.scheduler_info(n_workers=-1)["workers"])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(modules_dir), str(REPO / "tests"), str(REPO)])
    log = open(tmp / "extra-worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            client.scheduler.address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--local-directory",
            str(tmp),
        ],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def joined() -> set[str]:
            if proc.poll() is not None:
                raise AssertionError(f"the extra worker exited: {_tail(tmp / 'extra-worker.log')}")
            return set(client.scheduler_info(n_workers=-1)["workers"]) - before

        (address,) = wait_until(joined, what="the extra worker joins the scheduler")
        yield address
    finally:
        with contextlib.suppress(Exception):
            client.retire_workers(
                [a for a in client.scheduler_info(n_workers=-1)["workers"] if a not in before]
            )
        proc.terminate()
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


# -- run on the workers (shipped by name) -----------------------------------------


def call(module: str, function: str) -> object:
    """``module.function()``, importing the module if this process has not yet."""
    return getattr(importlib.import_module(module), function)()


def pid() -> int:
    return os.getpid()


async def call_after_reloads(module: str, function: str) -> object:
    """``module.function()`` once no reload runs in this process (one may still be finishing)."""

    def settled() -> object:
        from reload_server.core.transaction import reload_lock

        if not reload_lock.acquire(timeout=TIMEOUT):
            raise AssertionError(f"a reload still runs in pid {os.getpid()}")
        try:
            return call(module, function)
        finally:
            reload_lock.release()

    return await asyncio.get_running_loop().run_in_executor(None, settled)


def on_every_worker(client: Any, module: str, function: str) -> dict[str, object]:
    """``module.function()`` on every worker, by address."""
    return client.run(call, module, function)
