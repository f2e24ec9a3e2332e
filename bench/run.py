"""Run the benchmark suite: ``python -m bench [--quick]``.

Every measurement runs in a fresh subprocess (a *cell*, see :mod:`bench.cells`);
this process only starts cells, collects what they print, and writes:

* ``<out>/results.json``: every raw sample;
* ``<out>/tables.md``: the markdown tables, also printed;
* ``<out>/reload_vs_heap.png`` (and ``docs/bench.png`` for a full run): reload
  time against heap size, log-log, one line per tool (needs matplotlib: the
  ``bench`` extra; without it the plot is skipped and said so).

Peers (ipython, jurigged, reimport-ng, xreload) are measured where installed:
in ``--peers-python`` (default: ``$BENCH_PEERS_PYTHON``, else
``/tmp/bench-peers-venv/bin/python`` if it exists) or else in this interpreter.
A peer that is in neither is listed as not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import fleet, gen
from .tools import TOOLS

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PEERS = "/tmp/bench-peers-venv/bin/python"
DISTS = {
    "reload_server": "reload_server",
    "xreload": "xreload",
    "ipython-autoreload2": "ipython",
    "ipython-superreload": "ipython",
    "jurigged": "jurigged",
    "reimport-ng": "reimport-ng",
    "importlib": "",
}
#: Required free memory per heap object before a cell is started (generous).
BYTES_PER_OBJECT = 400


# -- running cells --------------------------------------------------------------


class CellOutput:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.timed_out = False
        self.returncode: int | None = None
        self.stderr = ""
        self.wall = 0.0

    def all(self, tag: str) -> list[dict[str, Any]]:
        return [d for t, d in self.records if t == tag]

    def one(self, tag: str) -> dict[str, Any] | None:
        found = self.all(tag)
        return found[-1] if found else None


def run_cell(python: str, argv: list[str], timeout: float) -> CellOutput:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONSTARTUP", None)
    out = CellOutput()
    with (
        tempfile.TemporaryDirectory(prefix="bench-cell-") as cwd,
        tempfile.TemporaryFile("w+") as err,
    ):
        env["RELOAD_SERVER_DISCOVERY_DIR"] = cwd
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [python, "-m", "bench.cells", *argv],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out.timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate()
        out.wall = time.monotonic() - t0
        out.returncode = proc.returncode
        err.seek(0)
        out.stderr = err.read()[-4000:]
    for line in (stdout or "").splitlines():
        tag, _, rest = line.partition(" ")
        if tag.isupper() and rest.startswith("{"):
            try:
                out.records.append((tag, json.loads(rest)))
            except json.JSONDecodeError:
                continue
    return out


def can_import(python: str, module: str) -> bool:
    code = f"import importlib.util,sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([python, "-c", code], env=env, capture_output=True).returncode == 0


def mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 40


# -- statistics -------------------------------------------------------------------


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def iqr(xs: list[float]) -> tuple[float, float] | None:
    if len(xs) >= 4:
        q = statistics.quantiles(xs, n=4, method="inclusive")
        return q[0], q[2]
    if xs:
        return min(xs), max(xs)
    return None


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def ms(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    v = x * 1000
    if v >= 10_000:
        return f"{v / 1000:,.1f} s"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "–"
    r = a / b
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def n_label(n: int) -> str:
    e = len(str(n)) - 1
    return f"10^{e}" if n == 10**e else f"{n:,}"


# -- 1. reload cost ---------------------------------------------------------------


def bench_reload(opts: argparse.Namespace, pythons: dict[str, str | None], log) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {t: {} for t in opts.tools}
    for n in opts.sizes:
        for tool in opts.tools:
            python = pythons.get(tool)
            cell: dict[str, Any] = {"n": n}
            results[tool][str(n)] = cell
            if python is None:
                cell["skipped"] = "not installed"
                continue
            need = n * BYTES_PER_OBJECT
            if mem_available() < need + (2 << 30):
                cell["skipped"] = f"not enough free memory for N={n:,}"
                log(f"  {tool} N={n:,}: skipped, not enough free memory")
                continue
            pred = _predict(results[tool], n)
            if pred is not None and pred > opts.deadline:
                cell["skipped"] = f"predicted ≥ {pred:,.0f} s per reload (linear in N)"
                cell["predicted_s"] = pred
                log(f"  {tool} N={n:,}: skipped, predicted {pred:,.0f} s per reload")
                continue
            argv = ["reload", "--tool", tool, "--n", str(n), "--reloads", str(opts.reloads)]
            argv += ["--deadline", str(opts.deadline), "--dist", DISTS.get(tool, "")]
            argv += ["--functions", str(opts.functions), "--classes", str(opts.classes)]
            out = run_cell(python, argv, opts.cell_timeout)
            setup = out.one("SETUP") or {}
            reloads = out.all("RELOAD")
            times = [r["seconds"] for r in reloads if not r.get("error")]
            failed = {}
            for r in reloads:
                for check, why in (r.get("probe") or {}).items():
                    if why and check not in failed:
                        failed[check] = why
            errors = [r["error"] for r in reloads if r.get("error")]
            cell.update(
                {
                    "times": times,
                    "first": times[0] if times else None,
                    "median": median(times),
                    "iqr": iqr(times),
                    "failed": failed,
                    "errors": errors,
                    "timed_out": out.timed_out,
                    "wall": out.wall,
                    "setup": setup,
                    "stopped": (out.one("STOP") or {}).get("reason"),
                }
            )
            if not reloads:
                cell["skipped"] = (
                    f"timed out (> {opts.cell_timeout:.0f} s, first reload unfinished)"
                    if out.timed_out
                    else "cell failed: " + out.stderr.strip().splitlines()[-1][:200]
                    if out.stderr.strip()
                    else "cell failed"
                )
                cell["lower_bound_s"] = (
                    out.wall - (setup.get("build_s") or 0) if out.timed_out else None
                )
            if times and tool in FIRST_TOOLS and opts.first_runs:
                _more_first_reloads(cell, python, argv, opts)
            log(
                f"  {tool:22s} N={n:>11,}: median {ms(cell['median'])}, first {ms(first_of(cell))}"
                f" (ms), {len(times)} reloads, {'correct' if not failed and not errors else 'WRONG: ' + ','.join(failed) + ' '.join(errors)[:80]}"
                f"{' TIMEOUT' if out.timed_out else ''} [{out.wall:.0f} s]"
            )
    return results


# The pair the first-reload target compares: their first reloads are
# measured in several fresh processes, as one sample each is too noisy.
FIRST_TOOLS = ("importlib", "reload_server")


def _more_first_reloads(
    cell: dict[str, Any], python: str, argv: list[str], opts: argparse.Namespace
) -> None:
    """Add the first reload of ``opts.first_runs`` more fresh processes to ``cell``."""
    firsts = [cell["first"]]
    one = list(argv)
    one[one.index("--reloads") + 1] = "1"
    for _ in range(opts.first_runs):
        out = run_cell(python, one, opts.cell_timeout)
        for r in out.all("RELOAD")[:1]:
            if r.get("error"):
                cell["errors"].append(r["error"])
                continue
            firsts.append(r["seconds"])
            for check, why in (r.get("probe") or {}).items():
                if why:
                    cell["failed"].setdefault(check, why)
    cell["firsts"] = firsts
    cell["first_median"] = median(firsts)


def first_of(cell: dict[str, Any]) -> float | None:
    """The first-reload time to show: the median over processes where there are several."""
    return cell.get("first_median") or cell.get("first")


def _predict(by_n: dict[str, dict[str, Any]], n: int) -> float | None:
    done = [
        (int(k), max(c.get("first") or 0, c.get("median") or 0))
        for k, c in by_n.items()
        if c.get("times")
    ]
    done += [(int(k), c["lower_bound_s"]) for k, c in by_n.items() if c.get("lower_bound_s")]
    done += [(int(k), c["predicted_s"]) for k, c in by_n.items() if c.get("predicted_s")]
    if not done:
        return None
    k, t = max(done)
    return t * n / k if k < n else None


def correctness(cells: dict[str, dict[str, Any]]) -> tuple[bool | None, str]:
    measured = [c for c in cells.values() if c.get("times") or c.get("errors")]
    if not measured:
        return None, "not measured"
    failed: dict[str, str] = {}
    errors: list[str] = []
    for c in measured:
        for k, v in c.get("failed", {}).items():
            failed.setdefault(k, v)
        errors += c.get("errors", [])
    if not failed and not errors:
        return True, "yes"
    parts = []
    if failed:
        parts.append("misses " + ", ".join(sorted(failed)))
    if errors:
        parts.append("raised " + errors[0][:80])
    return False, "no: " + "; ".join(parts)


def _first_runs_note(res: dict[str, Any]) -> str:
    runs = max(
        (len(c.get("firsts") or ()) for t in FIRST_TOOLS for c in res.get(t, {}).values()),
        default=0,
    )
    if runs < 2:
        return ""
    tools = " and ".join(f"`{t}`" for t in FIRST_TOOLS)
    return (
        f". The first reload of {tools} is the median over {runs} fresh processes (one sample "
        "each is too noisy for the ratio below); the peers' is one process's"
    )


def reload_tables(res: dict[str, Any], opts: argparse.Namespace, labels: dict[str, str]) -> str:
    sizes = opts.sizes
    base = res.get("importlib", {})
    head = "| tool | " + " | ".join(f"N = {n_label(n)}" for n in sizes)
    lines = [
        "Median reload time in ms (interquartile range; first reload), "
        f"{opts.reloads} reloads per cell at most" + _first_runs_note(res) + ":",
        "",
        head + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for tool, cells in res.items():
        row = [labels[tool]]
        for n in sizes:
            c = cells.get(str(n), {})
            if c.get("skipped"):
                row.append(f"*{c['skipped']}*")
                continue
            q = c.get("iqr")
            row.append(
                f"{ms(c['median'])} ({ms(q[0])}–{ms(q[1])}; first {ms(first_of(c))})"
                + (f" [{len(c['times'])} reloads]" if len(c["times"]) < opts.reloads else "")
                if q
                else "–"
            )
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Ratio to `importlib.reload` measured in the same run (median to median; first reload "
        "to importlib's first reload, as both run on cold caches in a fresh process), "
        "and whether every old reference ran the new code after every reload:",
        "",
        head
        + " | correct on old functions, callbacks, from-imports, instances, bound methods, subclasses, super() |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    for tool, cells in res.items():
        row = [labels[tool]]
        for n in sizes:
            c = cells.get(str(n), {})
            b = base.get(str(n), {})
            if c.get("skipped"):
                row.append(
                    "> " + ratio(c.get("lower_bound_s") or c.get("predicted_s"), b.get("median"))
                    if c.get("lower_bound_s") or c.get("predicted_s")
                    else "–"
                )
                continue
            row.append(
                f"{ratio(c.get('median'), b.get('median'))} (first {ratio(first_of(c), first_of(b))})"
            )
        ok, text = correctness(cells)
        if tool == "importlib":
            text = "no (updates no old reference: it is the floor)"
        row.append(("**yes**" if ok else text) if ok is not None else text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# -- 2. latency -------------------------------------------------------------------


def bench_latency(opts: argparse.Namespace, log) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not can_import(sys.executable, "reload_server.server.control"):
        return {"skipped": "reload_server.serve() is not available in this build"}
    for module in ("small", "big"):
        for busy, switch in ((0, "default"), (2, "default"), (2, "none")):
            key = f"{module}/{'busy' if busy else 'idle'}"
            argv = ["latency", "--module", module, "--busy", str(busy)]
            if switch != "default":
                key += ", switch_interval=None"
                argv += ["--switch-interval", switch]
            argv += ["--requests", str(opts.requests if module == "small" else opts.requests // 2)]
            cell = run_cell(sys.executable, argv, opts.cell_timeout)
            res = cell.one("RESULT")
            if res is None:
                out[key] = {"error": (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]}
                log(f"  latency {key}: failed: {out[key]['error']}")
                continue
            samples = [s for s in res["samples"] if "error" not in s]
            errors = [s["error"] for s in res["samples"] if "error" in s]
            out[key] = {
                "samples": samples,
                "errors": errors,
                "expect": res.get("expect"),
                "busy_rate_alone": res.get("busy_rate_alone"),
                "busy_rate_connected": res.get("busy_rate_connected"),
            }
            ov = [s["overhead_ms"] for s in samples]
            log(
                f"  latency {key}: overhead median {median(ov) or 0:.2f} ms, p99 {pct(ov, 99) or 0:.2f} ms, {len(errors)} errors"
            )
    return out


def latency_table(res: dict[str, Any]) -> str:
    if "skipped" in res:
        return f"*{res['skipped']}*"
    lines = [
        "Milliseconds from sending `reloadPath` over TCP to receiving its result; *overhead* is "
        "that round trip minus the reimporter's own `durationMs` for the same reload; "
        "*all* waits also for the notifications the server sends after a reload "
        f"({', '.join(next((v['expect'] for v in res.values() if v.get('expect')), []) or ['none'])}). "
        "*busy* = two app threads spinning in pure Python. By default `serve()` keeps the GIL "
        "switch interval at 0.5 ms while an editor is connected; *switch_interval=None*: the app "
        "called `serve(switch_interval=None)`, which leaves the interpreter's 5 ms between "
        "requests. *Busy threads' speed while connected* is how fast they run with an editor "
        "connected and idle (2 s), against the mean of 2 s before it connected and 2 s after it "
        "left.",
        "",
        "| module | app | requests | reimport median | round trip median | overhead median | overhead p99 | all median | all p99 | errors | busy threads' speed while connected |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in res.items():
        module, app = key.split("/", 1)
        name = "small (3 definitions)" if module == "small" else "2,250 lines"
        if "error" in v:
            lines.append(f"| {name} | {app} | – | *failed: {v['error']}* | | | | | | | |")
            continue
        s = v["samples"]
        ov = [x["overhead_ms"] for x in s]
        allm = [x["all_ms"] for x in s]
        alone, connected = v.get("busy_rate_alone"), v.get("busy_rate_connected")
        speed = f"{connected / alone:.0%}" if alone and connected else "–"
        lines.append(
            f"| {name} | {app} | {len(s)} | {median([x['reimport_ms'] for x in s]) or 0:.2f} | "
            f"{median([x['rtt_ms'] for x in s]) or 0:.2f} | **{median(ov) or 0:.2f}** | **{pct(ov, 99) or 0:.2f}** | "
            f"{median(allm) or 0:.2f} | {pct(allm, 99) or 0:.2f} | {len(v['errors'])} | {speed} |"
        )
    return "\n".join(lines)


# -- 3. host cost -----------------------------------------------------------------


def bench_host(opts: argparse.Namespace, log) -> dict[str, Any]:
    argv = ["host", "--repeat", str(opts.host_repeat), "--serve-repeat", str(opts.serve_repeat)]
    argv += ["--idle", str(opts.idle)]
    if not can_import(sys.executable, "reload_server.server.control"):
        argv += ["--no-serve"]
    cell = run_cell(sys.executable, argv, opts.cell_timeout)
    res = cell.one("RESULT")
    if res is None:
        return {"error": (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    log(
        f"  import {median(res['import_ms']):.1f} ms, serve {median(res.get('serve_ms') or []) or 0:.1f} ms"
    )
    return res


def host_table(res: dict[str, Any], opts: argparse.Namespace) -> str:
    if "error" in res:
        return f"*failed: {res['error']}*"
    mib = 1024 * 1024
    imp = res["import_ms"]
    it = res["importtime_ms"]
    rows = [
        (
            "`import reload_server` (wall, fresh process)",
            f"{median(imp):.1f} ms (IQR {iqr(imp)[0]:.1f}–{iqr(imp)[1]:.1f}, {len(imp)} processes)",
            "≤ 15 ms",
        ),
        (
            "`import reload_server` (`-X importtime`, cumulative)",
            f"{median(it):.1f} ms" if it else "–",
            "≤ 15 ms",
        ),
        (
            "heavy modules loaded by the import",
            ", ".join(res["heavy_after_import"]) or "none",
            "no pygls",
        ),
    ]
    if res.get("serve_ms"):
        sv = res["serve_ms"]
        rows += [
            (
                "`serve()` returns after",
                f"{median(sv):.1f} ms (range {min(sv):.1f}–{max(sv):.1f}, {len(sv)} processes)",
                "≤ 5 ms",
            ),
            (
                f"CPU used by an idle server over {res['idle_s']:.1f} s",
                f"{res['idle_cpu_ms']:.1f} ms (same process without a server: {res['baseline_idle_cpu_ms']:.1f} ms)",
                "≤ 10 ms",
            ),
            (
                "resident memory added by a running server",
                f"{median(res['rss_added']) / mib:.1f} MiB",
                "reported",
            ),
        ]
    else:
        rows.append(("`serve()`", "*not available in this build*", ""))
    lines = ["| what | measured | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


# -- 4. modified() ----------------------------------------------------------------


def bench_modified(opts: argparse.Namespace, pythons: dict[str, str | None], log) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tools = [("reload_server", sys.executable)]
    if "ipython-autoreload2" in opts.tools and pythons.get("ipython-autoreload2"):
        tools.append(("ipython", pythons["ipython-autoreload2"]))
    if "reimport-ng" in opts.tools and pythons.get("reimport-ng"):
        tools.append(("reimport-ng", pythons["reimport-ng"]))
    for count in opts.modified_counts:
        for tool, python in tools:
            argv = [
                "modified",
                "--tool",
                tool,
                "--count",
                str(count),
                "--repeat",
                str(opts.modified_repeat),
            ]
            cell = run_cell(python, argv, opts.cell_timeout)
            res = cell.one("RESULT")
            key = f"{count}/{tool}"
            if res is None:
                out[key] = {"error": (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]}
            else:
                out[key] = res
                log(
                    f"  modified {key}: {median(res['tool_s']) * 1000:.1f} ms vs bare {median(res['bare_s']) * 1000:.1f} ms"
                )
    return out


def modified_table(res: dict[str, Any]) -> str:
    lines = [
        "Milliseconds for one check over every loaded module (median; the generated modules plus the "
        "interpreter's own), against a bare loop doing `os.stat(m.__file__)` for every loaded "
        "module, timed alternately in the same process:",
        "",
        "| loaded modules | tool | check (median) | bare `os.stat` loop | ratio | first call | sees one edit | with a watcher: finding what changed, per event batch (median, max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, v in res.items():
        count, tool = key.split("/", 1)
        name = {
            "reload_server": "**reload_server** `modified()`",
            "ipython": "IPython `ModuleReloader.check()`",
            "reimport-ng": "reimport-ng `modified()`",
        }[tool]
        if "error" in v:
            lines.append(f"| {int(count):,} | {name} | *failed: {v['error']}* | | | | | |")
            continue
        t, b = median(v["tool_s"]), median(v["bare_s"])
        seen = {True: "yes", False: "**no**", None: "–"}[v["sees_edit"]]
        watched = v.get("watcher_s")
        watch = (
            f"{median(watched) * 1000:.3f} ms, {max(watched) * 1000:.3f} ms ({len(watched)} edits)"
            if watched
            else "– (no watcher)"
        )
        lines.append(
            f"| {int(count):,} (+{v['files'] - int(count)}) | {name} | {t * 1000:.1f} | {b * 1000:.1f} | "
            f"{t / b:.2f}× | {v['first_s'] * 1000:.1f} | {seen} | {watch} |"
        )
    return "\n".join(lines)


# -- 5. memory --------------------------------------------------------------------


def bench_memory(opts: argparse.Namespace, log) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tool in ("reload_server", "importlib"):
        argv = ["memory", "--tool", tool, "--reloads", str(opts.memory_reloads)]
        argv += ["--functions", str(opts.functions), "--classes", str(opts.classes)]
        cell = run_cell(sys.executable, argv, opts.cell_timeout)
        res = cell.one("RESULT")
        if res is None:
            out[tool] = {"error": (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]}
            continue
        out[tool] = res
        p0, p1 = res["points"][0], res["points"][-1]
        log(
            f"  memory {tool}: {(p1['rss'] - p0['rss']) / 2**20:+.1f} MiB after {p1['reloads']} reloads"
        )
    return out


def memory_table(res: dict[str, Any]) -> str:
    mib = 2**20
    lines = [
        "Resident memory and the objects of `benchmod` alive after a full collection, measured after "
        "the 5th reload (start) and after the last; the process also holds 10^4 heap objects and the "
        "probe's references to version 0's objects:",
        "",
        "| tool | reloads | RSS start → end | change | module objects | classes | functions | code objects of the file | seconds | correct at the end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tool, v in res.items():
        name = "**reload_server**" if tool == "reload_server" else "`importlib.reload`"
        if "error" in v:
            lines.append(f"| {name} | *failed: {v['error']}* | | | | | | | | |")
            continue
        p0, p1 = v["points"][0], v["points"][-1]
        bad = [k for k, w in v["probe"].items() if w]
        lines.append(
            f"| {name} | {p1['reloads']:,} | {p0['rss'] / mib:.1f} → {p1['rss'] / mib:.1f} MiB | "
            f"{(p1['rss'] - p0['rss']) / mib:+.1f} MiB | {p0['modules']} → {p1['modules']} | "
            f"{p0['classes']} → {p1['classes']} | {p0['functions']} → {p1['functions']} | "
            f"{p0['codes']} → {p1['codes']} | {v['seconds']:.1f} | "
            f"{'yes' if not bad else 'no (' + ', '.join(bad) + ')'} |"
        )
    return "\n".join(lines)


# -- where reload_server's time goes ------------------------------------------------

#: Issue 14's target for reimport() against importlib.reload (sections 6, 7 and 9).
MANY_TARGET_RATIO = 1.3


def bench_phases(opts: argparse.Namespace, log) -> dict[str, Any]:
    """Section 6: per heap size, ``opts.phase_rounds`` fresh processes in turn, each
    alternating the two tools; a quiet or busy spell of the machine then moves one
    process's ratio, not the cell's (the median over the processes)."""
    out: dict[str, Any] = {str(n): {"runs": []} for n in opts.phase_sizes}
    for _ in range(opts.phase_rounds):
        for n in opts.phase_sizes:
            argv = ["phases", "--n", str(n), "--reloads", str(opts.phase_reloads)]
            argv += ["--functions", str(opts.functions), "--classes", str(opts.classes)]
            cell = run_cell(sys.executable, argv, opts.cell_timeout)
            res = cell.one("RESULT")
            if res is None:
                error = (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]
                out[str(n)] = {"error": error}
                log(f"  phases N={n:,}: failed: {error}")
                continue
            if "error" in out[str(n)]:
                continue
            out[str(n)]["runs"].append(res)
            if res.get("wrong"):
                log(f"  phases N={n:,}: WRONG: {res['wrong'][:3]}")
            t = res["totals"]
            rs, il = median(t["reload_server"][1:]), median(t["importlib"])
            log(
                f"  phases N={n:,}: reimport {rs * 1000:.1f} ms, importlib {il * 1000:.1f} ms"
                f" ({ratio(rs, il)})"
            )
    return out


def _phase_runs(v: dict[str, Any]) -> list[dict[str, Any]]:
    return v["runs"] if "runs" in v else [v]  # one process per size until 2026-12-01


def phases_table(res: dict[str, Any]) -> str:
    lines = [
        "`reimport()` and `importlib.reload` alternate on the same heap, each on its own copy of "
        "the module (same source, same edit), so that `reimport()` finds its module as its own "
        "last reload left it, as in an app (an `importlib.reload` of the same module in between "
        "would make it run the whole module); each phase of the reimporter is timed by wrapping "
        "its function (no profiler). Each heap size is measured in several fresh processes, "
        "taking turns with the other sizes; the ratio is the median of the processes' ratios "
        "(each in brackets), the times are medians over all their reloads, reload_server's "
        "first reload of each process left out of the median and the first process's shown "
        "apart (the reimporter's modules are imported beforehand here, to be wrapped).",
        "",
    ]
    for n, v in res.items():
        if "error" in v:
            lines += [f"N = {int(n):,}: *failed: {v['error']}*", ""]
            continue
        runs = _phase_runs(v)
        if not runs:
            continue
        rs_total = [x for r in runs for x in r["totals"]["reload_server"][1:]]
        il_total = [x for r in runs for x in r["totals"]["importlib"]]
        each = [
            median(r["totals"]["reload_server"][1:]) / median(r["totals"]["importlib"])
            for r in runs
        ]
        first = runs[0]["totals"]["reload_server"][0]
        spread = ", ".join(f"{x:.2f}" for x in each)
        lines += [
            f"N = {n_label(int(n))}:",
            "",
            "| phase | reload_server (median) | reload_server (first reload) | importlib.reload (median) |",
            "|---|---|---|---|",
            f"| **whole reload** | **{median(rs_total) * 1000:.2f}** | {first * 1000:.2f} | **{median(il_total) * 1000:.2f}** |",
            f"| ratio (target ≤ {MANY_TARGET_RATIO}×) | **{median(each):.2f}×** ({spread}) | | |",
        ]
        for label in runs[0]["phases"]:
            series = [r["phases"].get(label, []) for r in runs]
            rs = [x for xs in series for x in xs[0::2][1:]]
            il = [x for xs in series for x in xs[1::2]]
            rs_first = series[0][0] if series[0] else 0.0
            a, b = median(rs) or 0.0, median(il) or 0.0
            if max(a, b, rs_first) < 5e-6:
                continue
            lines.append(
                f"| {label.replace('  of which: ', '&nbsp;&nbsp;↳ ')} | {a * 1000:.2f} | {rs_first * 1000:.2f} | {b * 1000:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


# -- 7. many loaded modules --------------------------------------------------------


def bench_manymods(opts: argparse.Namespace, log) -> dict[str, Any]:
    """Section 7 in ``opts.many_rounds`` fresh processes, one after the other: the ratio is
    the median of the processes' ratios, as in sections 6 and 9."""
    argv = ["manymods", "--count", str(opts.many_count), "--reloads", str(opts.many_reloads)]
    argv += ["--functions", str(opts.functions), "--classes", str(opts.classes)]
    runs: list[dict[str, Any]] = []
    for _ in range(opts.many_rounds):
        cell = run_cell(sys.executable, argv, opts.cell_timeout)
        res = cell.one("RESULT")
        if res is None:
            error = (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]
            log(f"  manymods: failed: {error}")
            return {"error": error, "setup": cell.one("SETUP")}
        res["setup"] = cell.one("SETUP")
        runs.append(res)
        for state in ("True", "False"):
            rs, il = _many_medians(res, state)
            log(
                f"  manymods {opts.many_count:,} modules, state={state}: reimport {ms(rs, 2)} ms, "
                f"importlib {ms(il, 2)} ms ({ratio(rs, il)})"
            )
    return {"runs": runs, "setup": runs[0]["setup"]}


