"""One benchmark cell per process: ``python -m bench.cells KIND [options]``.

The runner (:mod:`bench.run`) starts each cell in a fresh interpreter and reads
the lines it prints that start with an upper-case tag and a JSON object
(``RELOAD {...}``, ``RESULT {...}``); anything else a tool prints is ignored.
Progress is printed as it happens, so a cell killed at its time limit still
reports what it measured.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from . import fleet, gen
from .heap import Probe, populate


def emit(tag: str, data: dict[str, Any]) -> None:
    sys.stdout.write(f"{tag} {json.dumps(data)}\n")
    sys.stdout.flush()


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def version_of(dist: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001
        return None


def _sizes(args: argparse.Namespace) -> dict[str, int]:
    return {"n_functions": args.functions, "n_classes": args.classes}


def _project(prefix: str, sizes: dict[str, int]) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    sys.dont_write_bytecode = True
    gen.write_project(root, **sizes)
    sys.path.insert(0, str(root))
    return root


def _import_project() -> ModuleType:
    mod = importlib.import_module(gen.MODULE)
    importlib.import_module(gen.SUBMODULE)
    importlib.import_module(gen.USERMODULE)
    return mod


# -- 1. reload cost against heap size ---------------------------------------------


def cell_reload(args: argparse.Namespace) -> None:
    from .tools import TOOLS

    started = time.monotonic()
    tool = TOOLS[args.tool]()
    root = _project("bench-reload-", _sizes(args))
    mod = _import_project()
    probe = Probe()
    t0 = time.perf_counter()
    heap = populate(args.n)
    build = time.perf_counter() - t0
    tool.setup(mod)
    gc.collect()
    emit(
        "SETUP",
        {
            "tool": args.tool,
            "n": args.n,
            "heap": len(heap),
            "gc_tracked": len(gc.get_objects()),
            "build_s": build,
            "rss": rss_bytes(),
            "lines": len((root / f"{gen.MODULE}.py").read_text().splitlines()),
            "python": sys.version.split()[0],
            "version": version_of(args.dist) if args.dist else None,
        },
    )
    last = 0.0
    for k in range(1, args.reloads + 1):
        left = args.deadline - (time.monotonic() - started)
        if k > 2 and left < 1.5 * last + 2:
            emit("STOP", {"reason": f"time budget: {k - 1} reloads done"})
            break
        gen.write_version(root, k, **_sizes(args))
        gc.collect()
        error = None
        t0 = time.perf_counter()
        try:
            tool.reload(mod)
        except BaseException as e:  # noqa: BLE001 - a failing tool is a result
            error = f"{type(e).__name__}: {e}"[:300]
        last = time.perf_counter() - t0
        mod = sys.modules.get(gen.MODULE, mod)
        checks = probe.check(k)
        emit("RELOAD", {"k": k, "seconds": last, "error": error, "probe": checks})
        if error:
            break
    emit("RESULT", {"done": True})


# -- 2. end-to-end latency over TCP -------------------------------------------------


_busy_rounds = [0]


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(2000):
            x += i * i
        _busy_rounds[0] += 1  # not atomic across threads; a few lost counts do not matter


def _busy_rate(seconds: float = 2.0) -> float:
    """Rounds per second the app's busy threads manage, over ``seconds``."""
    start, t0 = _busy_rounds[0], time.perf_counter()
    time.sleep(seconds)
    return (_busy_rounds[0] - start) / (time.perf_counter() - t0)


def _interval(args: argparse.Namespace) -> float | None:
    return None if args.switch_interval == "none" else float(args.switch_interval)


