"""The launcher: serve (or ``--watch``) in this process, then run the program as ``__main__``.

    python -m reload_server [--listen [HOST:]PORT] [options] app.py [args...]
    python -m reload_server [--listen [HOST:]PORT] [options] -m package [args...]

Like ``python -m debugpy``: the switches come from a table, and ``sys.argv`` is
set as if the program had been run directly.  Parsed by hand rather than with
argparse because parsing must stop at the program: everything after its name
belongs to it, even what looks like one of our switches (argparse's
``REMAINDER`` does not stop reliably, and it cannot take ``-m MODULE`` as the end).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from ..core import report
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


class LaunchOptions:
    """What the switches asked for, and the program with its own arguments."""

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


# What a switch takes after it.
FLAG = "flag"
VALUE = "value"  # the next argument, always
OPTIONAL_DIR = "optional dir"  # the next argument when it is a directory and a program follows

Apply = Callable[[LaunchOptions, Any], None]


def _set(field: str) -> Apply:
    return lambda opts, value: setattr(opts, field, value)


def _const(field: str, const: object) -> Apply:
    return lambda opts, value: setattr(opts, field, const)


def _add_root(opts: LaunchOptions, value: str) -> None:
    opts.roots.append(value)


def _add_watch(opts: LaunchOptions, value: str | None) -> None:
    # No value: watch the project root (an empty list says so).
    opts.watch = [*(opts.watch or []), *([] if value is None else [value])]


SWITCHES: dict[str, tuple[str, Apply]] = {
    "--listen": (VALUE, _set("listen")),
    "--token": (VALUE, _set("token")),
    "--allow-remote": (FLAG, _const("allow_remote", True)),
    "--root": (VALUE, _add_root),
    "--no-discovery": (FLAG, _const("discovery", False)),
    "--watch": (OPTIONAL_DIR, _add_watch),
}


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(LAUNCH_USAGE)
    sys.stderr.write(f"python -m reload_server: error: {message}\n")
    raise SystemExit(2)


def parse_launch(argv: list[str]) -> LaunchOptions:
    """Switches up to the program (or ``-m MODULE``); everything after belongs to it."""
    opts = LaunchOptions()
    argv = list(argv)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            sys.stdout.write(LAUNCH_USAGE)
            raise SystemExit(0)
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            if name in SWITCHES and SWITCHES[name][0] == OPTIONAL_DIR:
                # ``--watch=DIR`` names its value: taken whatever it is.
                SWITCHES[name][1](opts, value)
                i += 1
            else:
                argv[i : i + 1] = [name, value]
            continue
        if arg == "-m":
            if i + 1 >= len(argv):
                _usage_error("-m needs a value")
            opts.module, opts.args = argv[i + 1], argv[i + 2 :]
            return opts
        if arg == "--":
            if i + 1 >= len(argv):
                _usage_error("no program after --")
            opts.program, opts.args = argv[i + 1], argv[i + 2 :]
            return opts
        if arg in SWITCHES:
            takes, apply = SWITCHES[arg]
            if takes == FLAG:
                apply(opts, None)
                i += 1
            elif takes == VALUE:
                if i + 1 >= len(argv):
                    _usage_error(f"{arg} needs a value")
                apply(opts, argv[i + 1])
                i += 2
            else:
                # ``--watch app.py`` watches the default: a value must be a
                # directory, and a program must still follow it.
                nxt = argv[i + 1] if i + 2 < len(argv) else None
                if nxt is not None and os.path.isdir(nxt):
                    apply(opts, nxt)
                    i += 2
                else:
                    apply(opts, None)
                    i += 1
            continue
        if arg.startswith("-"):
            _usage_error(f"unknown option {arg}")
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

    if opts.watch is not None:
        from ..wire.discovery import root_dir

        watched = [os.path.abspath(d) for d in opts.watch] or [root_dir()]
        missing = [d for d in watched if not os.path.isdir(d)]
        if missing:
            _usage_error(f"--watch: no such directory: {', '.join(missing)}")
    if serving:
        from ..server.control import serve

        try:
            host, port = serve(
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
    from ..runtime.watcher import watch

    launcher_pid = os.getpid()

    def on_reload(outcome: Any) -> None:
        line = report.watch_line(outcome)
        if os.getpid() != launcher_pid:
            line = line.replace("reload_server:", f"reload_server: [pid {os.getpid()}]", 1)
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def start() -> None:
        watch(paths, on_reload=on_reload)

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