def _many_runs(res: dict[str, Any]) -> list[dict[str, Any]]:
    return res["runs"] if "runs" in res else [res]  # one process until 2026-12-01


def _many_medians(res: dict[str, Any], state: str) -> tuple[float | None, float | None]:
    """Medians without each process's first reload (shown apart: it reads the importers'
    code once)."""
    runs = _many_runs(res)
    rs = [x for r in runs for x in r["times"][f"{state}/reload_server"][1:]]
    il = [x for r in runs for x in r["times"][f"{state}/importlib"][1:]]
    return median(rs), median(il)


def _many_ratio(res: dict[str, Any], state: str) -> tuple[float | None, list[float]]:
    """The median of the processes' ratios, and each."""
    each = []
    for r in _many_runs(res):
        rs, il = _many_medians(r, state)
        if rs and il:
            each.append(rs / il)
    return median(each), each


def manymods_table(res: dict[str, Any]) -> str:
    if "error" in res:
        return f"*failed: {res['error']}*"
    setup = res["setup"] or {}
    runs = _many_runs(res)
    first = runs[0]["times"]
    reloads = len(first["True/reload_server"])
    lines = [
        f"{setup.get('count', 0):,} small modules loaded ({setup.get('modules', 0):,} in "
        f"`sys.modules`), {setup.get('importers', 0):,} of them with `from target import …` "
        f"copies (functions, aliases, classes and, from the first target, `registry` and "
        f"`CONFIG`); the target has {setup.get('lines', 0):,} lines. Each target has two copies, "
        "one reloaded by `reimport()` and one by `importlib.reload`, alternately in one process; "
        f"{len(runs)} such process(es), one after the other. Milliseconds, median of "
        f"{reloads - 1} reloads per process (the first shown apart, from the first process); the "
        "ratio is the median of the processes' ratios (each in brackets). Generating the "
        f"modules took {setup.get('write_s', 0):.1f} s, importing them "
        f"{setup.get('import_s', 0):.1f} s, adding {(setup.get('rss_added') or 0) / 2**20:.0f} MiB "
        "of resident memory.",
        "",
        f"| target | `reimport()` | `importlib.reload` | ratio | ≤ {MANY_TARGET_RATIO}× | copies follow the reload |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "True": "`registry = Registry()` and `CONFIG = {…}` made anew on every reload",
        "False": "control: the same module without them",
    }
    wrong: dict[str, str] = {}
    for r in runs:
        wrong.update(r.get("wrong") or {})
    for state, name in names.items():
        rs, il = _many_medians(res, state)
        rs0, il0 = first[f"{state}/reload_server"][0], first[f"{state}/importlib"][0]
        r, each = _many_ratio(res, state)
        meets = "–" if r is None else ("yes" if r <= MANY_TARGET_RATIO else "**no**")
        spread = f" ({', '.join(f'{x:.2f}' for x in each)})" if len(each) > 1 else ""
        lines.append(
            f"| {name} | {ms(rs, 2)} (first {ms(rs0, 2)}) | {ms(il, 2)} (first {ms(il0, 2)}) | "
            f"{'–' if r is None else f'{r:.2f}×'}{spread} | {meets} | "
            + (
                "yes"
                if not wrong
                else "**no**: " + "; ".join(f"{k}: {v}" for k, v in wrong.items())[:200]
            )
            + " |"
        )
    with_value, without = _many_medians(res, "True")[0], _many_medians(res, "False")[0]
    lines += [
        "",
        f"Replacing the non-atomic values costs `reimport()` {ms((with_value or 0) - (without or 0), 2)} "
        "ms (difference of the medians). Where `reimport()` spends it, phase by phase and every "
        "step of the commit (medians, ms):",
        "",
        "| phase | with the values | control |",
        "|---|---|---|",
    ]
    for label in runs[0]["phases"]["True"]:
        a = median([x for r in runs for x in r["phases"]["True"].get(label, [0.0])[1:]]) or 0.0
        b = median([x for r in runs for x in r["phases"]["False"].get(label, [0.0])[1:]]) or 0.0
        if max(a, b) < 5e-6:
            continue
        lines.append(
            f"| {label.replace('  of which: ', '&nbsp;&nbsp;↳ ')} | {a * 1000:.2f} | {b * 1000:.2f} |"
        )
    return "\n".join(lines)