def cell_app(args: argparse.Namespace) -> None:
    """The app for the latency cell: loads the module, serves, optionally burns CPU."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, args.root)
    import reload_server

    importlib.import_module(args.module)
    if args.module == gen.MODULE:
        importlib.import_module(gen.SUBMODULE)
        importlib.import_module(gen.USERMODULE)
    stop = threading.Event()
    for _ in range(args.busy):
        threading.Thread(target=_busy, args=(stop,), daemon=True).start()
    kwargs = {} if args.switch_interval == "default" else {"switch_interval": _interval(args)}
    host, port = reload_server.serve(0, discovery=False, **kwargs)
    emit("PORT", {"host": host, "port": port})
    # "rate" on stdin: how fast the busy threads run now; end of stdin: the client is done.
    for line in sys.stdin:
        if line.strip() == "rate":
            emit("RATE", {"rate": _busy_rate()})
    stop.set()
    reload_server.stop()


def cell_latency(args: argparse.Namespace) -> None:
    from .lsp import Client

    root = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    if args.module == "small":
        name = "smallmod"
        file = gen.write_small(root, 0)

        def write(k: int) -> None:
            gen.write_small(root, k)
    else:
        name = gen.MODULE
        file = gen.write_project(root)

        def write(k: int) -> None:
            gen.write_version(root, k)

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    app = subprocess.Popen(
        [sys.executable, "-m", "bench.cells", "app", "--root", str(root), "--module", name]
        + ["--busy", str(args.busy)]
        + ["--switch-interval", args.switch_interval],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = ""
        while not line.startswith("PORT "):
            line = app.stdout.readline()
            if not line:
                raise RuntimeError("the app exited before serving")
        addr = json.loads(line[5:])

        def busy_rate() -> float | None:
            if not args.busy:
                return None
            app.stdin.write("rate\n")
            app.stdin.flush()
            reply = ""
            while not reply.startswith("RATE "):
                reply = app.stdout.readline()
                if not reply:
                    raise RuntimeError("the app exited")
            return json.loads(reply[5:])["rate"]

        rate_alone = busy_rate()
        client = Client(addr["host"], addr["port"])
        client.initialize(str(root))
        while client.receive(0.2) is not None:
            pass
        rate_connected = busy_rate()
        samples: list[dict[str, Any]] = []
        expect: set[str] = set()
        total = args.requests + args.warmup
        for k in range(1, total + 1):
            write(k)
            t0 = time.perf_counter()  # before sending: the client may be descheduled after
            rid = client.request("reloadPath", {"path": str(file)})
            result = None
            t_result = None
            seen: dict[str, float] = {}
            trace: list = []
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline:
                wait = 0.5 if k <= args.warmup else 2.0
                got = client.receive(wait if result is not None else 60)
                if got is None:
                    break
                t, msg = got
                trace.append((t, msg))
                if msg.get("id") == rid and "method" not in msg:
                    result, t_result = msg.get("result") or msg.get("error"), t
                else:
                    method = msg.get("method", "")
                    if method == "reloadServer/status":
                        state = (msg.get("params") or {}).get("state")
                        method = f"{method}:{state}"
                    seen.setdefault(method, t)
                if result is not None and k > args.warmup and expect <= set(seen):
                    break
            if k <= args.warmup:
                expect |= {
                    m
                    for m in seen
                    if m.startswith(("textDocument/publish", "reloadServer/status:idle"))
                }
                continue
            if not isinstance(result, dict) or result.get("status") != "reloaded":
                samples.append({"error": str(result)[:300]})
                continue
            rtt = (t_result - t0) * 1000
            last = max([t_result] + [seen[m] for m in expect if m in seen])
            samples.append(
                {
                    "rtt_ms": rtt,
                    "reimport_ms": result.get("durationMs"),
                    "overhead_ms": rtt - float(result.get("durationMs") or 0.0),
                    "all_ms": (last - t0) * 1000,
                    "trace": [
                        (
                            round((t - t0) * 1000, 3),
                            m.get("id"),
                            m.get("method"),
                            str(m.get("params") or m.get("result"))[:150],
                        )
                        for t, m in trace
                    ]
                    if os.environ.get("BENCH_DEBUG")
                    else None,
                    "diag_ms": (seen["textDocument/publishDiagnostics"] - t0) * 1000
                    if "textDocument/publishDiagnostics" in seen
                    else None,
                }
            )
        client.shutdown()
        client.close()
        # Alone again: the mean of before and after cancels a drift of the machine.
        rate_after = busy_rate()
        if rate_alone is not None and rate_after is not None:
            rate_alone = (rate_alone + rate_after) / 2
        emit(
            "RESULT",
            {
                "samples": samples,
                "expect": sorted(expect),
                "busy_rate_alone": rate_alone,
                "busy_rate_connected": rate_connected,
            },
        )
    finally:
        try:
            app.stdin.close()
            app.wait(10)
        except Exception:  # noqa: BLE001
            app.kill()


# -- 3. what the host app pays ----------------------------------------------------


_IMPORT_SNIPPET = """
import sys, time, json
t0 = time.perf_counter()
import reload_server
t1 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000,
                  "heavy": sorted(m for m in ("pygls", "lsprotocol", "asyncio", "cattrs", "attrs")
                                  if m in sys.modules),
                  "modules_added": None}))
