"""Command line: run a program with the reload server embedded, or ask a server to reload.

    python -m reload_server [--listen [HOST:]PORT] [options] app.py [args...]
    python -m reload_server [--listen [HOST:]PORT] [options] -m package [args...]
    python -m reload_server reload [options] FILE...
    python -m reload_server reload --stale [--root DIR] [options]

The first form is a launcher, like ``python -m debugpy``: it starts the server,
then runs the program as ``__main__`` with ``sys.argv`` set as if it had been run
directly.  The second is a client that finds the server through its discovery
file (or ``--port``), asks it to reload over LSP, prints the outcome like a
compiler (``file:line:col: error: message``) and exits 1 if the reload failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn, TextIO

from ..wire.addresses import ENV_LISTEN, ENV_TOKEN, parse_address

LAUNCH_USAGE = """\
usage: python -m reload_server [--listen [HOST:]PORT] [--token TOKEN] [--allow-remote]
                               [--root DIR]... [--no-discovery] [--watch [DIR]]...
                               (FILE | -m MODULE) [ARGS...]
       python -m reload_server reload [--stale] [--root DIR] [--force] [--port PORT]
                               [--pid PID] [--host HOST] [--token TOKEN] [FILE...]

Run a Python program with the reload server embedded.

options:
  --listen [HOST:]PORT  where to listen (default: $RELOAD_SERVER_LISTEN, else a free
                        port on 127.0.0.1; editors find it through the discovery file)
  --token TOKEN         access token clients must send (default: $RELOAD_SERVER_TOKEN)
  --allow-remote        allow a non-loopback HOST (requires --token)
  --root DIR            only reload files under DIR (repeatable)
  --no-discovery        do not write the discovery file
  --watch [DIR]         reload changed modules on save, no editor needed; watches DIR
                        (repeatable; default: the project root, i.e. the working
                        directory). Without --listen (or $RELOAD_SERVER_LISTEN) no
                        server is started
  -m MODULE             run a module or package as __main__, like python -m
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reload"]:
        return reload_command(argv[1:])
    return launch(argv)


# -- the launcher ----------------------------------------------------------------


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(LAUNCH_USAGE)
    sys.stderr.write(f"python -m reload_server: error: {message}\n")
    raise SystemExit(2)


class LaunchOptions:
    def __init__(self) -> None:
        self.listen: str | None = None
        self.token: str | None = None
        self.allow_remote = False
        self.roots: list[str] = []
        self.discovery = True
        self.watch: list[str] | None = None  # None: no --watch; []: the project root
        self.program: str | None = None
        self.module: str | None = None
        self.args: list[str] = []


def parse_launch(argv: list[str]) -> LaunchOptions:
    """Switches up to the program (or ``-m MODULE``); everything after belongs to it."""
    opts = LaunchOptions()
    i = 0

    def value(name: str) -> str:
        nonlocal i
        if i + 1 >= len(argv):
            _usage_error(f"{name} needs a value")
        i += 2
        return argv[i - 1]

    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            sys.stdout.write(LAUNCH_USAGE)
            raise SystemExit(0)
        if arg.startswith("--") and "=" in arg:
            name, _, val = arg.partition("=")
            if name == "--watch":
                opts.watch = [*(opts.watch or []), val]
                i += 1
                continue
            argv[i : i + 1] = [name, val]
            continue
        if arg == "--listen":
            opts.listen = value(arg)
        elif arg == "--token":
            opts.token = value(arg)
        elif arg == "--root":
            opts.roots.append(value(arg))
        elif arg == "--allow-remote":
            opts.allow_remote = True
            i += 1
        elif arg == "--no-discovery":
            opts.discovery = False
            i += 1
        elif arg == "--watch":
            # An optional value: the next argument when it is a directory and a
            # program still follows (``--watch app.py`` watches the default).
            opts.watch = opts.watch or []
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is not None and i + 2 < len(argv) and os.path.isdir(nxt):
                opts.watch.append(nxt)
                i += 2
            else:
                i += 1
        elif arg == "-m":
            opts.module = value(arg)
            opts.args = argv[i:]
            return opts
        elif arg == "--":
            if i + 1 >= len(argv):
                _usage_error("no program after --")
            opts.program, opts.args = argv[i + 1], argv[i + 2 :]
            return opts
        elif arg.startswith("-"):
            _usage_error(f"unknown option {arg}")
        else:
            opts.program, opts.args = arg, argv[i + 1 :]
            return opts
    _usage_error("no program to run: give a script or -m MODULE")