# -- 9. frameworks loaded, and a one-function edit (issue 15) -----------------------

#: The cells of section 9: (key, --edit, --frameworks, what it is, target).
FRAMEWORK_CELLS = [
    ("all", "all", False, "every body edited (control: section 6's cell, this run)", "≤ 1.3×"),
    ("all+fw", "all", True, "every body edited, Flask, SQLAlchemy and pydantic loaded", "≤ 1.3×"),
    ("one", "one", False, "one function's body edited", "< 1×"),
    ("one+fw", "one", True, "one function's body edited, the frameworks loaded", "< 1×"),
]


def bench_frameworks(opts: argparse.Namespace, log) -> dict[str, Any]:
    """Section 6's alternating cell at one heap size, with the frameworks loaded and with the
    one-function edit; the cells take turns, ``opts.framework_rounds`` times, so that a load
    drift of the machine hits each."""
    n = opts.phase_sizes[0]
    out: dict[str, Any] = {"n": n, "cells": {key: [] for key, *_ in FRAMEWORK_CELLS}}
    for _ in range(opts.framework_rounds):
        for key, edit, frameworks, _what, _target in FRAMEWORK_CELLS:
            argv = ["phases", "--n", str(n), "--reloads", str(opts.phase_reloads)]
            argv += ["--functions", str(opts.functions), "--classes", str(opts.classes)]
            argv += ["--edit", edit] + (["--frameworks"] if frameworks else [])
            cell = run_cell(sys.executable, argv, opts.cell_timeout)
            res = cell.one("RESULT")
            if res is None:
                error = (cell.stderr.strip().splitlines() or ["no output"])[-1][:300]
                log(f"  frameworks {key}: failed: {error}")
                out["cells"][key].append({"error": error})
                continue
            res["setup"] = cell.one("SETUP")
            out["cells"][key].append(res)
            t = res["totals"]
            rs, il = median(t["reload_server"][1:]), median(t["importlib"])
            log(
                f"  frameworks {key}: reimport {ms(rs, 2)} ms, importlib {ms(il, 2)} ms ({ratio(rs, il)})"
            )
    return out


