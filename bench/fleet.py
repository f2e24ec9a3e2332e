"""The fleet cell: a reload over 1, 4 and 16 local Dask worker processes against one process.

Cell side (``python -m bench.cells fleet --workers N``): first the one-process
baseline, the module reloaded in this process alone (``reload_server.reimport``,
no cluster yet).  Then a LocalCluster of N single-threaded worker processes
imports the module in every worker and in this process (the client), and
reloads alternate, each on a new version: the client's own reload (the cluster
idle) and a fleet reload of the client and every worker
(``reload_server.dask.reimport``: prepare everywhere, commit everywhere).
After every fleet reload, outside the timing, every worker is asked which
version it runs.

Runner side (:func:`bench_fleet`, :func:`fleet_table`): one cell per worker
count, and the table of medians and ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from . import gen

#: Worker counts of a full run, and of ``--quick``.
WORKERS = (1, 4, 16)
QUICK_WORKERS = (1, 2)
#: Target of issue 16: a reload over 16 workers takes at most this many times one process's.
TARGET = 3.0


def add_parser(sub: Any) -> None:
    f = sub.add_parser("fleet")
    f.add_argument("--workers", type=int, required=True)
    f.add_argument("--reloads", type=int, default=7)
    f.add_argument("--functions", type=int, default=gen.N_FUNCTIONS)
    f.add_argument("--classes", type=int, default=gen.N_CLASSES)


def import_project() -> None:
    """On a worker: import the benchmark module and its companions."""
    from .cells import _import_project

    _import_project()


def worker_version() -> int:
    """On a worker: the version of the benchmark module it runs."""
    return sys.modules[gen.MODULE].VERSION


def cell_fleet(args: argparse.Namespace) -> None:
    from distributed import Client, LocalCluster

    import reload_server
    import reload_server.dask

    from .cells import _import_project, _project, emit

    sizes = {"n_functions": args.functions, "n_classes": args.classes}
    root = _project("bench-fleet-", sizes)
    _import_project()
    version = 0
    # The one-process reload with no cluster running at all: this process alone.
    for _ in range(args.reloads):
        version += 1
        gen.write_version(root, version, **sizes)
        t0 = time.perf_counter()
        reload_server.reimport(gen.MODULE)
        emit("ALONE", {"seconds": time.perf_counter() - t0})
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(args.workers, timeout=120)
        client.run(import_project)
        emit("SETUP", {"workers": args.workers, "startup_s": time.perf_counter() - t0})
        for k in range(1, args.reloads + 1):
            version += 1
            gen.write_version(root, version, **sizes)
            t0 = time.perf_counter()
            reload_server.reimport(gen.MODULE)
            local = time.perf_counter() - t0
            version += 1
            gen.write_version(root, version, **sizes)
            t0 = time.perf_counter()
            error = None
            try:
                reload_server.dask.reimport(client, gen.MODULE)
            except reload_server.ReloadError as e:
                error = str(e)[:300]
            fleet = time.perf_counter() - t0
            versions = set(client.run(worker_version).values()) | {worker_version()}
            emit(
                "RELOAD",
                {
                    "k": k,
                    "local": local,
                    "fleet": fleet,
                    "error": error,
                    "correct": versions == {version},
                },
            )
    emit("RESULT", {"done": True})


# -- runner side ------------------------------------------------------------------


def bench_fleet(opts: argparse.Namespace, log: Any) -> dict[str, Any]:
    from .run import median, run_cell

    out: dict[str, Any] = {}
    for n in opts.fleet_workers:
        argv = ["fleet", "--workers", str(n), "--reloads", str(opts.reloads)]
        argv += ["--functions", str(opts.functions), "--classes", str(opts.classes)]
        cell = run_cell(sys.executable, argv, opts.cell_timeout)
        reloads = cell.all("RELOAD")
        if not reloads:
            error = (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]
            out[str(n)] = {"error": error}
            log(f"  fleet {n} workers: failed: {error}")
            continue
        setup = cell.one("SETUP") or {}
        out[str(n)] = {
            "startup_s": setup.get("startup_s"),
            "alone": [r["seconds"] for r in cell.all("ALONE")],
            "local": [r["local"] for r in reloads],
            "fleet": [r["fleet"] for r in reloads],
            "errors": [r["error"] for r in reloads if r["error"]],
            "correct": all(r["correct"] for r in reloads),
        }
        v = out[str(n)]
        log(
            f"  fleet {n} workers: {median(v['fleet']) * 1000:.1f} ms "
            f"(one process {median(v['alone']) * 1000:.1f} ms alone, "
            f"{median(v['local']) * 1000:.1f} ms with the cluster running)"
        )
    return out


def fleet_table(res: dict[str, Any]) -> str:
    from .run import median, ms, ratio

    lines = [
        "A reload of the benchmark module in the client process and every worker of a local Dask "
        "cluster (`reload_server.dask.reimport`: prepare everywhere, then commit everywhere), "
        "against the same reload in one process: *alone*, in the same cell before its cluster "
        "started, and *cluster idle*, the client's own reload alternating with the fleet reloads "
        "(the client also hosts the scheduler). Medians in ms. "
        f"Target: 16 workers ≤ {TARGET:g}× one process.",
        "",
        "| workers | one process, alone | one process, cluster idle | fleet | **fleet ÷ alone** "
        "| fleet ÷ cluster idle | every worker on the new code | cluster start |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, v in res.items():
        if "error" in v:
            lines.append(f"| {n} | *failed: {v['error']}* | | | | | | |")
            continue
        alone, local, fleet = median(v["alone"]), median(v["local"]), median(v["fleet"])
        correct = (
            "yes" if v["correct"] and not v["errors"] else f"**no** ({len(v['errors'])} errors)"
        )
        lines.append(
            f"| {n} | {ms(alone)} | {ms(local)} | {ms(fleet)} | **{ratio(fleet, alone)}** | "
            f"{ratio(fleet, local)} | {correct} | {v['startup_s']:.1f} s |"
        )
    return "\n".join(lines)