def launch(argv: list[str]) -> int:
    """Start the server, then run the program as ``__main__`` in this process."""
    import runpy

    opts = parse_launch(argv)
    # Read and drop the variables: a child process of the app must not try to
    # serve on the same port.
    env_listen = os.environ.pop(ENV_LISTEN, None)
    env_token = os.environ.pop(ENV_TOKEN, None)
    listen = opts.listen or env_listen or "127.0.0.1:0"
    token = opts.token or env_token or None
    # With --watch alone no editor is expected: serve only when asked to listen.
    serving = opts.watch is None or bool(opts.listen or env_listen)

    if opts.program is not None:
        program = opts.program
        if not os.path.exists(program):
            _usage_error(f"can't open file {program!r}: no such file")
        sys.argv = [program, *opts.args]
        # As `python app.py` does: the script's directory comes first on sys.path.
        sys.path[0] = os.path.dirname(os.path.abspath(program))
    else:
        assert opts.module is not None
        # runpy replaces argv[0] with the module's file, as `python -m` does.
        sys.argv = [opts.module, *opts.args]

    import reload_server

    if opts.watch is not None:
        from ..wire.discovery import root_dir

        watched = [os.path.abspath(d) for d in opts.watch] or [root_dir()]
        missing = [d for d in watched if not os.path.isdir(d)]
        if missing:
            _usage_error(f"--watch: no such directory: {', '.join(missing)}")
    if serving:
        try:
            host, port = reload_server.serve(
                parse_address(listen),
                token=token,
                allow_remote=opts.allow_remote,
                roots=opts.roots or None,
                discovery=opts.discovery,
            )
        except (OSError, ValueError, TypeError) as exc:
            sys.stderr.write(f"reload_server: cannot listen on {listen}: {exc}\n")
            return 2
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        sys.stderr.write(f"reload_server: listening on {shown} (pid {os.getpid()})\n")
    _exit_on_sigterm()
    if opts.watch is not None:
        _start_watching(watched)
        sys.stderr.write(f"reload_server: watching {', '.join(watched)} (pid {os.getpid()})\n")
    sys.stderr.flush()

    if opts.program is not None:
        runpy.run_path(opts.program, run_name="__main__")
    else:
        runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
    return 0


def _start_watching(paths: list[str]) -> None:
    """``--watch``: reload changed modules in this process, and in every forked child.

    One line per reload or rollback on stderr; a forked child's lines name its
    pid.  A child of ``fork()`` has no watcher thread, so it starts its own.
    """
    import reload_server

    from ..runtime.watcher import describe

    launcher_pid = os.getpid()

    def on_reload(outcome: Any) -> None:
        line = describe(outcome)
        if os.getpid() != launcher_pid:
            line = line.replace("reload_server:", f"reload_server: [pid {os.getpid()}]", 1)
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def start() -> None:
        reload_server.watch(paths, on_reload=on_reload)

    def start_in_child() -> None:
        from ..server.control import about_to_exec

        if about_to_exec():
            return
        try:
            start()
        except Exception as exc:  # noqa: BLE001 - a fork hook must not raise; the child goes on
            sys.stderr.write(f"reload_server: [pid {os.getpid()}] cannot watch: {exc}\n")

    start()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=start_in_child)


def _exit_on_sigterm() -> None:
    """Make ``kill PID`` a normal exit, so atexit stops the server and removes its discovery file.

    The launcher owns the process, so it may; a program that installs its own
    SIGTERM handler replaces this one.  The exit status stays the conventional 143.
    """
    import signal

    if not hasattr(signal, "SIGTERM") or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)


# -- the client ------------------------------------------------------------------