def frameworks_table(res: dict[str, Any]) -> str:
    lines = [
        f"Section 6's cell at N = {n_label(int(res['n']))} (`reimport()` and `importlib.reload` "
        "take turns in one process, each on its own copy of the module), in four variants: "
        "every body edited (the usual edit) or one function's body (`f_100`, version 0 "
        "elsewhere: the everyday edit); with Flask, SQLAlchemy and pydantic imported and used "
        "(an app of 20 routes, 20 mapped classes, 20 pydantic models) or not. Each variant is "
        "a fresh process per round, the variants take turns; the ratio is the median over the "
        "rounds of each process's median ratio. Milliseconds, medians over all rounds' reloads "
        "(reload_server's first reload of each process left out).",
        "",
        "| edit | N | modules loaded | gc-tracked objects | `reimport()` | `importlib.reload` "
        "| ratio (per-round ratios) | target | the edited function follows |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, _edit, _fw, what, target in FRAMEWORK_CELLS:
        runs = [r for r in res["cells"].get(key, []) if "error" not in r]
        if not runs:
            errors = [r.get("error") for r in res["cells"].get(key, [])]
            lines.append(f"| {what} | *failed: {(errors or ['not run'])[0]}* |||||||")
            continue
        rs = [x for r in runs for x in r["totals"]["reload_server"][1:]]
        il = [x for r in runs for x in r["totals"]["importlib"]]
        ratios = [
            median(r["totals"]["reload_server"][1:]) / median(r["totals"]["importlib"])
            for r in runs
        ]
        setup = runs[0].get("setup") or {}
        wrong = [w for r in runs for w in r.get("wrong", [])]
        lines.append(
            f"| {what} | {int(res['n']):,} | {setup.get('modules', 0):,} | "
            f"{setup.get('gc_tracked', 0):,} | {ms(median(rs), 2)} | {ms(median(il), 2)} | "
            f"**{median(ratios):.2f}×** ({', '.join(f'{x:.2f}' for x in ratios)}) | {target} | "
            + ("yes" if not wrong else "**no**: " + "; ".join(wrong)[:150])
            + " |"
        )
    return "\n".join(lines)


# -- plot -------------------------------------------------------------------------


def plot(res: dict[str, Any], labels: dict[str, str], paths: list[Path]) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no plot"
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    styles = {
        "importlib": ("black", "--"),
        "reload_server": ("tab:red", "-"),
        "xreload": ("tab:blue", "-"),
        "ipython-autoreload2": ("tab:orange", "-"),
        "ipython-superreload": ("tab:green", "-"),
        "jurigged": ("tab:purple", "-"),
        "reimport-ng": ("tab:brown", "-"),
    }
    for tool, cells in res.items():
        xs, ys, lo, hi = [], [], [], []
        for n, c in sorted(cells.items(), key=lambda kv: int(kv[0])):
            if c.get("median"):
                xs.append(int(n))
                ys.append(c["median"] * 1000)
                q = c["iqr"]
                lo.append(c["median"] * 1000 - q[0] * 1000)
                hi.append(q[1] * 1000 - c["median"] * 1000)
        if not xs:
            continue
        ok, _ = correctness(cells)
        color, ls = styles.get(tool, (None, "-"))
        label = labels[tool].replace("*", "").replace("`", "")
        if tool != "importlib" and ok is False:
            label += " (incorrect)"
        ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            label=label,
            color=color,
            linestyle=ls if ok or tool == "importlib" else ":",
            marker="o",
            linewidth=2.5 if tool == "reload_server" else 1.5,
            capsize=3,
        )
        for n, c in cells.items():
            bound = c.get("lower_bound_s") or c.get("predicted_s")
            if bound:
                ax.plot(
                    [int(n)],
                    [bound * 1000],
                    marker="^",
                    color=ax.lines[-1].get_color(),
                    markersize=9,
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("live objects in the process (N)")
    ax.set_ylabel("reload time, median (ms)")
    ax.set_title("Reloading a 2,250-line module (200 functions, 50 classes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.text(
        0.99,
        0.01,
        "▲ lower bound (timed out) or linear prediction (skipped); dotted: incorrect",
        ha="right",
        fontsize=7,
        alpha=0.7,
    )
    fig.tight_layout()
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p)
    plt.close(fig)
    return "plot: " + ", ".join(str(p) for p in paths)


