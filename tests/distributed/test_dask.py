"""Fleet reloads over a real Dask cluster: a LocalCluster of three worker processes.

Each test writes its own module (named for the test) into a directory on every
worker's ``sys.path``, loads it in this process (the client) and on every
worker, edits it and reloads; then asks every process which code it runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support.clusters import call, call_after_reloads, extra_worker, local_cluster, pid
from support.sources import write_source

import reload_server
import reload_server.dask as rdask
from reload_server import ReloadError

WORKERS = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    modules = tmp_path_factory.mktemp("dask-modules")
    with local_cluster(WORKERS, modules) as client:
        yield client, modules


def _write(directory: Path, name: str, source: str) -> None:
    write_source(directory / f"{name}.py", textwrap.dedent(source), backdate_new=2.0)


def _load_everywhere(client, modules: Path, name: str, source: str):
    """Write module ``name`` and import it here and on every worker; returns this process's module."""
    import importlib

    _write(modules, name, source)
    importlib.invalidate_caches()
    client.run(importlib.invalidate_caches)
    assert set(client.run(call, name, "value").values()) == {1}
    return importlib.import_module(name)


def _on_workers(client, name: str) -> dict[str, object]:
    return client.run(call_after_reloads, name, "value")


V1 = """
def value():
    return 1
"""

V2 = """
def value():
    return 2
"""


def test_a_good_edit_reaches_every_worker_and_the_client(cluster):
    client, modules = cluster
    module = _load_everywhere(client, modules, "fleet_good", V1)
    _write(modules, "fleet_good", V2)

    result = rdask.reimport(client, "fleet_good")

    workers = set(client.run(pid))
    assert set(_on_workers(client, "fleet_good").values()) == {2}
    assert module.value() == 2
    assert workers <= set(result.by_process)
    assert all(r.ok and r.modules == ("fleet_good",) for r in result.by_process.values())


def test_an_edit_failing_in_one_worker_changes_no_process_and_names_that_worker(
    cluster, tmp_path: Path
):
    client, modules = cluster
    module = _load_everywhere(client, modules, "fleet_fails_once", V1)
    pids = client.run(pid)
    failing = sorted(pids)[1]
    (tmp_path / f"fail-{pids[failing]}").touch()
    _write(
        modules,
        "fleet_fails_once",
        f"""
        import os
        from pathlib import Path

        if (Path({str(tmp_path)!r}) / f"fail-{{os.getpid()}}").exists():
            raise RuntimeError("marked to fail in this worker")

        def value():
            return 2
        """,
    )

    with pytest.raises(ReloadError) as caught:
        rdask.reimport(client, "fleet_fails_once")

    assert set(_on_workers(client, "fleet_fails_once").values()) == {1}
    assert module.value() == 1
    error = caught.value
    phases = dict((name, outcome["phase"]) for name, outcome in error.processes)
    assert phases.pop(failing) == "import"
    assert set(phases.values()) == {"abort"}
    assert error.notes and all(n.message.startswith(f"[{failing}] ") for n in error.notes)
    assert any("marked to fail in this worker" in n.message for n in error.notes)


def test_a_worker_hanging_in_prepare_is_aborted_at_the_deadline_and_nothing_changes(
    cluster, tmp_path: Path
):
    client, modules = cluster
    module = _load_everywhere(client, modules, "fleet_hangs", V1)
    pids = client.run(pid)
    hanging = sorted(pids)[0]
    marker = tmp_path / f"hang-{pids[hanging]}"
    marker.touch()
    _write(
        modules,
        "fleet_hangs",
        f"""
        import os
        import time
        from pathlib import Path

        # Runs until the test removes the marker: a module body that hangs.
        while (Path({str(tmp_path)!r}) / f"hang-{{os.getpid()}}").exists():
            time.sleep(0.01)

        def value():
            return 2
        """,
    )
    try:
        with pytest.raises(ReloadError) as caught:
            rdask.reimport(client, "fleet_hangs", deadline=5.0)

        others = [a for a in pids if a != hanging]
        assert set(client.run(call, "fleet_hangs", "value", workers=others).values()) == {1}
        assert module.value() == 1
        phases = dict((name, outcome["phase"]) for name, outcome in caught.value.processes)
        assert phases.pop(hanging) == "deadline"
        assert set(phases.values()) == {"abort"}
    finally:
        marker.unlink()
    # Its new code returned at last: that worker's part aborted by itself.
    assert set(_on_workers(client, "fleet_hangs").values()) == {1}


def test_a_worker_joining_after_install_runs_the_current_code_not_its_own_files(
    cluster, tmp_path: Path
):
    client, modules = cluster
    _load_everywhere(client, modules, "fleet_late", V1)
    other_host = tmp_path / "other-host"
    other_host.mkdir()
    _write(other_host, "fleet_late", V1)  # that host still has the old file
    rdask.install(client)
    try:
        _write(modules, "fleet_late", V2)
        rdask.reimport(client, "fleet_late")

        with extra_worker(client, other_host, tmp_path) as late:
            assert client.run(call, "fleet_late", "value", workers=[late]) == {late: 2}
    finally:
        rdask.uninstall(client)


def test_after_install_a_plain_reimport_in_the_client_reloads_every_worker(cluster):
    client, modules = cluster
    module = _load_everywhere(client, modules, "fleet_plain", V1)
    rdask.install(client)
    try:
        _write(modules, "fleet_plain", V2)

        result = reload_server.reimport("fleet_plain")
    finally:
        rdask.uninstall(client)

    assert set(_on_workers(client, "fleet_plain").values()) == {2}
    assert module.value() == 2
    assert set(client.run(pid)) <= set(result.by_process)


def test_after_uninstall_a_plain_reimport_reloads_the_client_alone(cluster):
    client, modules = cluster
    module = _load_everywhere(client, modules, "fleet_uninstalled", V1)
    rdask.install(client)
    rdask.uninstall(client)
    _write(modules, "fleet_uninstalled", V2)

    reload_server.reimport("fleet_uninstalled")

    assert module.value() == 2
    assert set(_on_workers(client, "fleet_uninstalled").values()) == {1}


def test_after_the_installed_client_closes_a_plain_reimport_reloads_the_client_alone(cluster):
    from distributed import Client

    client, modules = cluster
    module = _load_everywhere(client, modules, "fleet_closed_client", V1)
    other = Client(client.scheduler.address)
    rdask.install(other)
    other.close()
    _write(modules, "fleet_closed_client", V2)

    reload_server.reimport("fleet_closed_client")

    assert module.value() == 2
    assert set(_on_workers(client, "fleet_closed_client").values()) == {1}
