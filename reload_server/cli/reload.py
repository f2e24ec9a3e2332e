"""``python -m reload_server reload``: ask the project's running servers to reload.

    python -m reload_server reload [options] FILE...
    python -m reload_server reload --stale [--root DIR] [options]
    python -m reload_server reload --celery MODULE:APP [--timeout S] FILE...

Finds the servers through their discovery files (or takes ``--port``) and asks
one of them over LSP — the oldest server (the parent of forked workers,
gunicorn's master), which reloads every process of the project in
two phases, all or nothing (``--pid`` asks one process for itself only) — prints the outcome like a compiler (``file:line:col: error:
message``, the words from :mod:`reload_server.core.report`) and exits 0, 1 if
a reload failed, 2 if a server could not be asked or the command was wrong.
With ``--celery`` it asks no server: it imports the Celery app and reloads the
files' modules in every worker of it, all or nothing, through Celery's remote
control (:mod:`reload_server.engines.celery`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..core import report
from ..wire.addresses import ENV_TOKEN

CLIENT_NAME = "reload_server-cli"


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--celery",
        metavar="MODULE:APP",
        help="reload every worker of this Celery app instead (all or nothing; "
        "--timeout is each worker's deadline)",
    )
    return parser


def reload_command(argv: list[str]) -> int:
    """``python -m reload_server reload``: 0 unless a reload failed (1) or the server could not be asked (2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.stale == bool(args.files):
        parser.error("give FILE... or --stale (not both)")
    if args.root and not args.stale:
        parser.error("--root goes with --stale")
    if args.celery:
        if args.stale or args.port is not None or args.pid is not None:
            parser.error("--celery takes FILE... only (no --stale, --port or --pid)")
        return _reload_celery(args.celery, args.files, args.timeout, args.json)
    mappings = []
    for item in args.path_mapping:
        local, sep, remote = item.partition("=")
        if not sep or not local or not remote:
            parser.error(f"--path-mapping wants LOCAL=REMOTE, not {item!r}")
        mappings.append({"localRoot": os.path.abspath(local), "remoteRoot": remote})

    where = args.files[0] if args.files else (args.root or os.getcwd())
    found = _targets(args, where)
    if isinstance(found, int):
        return found
    targets, forwarded = found
    missing = [f for f in args.files if not os.path.exists(f)]
    if missing:
        # Not "nothing to reload" (exit 0): a mistyped path must not pass for a reload.
        which = "file does not exist" if len(missing) == 1 else "files do not exist"
        return _fail(f"{which}: {', '.join(missing)}")

    options: dict[str, Any] = {"clientName": CLIENT_NAME}
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

    return _reload_one(targets[0], requests, options, args.timeout, args.json)


def _targets(args: argparse.Namespace, where: str) -> tuple[list[Any], bool] | int:
    """The server to ask (one), and whether it is asked for itself only; or an exit code."""
    from ..wire import discovery

    entries = discovery.find(where)
    if args.port is not None:
        # One server, named by its port: it forwards to its sibling processes itself.
        host = args.host or "127.0.0.1"
        port = args.port
        match = next((e for e in entries if e.port == port), None)
        token = args.token or os.environ.get(ENV_TOKEN) or (match.token if match else None)
        return [
            discovery.Entry("", match.pid if match else 0, host, port, token, None, 0, {})
        ], False
    if not entries:
        if args.pid is not None:
            return _fail(f"no reload server with pid {args.pid} for {os.path.abspath(where)}")
        return _fail(
            f"no running reload server found for {os.path.abspath(where)} "
            "(start the app with `python -m reload_server app.py`, or pass --port)"
        )
    # The project's processes: the one --pid names, asked for itself; else the
    # oldest, which coordinates every process's part of the reload.
    root = _project_root(entries, where)
    targets = sorted(discovery.same_project(entries, root), key=lambda e: (e.started, e.pid))
    if args.pid is not None:
        targets = [e for e in targets if e.pid == args.pid]
        if not targets:
            pids = ", ".join(str(e.pid) for e in entries)
            return _fail(f"no reload server with pid {args.pid} for {root} (live: {pids})")
    else:
        targets = targets[:1]
    if args.host or args.token:
        targets = [
            discovery.Entry(
                e.path, e.pid, args.host or e.host, e.port, args.token or e.token, e.root, 0, {}
            )
            for e in targets
        ]
    return targets, args.pid is not None


def _project_root(entries: list[Any], where: str) -> str | None:
    """The project whose processes a command is for: the root holding ``where``, else the newest."""
    here = os.path.abspath(where)
    for entry in entries:
        root = entry.root and os.path.abspath(entry.root)
        if root and (here == root or here.startswith(root.rstrip(os.sep) + os.sep)):
            return root
    return entries[0].root


def _reload_one(
    target: Any,
    requests: list[tuple[str, dict[str, Any]]],
    options: dict[str, Any],
    timeout: float,
    as_json: bool,
) -> int:
    """Ask one server (which may forward to its siblings); 1 if a reload failed."""
    from ..wire.client import LspClient, RpcError

    if target.token:
        options = {**options, "token": target.token}
    try:
        with LspClient(target.host, target.port, timeout=timeout) as client:
            client.initialize(options)
            outcomes = [client.request(method, params) for method, params in requests]
    except RpcError as exc:
        return _fail(exc.message)
    except (OSError, TimeoutError, ValueError) as exc:
        return _fail(f"cannot talk to the reload server at {target.host}:{target.port}: {exc}")
    failed = False
    for outcome in outcomes:
        if as_json:
            print(json.dumps(outcome))
        else:
            for line in report.compiler_lines(outcome, _shown):
                print(line)
        failed = failed or outcome.get("status") == "failed"
    return 1 if failed else 0


def _reload_celery(spec: str, files: list[str], deadline: float, as_json: bool) -> int:
    """Reload ``files`` in every worker of the Celery app ``spec``; print one line per worker."""
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        return _fail(f"file does not exist: {', '.join(missing)}")
    try:
        app = _celery_app(spec)
    except Exception as exc:  # noqa: BLE001 - any failure to import the app is the command's
        return _fail(f"cannot load the Celery app {spec}: {type(exc).__name__}: {exc}")
    from ..core.results import ReloadError
    from ..engines import celery as engine

    try:
        names = _module_names(files)
        outcome = engine.reimport(app, *names, deadline=deadline, here=False).to_dict()
    except ReloadError as error:
        outcome = error.to_dict()
    items = outcome.pop("processes", [])
    if outcome["status"] != "failed":
        if not items:
            return _fail(f"no worker of {spec} answered")
        modules = sorted({m for item in items for m in item["modules"]})
        outcome["message"] = (
            f"reloaded {', '.join(modules)} in {len(items)} workers"
            if modules
            else "nothing to reload"
        )
    if as_json:
        print(json.dumps({**outcome, "processes": items}))
    else:
        for line in report.compiler_lines(outcome, _shown):
            print(line)
        for item in items:
            print(report.process_line(item))
        print(f"{len(items)} workers: {report.tally(items)}")
    return 1 if outcome["status"] == "failed" else 0


def _module_names(files: list[str]) -> list[str]:
    """Each file's module: the loaded module's name, else the name ``sys.path`` gives it.

    The workers may have loaded modules this process has not: a fleet reload
    names them, and the workers find their own files.
    """
    from ..core import targets
    from ..core.results import ReloadError

    names: list[str] = []
    for file in files:
        loaded = targets.modules_for_file(file)
        if loaded:
            names.append(loaded[0])
            continue
        path = os.path.realpath(file)
        roots = [os.path.realpath(entry or os.getcwd()) for entry in sys.path]
        holding = [r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)]
        if not holding or not path.endswith(".py"):
            raise ReloadError(f"{file} is not a module on sys.path", phase="resolve", files=(file,))
        parts = os.path.relpath(path[:-3], max(holding, key=len)).split(os.sep)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _celery_app(spec: str) -> Any:
    """The app ``MODULE:ATTR`` names (``MODULE`` alone: its ``app``), imported as ``celery -A`` does."""
    import importlib

    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    app = getattr(importlib.import_module(module_name), attr or "app")
    if not hasattr(app, "control"):
        raise TypeError(f"{spec} is not a Celery app")
    return app


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