# -- main -------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run (< 60 s)")
    p.add_argument("--out", type=Path, help="results directory (default bench/results[/quick])")
    p.add_argument(
        "--plot", type=Path, action="append", help="where to write the plot (repeatable)"
    )
    p.add_argument("--tools", help="comma-separated tools (default: all): " + ",".join(TOOLS))
    p.add_argument("--peers-python", default=os.environ.get("BENCH_PEERS_PYTHON"))
    p.add_argument(
        "--no-peers", action="store_true", help="measure importlib and reload_server only"
    )
    p.add_argument("--sizes", help="comma-separated heap sizes N")
    p.add_argument("--reloads", type=int, help="reloads per reload cell")
    p.add_argument(
        "--first-runs",
        type=int,
        help="more fresh processes timing only the first reload (importlib, reload_server)",
    )
    p.add_argument(
        "--only",
        help="comma-separated sections: reload,latency,host,modified,memory,phases,manymods,fleet,"
        "frameworks "
        "(default all)",
    )
    p.add_argument("--fleet-workers", help="comma-separated Dask worker counts (fleet section)")
    p.add_argument("--cell-timeout", type=float, help="kill a cell after this many seconds")
    p.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: rewrite tables.md and the plot from an earlier results.json",
    )
    opts = p.parse_args(argv)
    quick = opts.quick
    opts.sizes = (
        [int(float(x)) for x in opts.sizes.split(",")]
        if opts.sizes
        else ([1_000, 10_000] if quick else [10_000, 100_000, 1_000_000, 10_000_000])
    )
    opts.reloads = opts.reloads or (3 if quick else 7)
    if opts.first_runs is None:
        opts.first_runs = 1 if quick else 4
    opts.cell_timeout = opts.cell_timeout or (60.0 if quick else 290.0)
    opts.deadline = opts.cell_timeout - (20 if quick else 50)
    opts.functions, opts.classes = (40, 10) if quick else (gen.N_FUNCTIONS, gen.N_CLASSES)
    opts.requests = 20 if quick else 200
    opts.host_repeat = 3 if quick else 15
    opts.serve_repeat = 2 if quick else 7
    opts.idle = 2.0 if quick else 10.0
    opts.modified_counts = [2_000] if quick else [2_000, 10_000]
    opts.modified_repeat = 3 if quick else 11
    opts.memory_reloads = 50 if quick else 1_000
    opts.phase_sizes = [1_000] if quick else opts.sizes
    opts.phase_reloads = 3 if quick else 15
    opts.framework_rounds = 1 if quick else 5
    opts.phase_rounds = 1 if quick else 3
    opts.many_rounds = 1 if quick else 3
    opts.many_count = 50 if quick else 10_000
    opts.many_reloads = 3 if quick else 15
    opts.fleet_workers = (
        [int(x) for x in opts.fleet_workers.split(",")]
        if opts.fleet_workers
        else list(fleet.QUICK_WORKERS if quick else fleet.WORKERS)
    )
    if opts.tools:
        opts.tools = [t.strip() for t in opts.tools.split(",") if t.strip()]
        unknown = [t for t in opts.tools if t not in TOOLS]
        if unknown:
            p.error(f"unknown tools: {', '.join(unknown)}")
    else:
        opts.tools = list(TOOLS)
    if opts.no_peers:
        opts.tools = [t for t in opts.tools if not TOOLS[t].peer]
    for must in ("reload_server", "importlib"):
        if must not in opts.tools:
            opts.tools.insert(0, must)
    opts.tools.sort(key=list(TOOLS).index)
    opts.only = (
        set(opts.only.split(","))
        if opts.only
        else {
            "reload",
            "latency",
            "host",
            "modified",
            "memory",
            "phases",
            "manymods",
            "fleet",
            "frameworks",
        }
    )
    opts.out = opts.out or (REPO / "bench" / "results" / ("quick" if quick else ""))
    if not opts.plot:
        opts.plot = [opts.out / "reload_vs_heap.png"]
        if not quick and opts.out.resolve() == (REPO / "bench" / "results").resolve():
            opts.plot.append(REPO / "docs" / "bench.png")
    return opts