"""

_SERVE_SNIPPET = """
import sys, time, json, os
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
import reload_server
time.sleep(0.2)
before = rss()
serve = %(serve)s
t0 = time.perf_counter()
if serve:
    reload_server.serve(0, discovery=False)
t1 = time.perf_counter()
time.sleep(1.0)
after = rss()
c0 = time.process_time(); w0 = time.perf_counter()
time.sleep(%(idle)s)
c1 = time.process_time(); w1 = time.perf_counter()
threads = [t.name for t in __import__("threading").enumerate()]
print(json.dumps({"serve_ms": (t1 - t0) * 1000, "rss_before": before, "rss_after": after,
                  "idle_cpu_ms": (c1 - c0) * 1000, "idle_s": w1 - w0, "threads": threads}))
"""


def _run_json(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _importtime(env: dict[str, str]) -> float | None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import reload_server"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    for line in out.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "reload_server":
            return int(parts[1]) / 1000
    return None


def cell_host(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="bench-host-")
    env = dict(os.environ, RELOAD_SERVER_DISCOVERY_DIR=tmp, PYTHONDONTWRITEBYTECODE="1")
    imports = [_run_json([sys.executable, "-c", _IMPORT_SNIPPET], env) for _ in range(args.repeat)]
    importtime = [_importtime(env) for _ in range(args.repeat)]
    serves: list[dict[str, Any]] = []
    if args.no_serve:
        emit(
            "RESULT",
            {
                "import_ms": [r["import_ms"] for r in imports],
                "importtime_ms": [x for x in importtime if x is not None],
                "heavy_after_import": imports[0]["heavy"],
            },
        )
        return
    for _ in range(args.serve_repeat):
        serves.append(
            _run_json([sys.executable, "-c", _SERVE_SNIPPET % {"serve": True, "idle": 0.0}], env)
        )
    idle = _run_json(
        [sys.executable, "-c", _SERVE_SNIPPET % {"serve": True, "idle": args.idle}], env
    )
    baseline = _run_json(
        [sys.executable, "-c", _SERVE_SNIPPET % {"serve": False, "idle": args.idle}], env
    )
    emit(
        "RESULT",
        {
            "import_ms": [r["import_ms"] for r in imports],
            "importtime_ms": [x for x in importtime if x is not None],
            "heavy_after_import": imports[0]["heavy"],
            "serve_ms": [r["serve_ms"] for r in serves],
            "rss_added": [r["rss_after"] - r["rss_before"] for r in serves],
            "idle_cpu_ms": idle["idle_cpu_ms"],
            "idle_s": idle["idle_s"],
            "idle_threads": idle["threads"],
            "baseline_idle_cpu_ms": baseline["idle_cpu_ms"],
        },
    )


# -- 4. stale detection -----------------------------------------------------------


def _bare_stat() -> int:
    stat = os.stat
    n = 0
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if f.__class__ is str and f.endswith(".py"):
            try:
                stat(f)
            except OSError:
                continue
            n += 1
    return n


def cell_modified(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-modified-"))
    sys.dont_write_bytecode = True
    for i in range(args.count):
        (root / f"stale_{i:05d}.py").write_text(f"X = {i}\n")
    old = time.time() - 3600
    for p in root.iterdir():
        os.utime(p, (old, old))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    if args.tool == "reload_server":
        import reload_server

        def check() -> object:
            return reload_server.modified()
    elif args.tool == "ipython":
        from IPython.extensions.autoreload import ModuleReloader

        reloader = ModuleReloader()

        def check() -> object:
            reloader.check(check_all=True, do_reload=False)
            return None
    elif args.tool == "reimport-ng":
        import reimport

        def check() -> object:
            return reimport.modified()
    else:
        raise SystemExit(f"unknown tool {args.tool}")
    t0 = time.perf_counter()
    for i in range(args.count):
        importlib.import_module(f"stale_{i:05d}")
    imported = time.perf_counter() - t0
    files = _bare_stat()
    t0 = time.perf_counter()
    first = check()
    first_s = time.perf_counter() - t0
    tool_s, bare_s = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        _bare_stat()
        bare_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = check()
        tool_s.append(time.perf_counter() - t0)
    # One edit, then: does the check see it?
    target = root / "stale_00007.py"
    target.write_text("X = 'edited'\n")
    seen = check()
    watched = _watcher_lookups(root, args.repeat) if args.tool == "reload_server" else None
    emit(
        "RESULT",
        {
            "tool": args.tool,
            "count": args.count,
            "files": files,
            "import_s": imported,
            "first_s": first_s,
            "first_found": len(first) if isinstance(first, list) else None,
            "steady_found": len(found) if isinstance(found, list) else None,
            "tool_s": tool_s,
            "bare_s": bare_s,
            "sees_edit": (("stale_00007" in seen) if isinstance(seen, list) else None),
            "watcher_s": watched,
        },
    )


def _watcher_lookups(root: Path, edits: int) -> list[float]:
    """With a real watch() running over ``root``: how long the watcher takes, per
    batch of file events, to find which loaded modules changed (the work between
    the operating system's event and the reload)."""
    import queue

    import reload_server
    from reload_server.runtime import watcher

    durations: list[float] = []
    found: queue.Queue[list[str]] = queue.Queue()
    lookup = watcher.changed_modules

    def timed(paths):
        t0 = time.perf_counter()
        names = lookup(paths)
        durations.append(time.perf_counter() - t0)
        found.put(names)
        return names

    watcher.changed_modules = timed
    stop = reload_server.watch(str(root), on_reload=lambda outcome: None)
    try:
        for k in range(edits):
            target = root / f"stale_{k % 50:05d}.py"
            target.write_text(f"X = 'watched {k}'\n")
            names = found.get(timeout=30)
            if names != [target.stem]:
                raise RuntimeError(f"the watcher found {names} for an edit of {target.stem}")
            time.sleep(0.1)  # let the reload it starts finish before the next edit
    finally:
        stop()
        watcher.changed_modules = lookup
    return durations


# -- 5. memory over many reloads ---------------------------------------------------


def _census(file: str) -> dict[str, int]:
    mods = classes = funcs = codes = 0
    for o in gc.get_objects():
        t = type(o)
        if t is ModuleType:
            mods += o.__dict__.get("__name__") == gen.MODULE
        elif isinstance(o, type):
            classes += o.__dict__.get("__module__") == gen.MODULE
        elif t.__name__ == "function":
            funcs += getattr(o, "__module__", None) == gen.MODULE
    codes = sum(
        1
        for o in gc.get_referents(*[f for f in gc.get_objects() if type(f).__name__ == "function"])
        if type(o).__name__ == "code" and o.co_filename == file
    )
    return {"modules": mods, "classes": classes, "functions": funcs, "codes": codes}


def cell_memory(args: argparse.Namespace) -> None:
    from .tools import TOOLS

    tool = TOOLS[args.tool]()
    root = _project("bench-memory-", _sizes(args))
    mod = _import_project()
    probe = Probe()
    heap = populate(args.n)
    tool.setup(mod)
    file = str(root / f"{gen.MODULE}.py")
    marks = sorted({5, *(m for m in (100, 250, 500, 1000) if m <= args.reloads), args.reloads})
    points = []
    t0 = time.perf_counter()
    for k in range(1, args.reloads + 1):
        gen.write_version(root, k, **_sizes(args))
        tool.reload(mod)
        mod = sys.modules[gen.MODULE]
        if k in marks:
            gc.collect()
            points.append({"reloads": k, "rss": rss_bytes(), **_census(file)})
    elapsed = time.perf_counter() - t0
    checks = probe.check(args.reloads)
    emit(
        "RESULT",
        {
            "tool": args.tool,
            "heap": len(heap),
            "points": points,
            "seconds": elapsed,
            "probe": checks,
        },
    )


# -- profiling --------------------------------------------------------------------


def cell_profile(args: argparse.Namespace) -> None:
    """cProfile of reload_server's reimport over a few reloads, printed by cumulative time."""
    import cProfile
    import io
    import pstats

    from .tools import TOOLS

    tool = TOOLS[args.tool]()
    root = _project("bench-profile-", _sizes(args))
    mod = _import_project()
    heap = populate(args.n)
    tool.setup(mod)
    prof = cProfile.Profile()
    for k in range(1, args.reloads + 1):
        gen.write_version(root, k, **_sizes(args))
        gc.collect()
        prof.enable()
        tool.reload(mod)
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    del heap


def cell_switch_cost(args: argparse.Namespace) -> None:
    """What GIL switch intervals cost CPU-bound threads: their speed at each interval.

    Two threads spin in pure Python; the intervals take turns in windows of
    ``--window`` seconds, ``--rounds`` times, so load drifts hit all of them.
    Prints each interval's median speed relative to the first one given.
    """
    intervals = [float(x) for x in args.intervals.split(",")]
    stop = threading.Event()
    for _ in range(args.threads):
        threading.Thread(target=_busy, args=(stop,), daemon=True).start()
    saved = sys.getswitchinterval()
    rates: dict[float, list[float]] = {i: [] for i in intervals}
    try:
        for _ in range(args.rounds):
            for interval in intervals:
                sys.setswitchinterval(interval)
                time.sleep(0.2)  # let the threads settle at the new interval
                rates[interval].append(_busy_rate(args.window))
    finally:
        stop.set()
        sys.setswitchinterval(saved)
    base = statistics.median(rates[intervals[0]])
    table = {
        f"{i * 1000:g} ms": {
            "relative_median": statistics.median(r) / base,
            "relative_windows": [x / base for x in r],
        }
        for i, r in rates.items()
    }
    for name, row in table.items():
        spread = ", ".join(f"{x:.2f}" for x in row["relative_windows"])
        print(f"{name:>8}: {row['relative_median']:.3f} of {intervals[0] * 1000:g} ms ({spread})")
    emit("RESULT", {"threads": args.threads, "window_s": args.window, "intervals": table})


class _PhaseTimers:
    """Timers wrapped around the reimporter's functions, without a profiler.

    ``timings[label]`` gets one entry per reload (see :meth:`next`): the time
    spent in the wrapped function during that reload.
    """

    def __init__(self) -> None:
        self.timings: dict[str, list[float]] = {}

    def wrap(self, owner: object, attr: str, label: str) -> None:
        """Time ``owner.attr`` under ``label``, if it exists under that name."""
        inner = getattr(owner, attr, None)
        if inner is None:
            return
        timings = self.timings.setdefault(label, [])

        def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                if timings:
                    timings[-1] += time.perf_counter() - t0

        setattr(owner, attr, wrapper)

    def next(self) -> None:
        """Start the timings of one more reload."""
        for v in self.timings.values():
            v.append(0.0)


def commit_steps() -> list[str]:
    """The ``_Commit`` methods ``_Transaction._commit`` calls, in its order.

    Read from the code of ``_commit``, so a step added there is timed without
    editing the bench; every public method of ``_Commit`` if that code cannot
    be read.
    """
    import ast
    import inspect
    import textwrap

    from reload_server.core import transaction as reimporter

    commit = getattr(reimporter, "_Commit", None)
    if commit is None:
        return []
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(reimporter._Transaction._commit)))
    except (OSError, TypeError, SyntaxError):
        return [k for k, v in vars(commit).items() if callable(v) and not k.startswith("_")]
    steps: list[str] = []
    for statement in tree.body[0].body:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and callable(vars(commit).get(node.func.attr))
                and node.func.attr not in steps
            ):
                steps.append(node.func.attr)
    return steps