def reload_command(argv: list[str]) -> int:
    """``python -m reload_server reload``: 0 unless a reload failed (1) or the server could not be asked (2)."""
    parser = argparse.ArgumentParser(
        prog="python -m reload_server reload",
        description="Ask a running app's reload server to reload files (or every changed module).",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="source files of loaded modules")
    parser.add_argument("--stale", action="store_true", help="reload every module changed on disk")
    parser.add_argument("--root", help="with --stale: only modules under this directory")
    parser.add_argument("--force", action="store_true", help="reload even if unchanged on disk")
    parser.add_argument(
        "--host", help="server host (default: from the discovery file, else 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, help="server port (default: from the discovery file)")
    parser.add_argument(
        "--pid",
        type=int,
        help="only the process with this pid (default: every process of the project)",
    )
    parser.add_argument(
        "--token", help="access token (default: from the discovery file or $RELOAD_SERVER_TOKEN)"
    )
    parser.add_argument(
        "--path-mapping",
        action="append",
        default=[],
        metavar="LOCAL=REMOTE",
        help="map a local directory to the app's (repeatable), as debugpy's pathMappings",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the server"
    )
    parser.add_argument("--json", action="store_true", help="print each ReloadOutcome as JSON")
    args = parser.parse_args(argv)
    if args.stale == bool(args.files):
        parser.error("give FILE... or --stale (not both)")
    if args.root and not args.stale:
        parser.error("--root goes with --stale")
    mappings = []
    for item in args.path_mapping:
        local, sep, remote = item.partition("=")
        if not sep or not local or not remote:
            parser.error(f"--path-mapping wants LOCAL=REMOTE, not {item!r}")
        mappings.append({"localRoot": os.path.abspath(local), "remoteRoot": remote})

    from ..wire import discovery
    from ..wire.client import LspClient, RpcError

    where = args.files[0] if args.files else (args.root or os.getcwd())
    entries = discovery.find(where)
    if args.port is not None:
        # One server, named by its port: it forwards to its sibling processes itself.
        host = args.host or "127.0.0.1"
        port = args.port
        match = next((e for e in entries if e.port == port), None)
        token = args.token or os.environ.get(ENV_TOKEN) or (match.token if match else None)
        targets = [discovery.Entry("", match.pid if match else 0, host, port, token, None, 0, {})]
        forwarded = False
    elif entries:
        # Every process of the project (or the one --pid names), each asked for itself.
        root = _project_root(entries, where)
        targets = sorted(discovery.same_project(entries, root), key=lambda e: e.pid)
        if args.pid is not None:
            targets = [e for e in targets if e.pid == args.pid]
            if not targets:
                pids = ", ".join(str(e.pid) for e in entries)
                return _fail(f"no reload server with pid {args.pid} for {root} (live: {pids})")
        if args.host or args.token:
            targets = [
                discovery.Entry(
                    e.path, e.pid, args.host or e.host, e.port, args.token or e.token, e.root, 0, {}
                )
                for e in targets
            ]
        forwarded = True
    else:
        if args.pid is not None:
            return _fail(f"no reload server with pid {args.pid} for {os.path.abspath(where)}")
        return _fail(
            f"no running reload server found for {os.path.abspath(where)} "
            "(start the app with `python -m reload_server app.py`, or pass --port)"
        )

    options: dict[str, Any] = {"clientName": "reload_server-cli"}
    if mappings:
        options["pathMappings"] = mappings
    if args.stale:
        requests = [("reloadStale", {"root": os.path.abspath(args.root)} if args.root else {})]
    else:
        requests = [
            ("reloadPath", {"path": os.path.abspath(f), "force": args.force}) for f in args.files
        ]
    if forwarded:
        requests = [(method, {**params, "forwarded": True}) for method, params in requests]

    if len(targets) == 1:
        target = targets[0]
        if target.token:
            options["token"] = target.token
        try:
            with LspClient(target.host, target.port, timeout=args.timeout) as client:
                client.initialize(options)
                outcomes = [client.request(method, params) for method, params in requests]
        except RpcError as exc:
            return _fail(exc.message)
        except (OSError, TimeoutError, ValueError) as exc:
            return _fail(f"cannot talk to the reload server at {target.host}:{target.port}: {exc}")
        failed = False
        for outcome in outcomes:
            if args.json:
                print(json.dumps(outcome))
            else:
                print_outcome(outcome, sys.stdout)
            failed = failed or outcome.get("status") == "failed"
        return 1 if failed else 0
    return _reload_each(targets, requests, options, args.timeout, args.json)


def _project_root(entries: list[Any], where: str) -> str | None:
    """The project whose processes a command is for: the root holding ``where``, else the newest."""
    here = os.path.abspath(where)
    for entry in entries:
        root = entry.root and os.path.abspath(entry.root)
        if root and (here == root or here.startswith(root.rstrip(os.sep) + os.sep)):
            return root
    return entries[0].root


def _reload_each(
    targets: list[Any],
    requests: list[tuple[str, dict[str, Any]]],
    options: dict[str, Any],
    timeout: float,
    as_json: bool,
) -> int:
    """Ask every process at once; print per process; 1 if any failed, 2 if any could not be asked."""
    from concurrent.futures import ThreadPoolExecutor

    from ..wire.forwarding import ask, process_item

    def one(target: Any) -> list[dict[str, Any]] | None:
        results = []
        for method, params in requests:
            outcome = ask(
                target,
                method,
                params,
                timeout=timeout,
                options=options,
                client_name="reload_server-cli",
            )
            if outcome is None:
                return None  # the process has exited meanwhile: no longer one of the project's
            results.append(outcome)
        return results

    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        answers = list(pool.map(one, targets))
    per_process = [(t.pid, a) for t, a in zip(targets, answers) if a is not None]
    items = []
    seen_notes: set[str] = set()
    for pid, outcomes in per_process:
        for outcome in outcomes:
            if as_json:
                print(json.dumps({"pid": pid, **outcome}))
                items.append(outcome)
                continue
            for note in outcome.get("notes", []):
                lines = (
                    format_note(note)
                    + "\n"
                    + "".join(
                        f"{_shown(f['file'])}:{f['line']}: note: in {f['name']}\n"
                        for f in note.get("frames", [])
                    )
                )
                # The same error in every worker is one error: print it once.
                if lines not in seen_notes:
                    seen_notes.add(lines)
                    sys.stdout.write(lines)
            items.append(process_item(pid, outcome))
    if not as_json:
        for item in items:
            sys.stdout.write(f"pid {item['pid']}: {_summary(item)}\n")
        counts: dict[str, int] = {}
        for item in items:
            counts[item["status"]] = counts.get(item["status"], 0) + 1
        tally = ", ".join(f"{n} {status}" for status, n in counts.items())
        sys.stdout.write(f"{len(per_process)} processes: {tally}\n")
    statuses = {item.get("status") for item in items}
    if "failed" in statuses:
        return 1
    return 2 if "error" in statuses else 0


def _summary(item: dict[str, Any]) -> str:
    if item["status"] == "failed":
        return f"reload failed: {item['message']}"
    if item["status"] == "error":
        return f"error: {item['message']}"
    return item["message"] or item["status"]


def _fail(message: str) -> int:
    sys.stderr.write(f"reload_server: error: {message}\n")
    return 2


def _shown(path: str) -> str:
    """A path as a compiler would print it: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


def format_note(note: dict[str, Any]) -> str:
    """``file:line:col: severity: message``, leaving out what is not known."""
    where = "reload_server"
    if note.get("file"):
        where = _shown(note["file"])
        if note.get("line"):
            where += f":{note['line']}"
            if note.get("column"):
                where += f":{note['column']}"
    return f"{where}: {note.get('severity', 'error')}: {note.get('message', '')}"


def print_outcome(outcome: dict[str, Any], out: TextIO) -> None:
    """Notes first, compiler style (with traceback frames as ``note:`` lines), then one summary line."""
    for note in outcome.get("notes", []):
        out.write(format_note(note) + "\n")
        for frame in note.get("frames", []):
            out.write(f"{_shown(frame['file'])}:{frame['line']}: note: in {frame['name']}\n")
    if outcome.get("status") == "failed":
        phase = outcome.get("phase", "?")
        out.write(f"reload failed ({phase}): {outcome.get('message', '')}\n")
    else:
        out.write(f"{outcome.get('message', outcome.get('status', ''))}\n")
    processes = outcome.get("processes") or []
    if len(processes) > 1:
        # The server forwarded the request to the project's other processes.
        for item in processes:
            out.write(f"pid {item['pid']}: {_summary(item)}\n")