def _git_state() -> str:
    """The commit measured, and whether reload_server/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "reload_server"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in reload_server/' if dirty else ''}"


def find_pythons(opts: argparse.Namespace, log) -> dict[str, str | None]:
    peers = opts.peers_python or (DEFAULT_PEERS if os.path.exists(DEFAULT_PEERS) else None)
    found: dict[str, str | None] = {}
    for tool in opts.tools:
        cls = TOOLS[tool]
        if not cls.peer:
            found[tool] = sys.executable
            continue
        found[tool] = None
        for python in [p for p in (peers, sys.executable) if p and os.path.exists(p)]:
            if can_import(python, cls.requires):
                found[tool] = python
                break
        if found[tool] is None:
            log(f"  {tool}: not installed (pip install -r bench/requirements-peers.txt)")
    return found


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    if opts.render:
        results = json.loads(opts.render.read_text())
        meta = results["meta"]
        opts.out = opts.render.parent
        if opts.plot == [opts.out / "reload_vs_heap.png"] or not opts.plot:
            opts.plot = [opts.out / "reload_vs_heap.png"]
        sizes = sorted({int(n) for cells in results.get("reload", {}).values() for n in cells})
        opts.sizes = sizes or opts.sizes
        opts.tools = list(results.get("reload", {})) or opts.tools
        labels = {t: TOOLS[t].label for t in opts.tools}
        for t, python in meta.get("tools", {}).items():
            if python is None and t in labels:
                labels[t] += " *(not installed)*"
        return _report(results, opts, labels)
    opts.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {msg}", file=sys.stderr, flush=True)

    # Cells write no bytecode (sys.dont_write_bytecode), so make sure reload_server's own
    # .pyc files are fresh: otherwise every cell would compile them anew, which a real app
    # does once, and charge it to the first reload and to `import reload_server`.
    import compileall

    compileall.compile_dir(str(REPO / "reload_server"), quiet=1)
    pythons = find_pythons(opts, log)
    labels = {t: TOOLS[t].label for t in opts.tools}
    for t in opts.tools:
        if pythons.get(t) is None:
            labels[t] += " *(not installed)*"
    load = os.getloadavg()
    meta = {
        "reload_server": _git_state(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "load_at_start": load,
        "quick": opts.quick,
        "tools": {t: pythons.get(t) for t in opts.tools},
        "module_lines": len(gen.module_source(1, opts.functions, opts.classes).splitlines()),
    }
    results: dict[str, Any] = {"meta": meta}
    if "reload" in opts.only:
        log("1. reload cost against heap size")
        results["reload"] = bench_reload(opts, pythons, log)
    if "latency" in opts.only:
        log("2. editor latency over TCP")
        results["latency"] = bench_latency(opts, log)
    if "host" in opts.only:
        log("3. host cost")
        results["host"] = bench_host(opts, log)
    if "modified" in opts.only:
        log("4. modified()")
        results["modified"] = bench_modified(opts, pythons, log)
    if "memory" in opts.only:
        log("5. memory over many reloads")
        results["memory"] = bench_memory(opts, log)
    if "phases" in opts.only:
        log("6. where reload_server's time goes")
        results["phases"] = bench_phases(opts, log)
    if "manymods" in opts.only:
        log("7. many loaded modules, a non-atomic value replaced")
        results["manymods"] = bench_manymods(opts, log)
    if "fleet" in opts.only:
        log("8. fleet reloads over Dask workers")
        results["fleet"] = fleet.bench_fleet(opts, log)
    if "frameworks" in opts.only:
        log("9. frameworks loaded, and a one-function edit")
        results["frameworks"] = bench_frameworks(opts, log)
    meta["load_at_end"] = os.getloadavg()
    meta["seconds"] = time.monotonic() - started

    versions = {}
    for cells in results.get("reload", {}).values():
        for c in cells.values():
            s = c.get("setup") or {}
            if s.get("version"):
                versions[s["tool"]] = s["version"]
    meta["versions"] = versions
    return _report(results, opts, labels)


def _report(results: dict[str, Any], opts: argparse.Namespace, labels: dict[str, str]) -> int:
    meta = results["meta"]
    load = meta["load_at_start"]
    versions = meta.get("versions", {})
    parts = [
        f"# Benchmark results{' (quick)' if opts.quick else ''}",
        "",
        f"{meta['date']}, Python {meta['python']}, {meta['machine']}; load average "
        f"{load[0]:.2f} at start, {meta['load_at_end'][0]:.2f} at end; {meta['seconds']:.0f} s in all; "
        f"reload_server at {meta.get('reload_server', 'unknown')}. "
        "Peer versions: "
        + (", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "none")
        + ".",
    ]
    if "reload" in results:
        parts += [
            "",
            f"## 1. Reload cost against heap size ({meta['module_lines']:,}-line module, "
            f"{opts.functions} functions, {opts.classes} classes)",
            "",
            reload_tables(results["reload"], opts, labels),
        ]
        parts += ["", plot(results["reload"], labels, opts.plot)]
    if "latency" in results:
        parts += ["", "## 2. Editor latency over TCP", "", latency_table(results["latency"])]
    if "host" in results:
        parts += ["", "## 3. What the host app pays", "", host_table(results["host"], opts)]
    if "modified" in results:
        parts += ["", "## 4. Stale detection", "", modified_table(results["modified"])]
    if "memory" in results:
        parts += ["", "## 5. Memory over many reloads", "", memory_table(results["memory"])]
    if "phases" in results:
        parts += [
            "",
            "## 6. Where `reimport()` spends its time",
            "",
            phases_table(results["phases"]),
        ]
    if "manymods" in results:
        parts += [
            "",
            "## 7. Many loaded modules, a non-atomic value replaced on every reload",
            "",
            manymods_table(results["manymods"]),
        ]
    if "fleet" in results:
        parts += [
            "",
            "## 8. A fleet reload over Dask workers",
            "",
            fleet.fleet_table(results["fleet"]),
        ]
    if "frameworks" in results:
        parts += [
            "",
            "## 9. Frameworks loaded, and a one-function edit",
            "",
            frameworks_table(results["frameworks"]),
        ]
    text = "\n".join(parts) + "\n"
    (opts.out / "tables.md").write_text(text)
    if not opts.render:
        (opts.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(text)
    ok, _ = correctness(results.get("reload", {}).get("reload_server", {}))
    return 0 if ok is not False else 1


if __name__ == "__main__":
    sys.exit(main())