def reimporter_timers(importlib_too: bool = True) -> _PhaseTimers:
    """Wrap the reimporter's phases and every commit step (and importlib's compile and read)."""
    import importlib._bootstrap_external as ext

    from reload_server.core import sources
    from reload_server.core import transaction as reimporter

    steps = commit_steps()  # before _commit is wrapped: it reads _commit's code
    timers = _PhaseTimers()
    timed = timers.wrap
    tx = reimporter._Transaction
    timed(getattr(reimporter, "targets", None), "resolve", "resolve targets")
    timed(reimporter, "load", "read + compile + scan (sources.load)")
    timed(sources, "_scan", "  of which: scan bytecode (sources._scan)")
    timed(reimporter, "order", "order")
    timed(tx, "_unimport", "__unimport__ hooks")
    timed(tx, "_execute", "snapshot + exec (_execute)")
    timed(tx, "_commit", "commit (_commit)")
    for step in steps:
        timed(reimporter._Commit, step, f"  of which: {step}")
    timed(reimporter, "publish", "publish outcome")
    if importlib_too:
        timed(ext.SourceLoader, "source_to_code", "importlib: compile (source_to_code)")
        timed(ext.SourceLoader, "get_data", "importlib: read")
    return timers


#: What the ``--frameworks`` phases cell imports and uses: a real app's heap of
#: framework objects and classes (issue 15).
FRAMEWORKS = ("flask", "sqlalchemy", "pydantic")


