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

LAUNCH_USAGE = """\
usage: python -m reload_server [--listen [HOST:]PORT] [--token TOKEN] [--allow-remote]
                               [--root DIR]... [--no-discovery] (FILE | -m MODULE) [ARGS...]
       python -m reload_server reload [--stale] [--root DIR] [--force] [--port PORT]
                               [--host HOST] [--token TOKEN] [FILE...]

Run a Python program with the reload server embedded.

options:
  --listen [HOST:]PORT  where to listen (default: $RELOAD_SERVER_LISTEN, else a free
                        port on 127.0.0.1; editors find it through the discovery file)
  --token TOKEN         access token clients must send (default: $RELOAD_SERVER_TOKEN)
  --allow-remote        allow a non-loopback HOST (requires --token)
  --root DIR            only reload files under DIR (repeatable)
  --no-discovery        do not write the discovery file
  -m MODULE             run a module or package as __main__, like python -m
"""

ENV_LISTEN = "RELOAD_SERVER_LISTEN"
ENV_TOKEN = "RELOAD_SERVER_TOKEN"


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
    from reload_server.server.control import parse_address

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
    _exit_on_sigterm()
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sys.stderr.write(f"reload_server: listening on {shown} (pid {os.getpid()})\n")
    sys.stderr.flush()

    if opts.program is not None:
        runpy.run_path(opts.program, run_name="__main__")
    else:
        runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
    return 0


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

    from reload_server import discovery
    from reload_server.server.client import LspClient, RpcError

    where = args.files[0] if args.files else (args.root or os.getcwd())
    entries = discovery.find(where)
    if args.port is not None:
        host = args.host or "127.0.0.1"
        port = args.port
        match = next((e for e in entries if e.port == port), None)
        token = args.token or os.environ.get(ENV_TOKEN) or (match.token if match else None)
    elif entries:
        entry = entries[0]
        host, port = args.host or entry.host, entry.port
        token = args.token or entry.token
    else:
        return _fail(
            f"no running reload server found for {os.path.abspath(where)} "
            "(start the app with `python -m reload_server app.py`, or pass --port)"
        )

    options: dict[str, Any] = {"clientName": "reload_server-cli"}
    if token:
        options["token"] = token
    if mappings:
        options["pathMappings"] = mappings
    failed = False
    try:
        with LspClient(host, port, timeout=args.timeout) as client:
            client.initialize(options)
            if args.stale:
                params = {"root": os.path.abspath(args.root)} if args.root else {}
                outcomes = [client.request("reloadStale", params)]
            else:
                outcomes = [
                    client.request("reloadPath", {"path": os.path.abspath(f), "force": args.force})
                    for f in args.files
                ]
    except RpcError as exc:
        return _fail(exc.message)
    except (OSError, TimeoutError, ValueError) as exc:
        return _fail(f"cannot talk to the reload server at {host}:{port}: {exc}")
    for outcome in outcomes:
        if args.json:
            print(json.dumps(outcome))
        else:
            print_outcome(outcome, sys.stdout)
        failed = failed or outcome.get("status") == "failed"
    return 1 if failed else 0


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


if __name__ == "__main__":
    sys.exit(main())
