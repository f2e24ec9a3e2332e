"""Smoke run of the benchmark suite (``python -m bench --quick``): it must keep working.

No timing is asserted: only that every section produced its table and that
reload_server's row says it updated every old reference correctly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="the bench reads /proc"),
    pytest.mark.timeout(600),
]


def test_quick_benchmark_runs_and_reload_server_is_correct(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = dict(os.environ)
    # Peers are optional: point at an interpreter that does not exist, so the
    # runner must fall back to this one and report the missing peers as such.
    env["BENCH_PEERS_PYTHON"] = str(tmp_path / "no-such-python")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--out",
            str(out),
            "--plot",
            str(tmp_path / "plot.png"),
            "--tools",
            "importlib,reload_server,xreload",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    tables = (out / "tables.md").read_text()
    assert tables == proc.stdout.strip() + "\n" or tables.strip() in proc.stdout
    for heading in (
        "## 1. Reload cost against heap size",
        "## 2. Editor latency over TCP",
        "## 3. What the host app pays",
        "## 4. Stale detection",
        "## 5. Memory over many reloads",
        "## 6. Where `reimport()` spends its time",
        "## 7. Many loaded modules, a non-atomic value replaced on every reload",
        "## 8. A fleet reload over Dask workers",
        "## 9. Frameworks loaded, and a one-function edit",
    ):
        assert heading in tables
    rows = [
        line for line in tables.splitlines() if line.startswith("| **reload_server** `reimport()`")
    ]
    assert len(rows) == 2, tables  # the times table and the ratio/correctness table
    assert rows[1].rstrip().endswith("| **yes** |"), rows[1]
    importlib_rows = [
        line for line in tables.splitlines() if line.startswith("| `importlib.reload`")
    ]
    assert any("updates no old reference" in line for line in importlib_rows)

    results = json.loads((out / "results.json").read_text())
    cells = results["reload"]["reload_server"]
    assert cells, "no reload_server cell"
    for cell in cells.values():
        assert cell.get("times"), cell
        assert not cell["failed"] and not cell["errors"], cell
    # An uninstalled peer is reported, not fatal (unless this interpreter has it).
    xreload = results["reload"]["xreload"]
    assert all(c.get("skipped") == "not installed" or c.get("times") for c in xreload.values())
    fleet = results["fleet"]
    assert fleet and all(c.get("correct") and not c["errors"] for c in fleet.values()), fleet
    memory = results["memory"]["reload_server"]
    assert memory["points"] and not any(memory["probe"].values())
    # The many-modules cell, at 50 modules: every variant reloaded, every copy followed.
    many = results["manymods"]
    assert "error" not in many, many
    assert many["setup"]["count"] == 50 and many["setup"]["importers"] == 5
    (run,) = many["runs"]
    assert all(len(times) == 3 for times in run["times"].values()), run["times"]
    assert run["wrong"] == {}
    assert "rebind_from_import_copies" in " ".join(run["phases"]["True"])
    phases = [run for v in results["phases"].values() for run in v["runs"]]
    assert phases and all("  of which: rebind_from_import_copies" in r["phases"] for r in phases)
    assert all(r["wrong"] == [] for r in phases), phases
    # Section 9: each variant ran once (quick), and the edited function followed every reload.
    cells = results["frameworks"]["cells"]
    assert set(cells) == {"all", "all+fw", "one", "one+fw"}
    if not all(importlib.util.find_spec(m) for m in ("flask", "sqlalchemy", "pydantic")):
        cells = {k: v for k, v in cells.items() if not k.endswith("+fw")}
    for runs in cells.values():
        assert len(runs) == 1 and "error" not in runs[0], runs
        assert runs[0]["wrong"] == [] and len(runs[0]["totals"]["reload_server"]) == 3
    assert "one+fw" not in cells or cells["one+fw"][0]["setup"]["frameworks"] > 0