def _load_frameworks() -> dict[str, Any]:
    """Import Flask, SQLAlchemy and pydantic and make a little of each, as an app would.

    Returns what was made (held for the cell's life) and the modules loaded.
    """
    before = len(sys.modules)
    import flask
    import pydantic
    import sqlalchemy
    from sqlalchemy import orm

    app = flask.Flask("benchapp")
    for i in range(20):
        app.add_url_rule(f"/r{i}", f"r{i}", lambda i=i: str(i))

    class Model(orm.DeclarativeBase):
        pass

    tables = [
        type(
            f"Row{i}",
            (Model,),
            {
                "__tablename__": f"row{i}",
                "id": orm.mapped_column(sqlalchemy.Integer, primary_key=True),
                "name": orm.mapped_column(sqlalchemy.String(20)),
            },
        )
        for i in range(20)
    ]
    orm.configure_mappers()
    schemas = [
        pydantic.create_model(f"Schema{i}", id=(int, ...), name=(str, "x")) for i in range(20)
    ]
    rows = [s(id=i, name="n").model_dump() for i, s in enumerate(schemas)]
    return {
        "held": (app, Model, tables, schemas, rows),
        "modules": len(sys.modules) - before,
    }


def cell_phases(args: argparse.Namespace) -> None:
    """Where reload_server's reimport spends its time, phase by phase, without a profiler.

    Wraps the reimporter's phase functions and every step of its commit with
    timers (when they exist under these names), and times ``importlib.reload``'s
    own compile and read the same way, on the same heap.  The tools take turns;
    ``importlib.reload`` reloads a copy of the module (:data:`gen.IL_MODULE`) with
    the same source, so each tool finds its module as its own last reload left it.
    ``--frameworks`` imports Flask, SQLAlchemy and pydantic first (issue 15);
    ``--edit one`` changes one function's body per version instead of every body.
    """
    frameworks = _load_frameworks() if args.frameworks else None
    timers = reimporter_timers()
    root = _project("bench-phases-", _sizes(args))
    only = args.functions // 2 if args.edit == "one" else None
    gen.write_version(root, 0, name=gen.IL_MODULE, **_sizes(args))
    mod = _import_project()
    mod_il = importlib.import_module(gen.IL_MODULE)
    heap = populate(args.n)
    edited = gen.fname(only if only is not None else 0)
    held = getattr(mod, edited)  # an old reference: it must run each new version
    import reload_server

    emit(
        "SETUP",
        {
            "n": len(heap),
            "edit": args.edit,
            "edited": edited,
            "frameworks": frameworks["modules"] if frameworks else None,
            "modules": len(sys.modules),
            "gc_tracked": len(gc.get_objects()),
        },
    )
    totals: dict[str, list[float]] = {"reload_server": [], "importlib": []}
    wrong: list[str] = []
    for k in range(1, 2 * args.reloads + 1):
        which = "reload_server" if k % 2 else "importlib"
        name = gen.MODULE if which == "reload_server" else gen.IL_MODULE
        gen.write_version(root, k, name=name, only=only, **_sizes(args))
        gc.collect()
        timers.next()
        t0 = time.perf_counter()
        if which == "reload_server":
            reload_server.reimport(mod)
        else:
            importlib.reload(mod_il)
        totals[which].append(time.perf_counter() - t0)
        if which == "reload_server" and (held(1)[0], getattr(mod, edited)(1)[0]) != (k, k):
            wrong.append(f"reload {k}: {edited} runs {held(1)[0]}")
        if which == "importlib" and getattr(mod_il, edited)(1)[0] != k:
            wrong.append(f"reload {k}: importlib's {edited} runs {mod_il.__dict__[edited](1)[0]}")
    emit(
        "RESULT",
        {"n": len(heap), "totals": totals, "phases": timers.timings, "wrong": wrong},
    )


# -- 7. many loaded modules --------------------------------------------------------


def _many_check(
    version: int, copies: dict[str, tuple[str, list[tuple[str, str]]]]
) -> dict[str, str]:
    """For the reload_server targets: does every copy in the small modules follow the reload?"""
    wrong: dict[str, str] = {}
    for importer, (target, names) in copies.items():
        if not target.endswith("_rs"):
            continue
        mod, ns = sys.modules[target], sys.modules[importer].__dict__
        for name, local in names:
            value, current = ns.get(local), getattr(mod, name)
            if name == "registry":
                ok = value is current
            elif name == "CONFIG":
                ok = value is current and current["version"] == version
            elif isinstance(current, type):
                ok = value is current and value(1).born == version
            else:
                ok = value is current and value(1)[0] == version
            if not ok:
                wrong.setdefault(f"{target}.{name}", f"{importer}.{local} is stale")
    return wrong


def cell_manymods(args: argparse.Namespace) -> None:
    """``--count`` small modules loaded; targets with and without a non-atomic value.

    Per round, every target gets a new version, then each is reloaded by its
    tool, in turn (reload_server and importlib alternate, so a load drift hits
    both); the reimporter's commit steps are timed as in :func:`cell_phases`.
    """
    sizes = _sizes(args)
    timers = reimporter_timers(importlib_too=False)
    import reload_server

    root = Path(tempfile.mkdtemp(prefix="bench-manymods-"))
    sys.dont_write_bytecode = True
    t0 = time.perf_counter()
    gen.write_many(root, args.count, **sizes)
    write_s = time.perf_counter() - t0
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    targets = {name: importlib.import_module(name) for name in gen.MANY_TARGETS}
    for i in range(args.count):
        importlib.import_module(gen.many_name(i))
    import_s = time.perf_counter() - t0
    copies = {}
    for i in range(args.count):
        found = gen.many_imports(i, **sizes)
        if found is not None:
            copies[gen.many_name(i)] = found
    gc.collect()
    emit(
        "SETUP",
        {
            "count": args.count,
            "modules": len(sys.modules),
            "importers": len(copies),
            "write_s": write_s,
            "import_s": import_s,
            "rss_added": rss_bytes() - rss0,
            "gc_tracked": len(gc.get_objects()),
            "lines": len(gen.many_target_source(0, True, **sizes).splitlines()),
        },
    )
    order = [(state, tool) for state in (True, False) for tool in ("reload_server", "importlib")]
    times: dict[str, list[float]] = {f"{s}/{t}": [] for s, t in order}
    phases: dict[str, dict[str, list[float]]] = {"True": {}, "False": {}}
    wrong: dict[str, str] = {}
    for k in range(1, args.reloads + 1):
        gen.write_many_target(root, k, **sizes)
        # Rotate who goes first, so no variant always follows the same one.
        for state, tool in order[k % 4 :] + order[: k % 4]:
            mod = targets[gen.many_target(state, tool)]
            gc.collect()
            timers.next()
            t0 = time.perf_counter()
            if tool == "reload_server":
                reload_server.reimport(mod)
            else:
                importlib.reload(mod)
            times[f"{state}/{tool}"].append(time.perf_counter() - t0)
            if tool == "reload_server":
                for label, xs in timers.timings.items():
                    phases[str(state)].setdefault(label, []).append(xs[-1])
        wrong.update(_many_check(k, copies))
    emit("RESULT", {"times": times, "phases": phases, "wrong": wrong})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.cells")
    sub = p.add_subparsers(dest="kind", required=True)
    r = sub.add_parser("reload")
    r.add_argument("--tool", required=True)
    r.add_argument("--dist", default="")
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--reloads", type=int, default=7)
    r.add_argument("--deadline", type=float, default=240.0)
    a = sub.add_parser("app")
    a.add_argument("--root", required=True)
    a.add_argument("--module", required=True)
    a.add_argument("--busy", type=int, default=0)
    # "default": serve()'s own; "none": switch_interval=None; else seconds.
    a.add_argument("--switch-interval", default="default")
    lat = sub.add_parser("latency")
    lat.add_argument("--module", choices=("small", "big"), required=True)
    lat.add_argument("--busy", type=int, default=0)
    lat.add_argument("--switch-interval", default="default")
    lat.add_argument("--requests", type=int, default=100)
    lat.add_argument("--warmup", type=int, default=3)
    h = sub.add_parser("host")
    h.add_argument("--repeat", type=int, default=15)
    h.add_argument("--serve-repeat", type=int, default=5)
    h.add_argument("--idle", type=float, default=10.0)
    h.add_argument("--no-serve", action="store_true")
    m = sub.add_parser("modified")
    m.add_argument("--tool", default="reload_server")
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--repeat", type=int, default=11)
    mem = sub.add_parser("memory")
    mem.add_argument("--tool", default="reload_server")
    mem.add_argument("--reloads", type=int, default=1000)
    mem.add_argument("--n", type=int, default=10_000)
    pr = sub.add_parser("profile")
    pr.add_argument("--tool", default="reload_server")
    pr.add_argument("--n", type=int, default=10_000)
    pr.add_argument("--reloads", type=int, default=5)
    pr.add_argument("--sort", default="cumulative")
    pr.add_argument("--top", type=int, default=40)
    for q in (r, mem, pr):
        q.add_argument("--functions", type=int, default=gen.N_FUNCTIONS)
        q.add_argument("--classes", type=int, default=gen.N_CLASSES)
    ph = sub.add_parser("phases")
    ph.add_argument("--n", type=int, default=10_000)
    ph.add_argument("--reloads", type=int, default=9)
    ph.add_argument("--functions", type=int, default=gen.N_FUNCTIONS)
    ph.add_argument("--classes", type=int, default=gen.N_CLASSES)
    ph.add_argument("--frameworks", action="store_true", help="import Flask, SQLAlchemy, pydantic")
    ph.add_argument("--edit", choices=("all", "one"), default="all", help="every body, or one")
    mm = sub.add_parser("manymods")
    mm.add_argument("--count", type=int, default=10_000)
    mm.add_argument("--reloads", type=int, default=11)
    mm.add_argument("--functions", type=int, default=gen.N_FUNCTIONS)
    mm.add_argument("--classes", type=int, default=gen.N_CLASSES)
    sc = sub.add_parser("switchcost")
    sc.add_argument("--intervals", default="0.005,0.0005,0.0002,0.0001")
    sc.add_argument("--threads", type=int, default=2)
    sc.add_argument("--rounds", type=int, default=6)
    sc.add_argument("--window", type=float, default=1.5)
    fleet.add_parser(sub)
    args = p.parse_args(argv)
    {
        "reload": cell_reload,
        "app": cell_app,
        "latency": cell_latency,
        "host": cell_host,
        "modified": cell_modified,
        "memory": cell_memory,
        "profile": cell_profile,
        "phases": cell_phases,
        "switchcost": cell_switch_cost,
        "manymods": cell_manymods,
        "fleet": fleet.cell_fleet,
    }[args.kind](args)


if __name__ == "__main__":
    main()
