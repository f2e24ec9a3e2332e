"""``serve()`` and ``stop()``: the server's lifetime, seen from the app's thread.

Only this module runs on the caller's thread, and it imports nothing heavy: it
binds the listening socket (so ``serve()`` returns the real port, or raises the
real bind error, in about a millisecond) and hands it to the server thread,
which imports pygls and lsprotocol (about 0.5 s of CPU) and the reimporter
itself and then starts accepting.  Nothing else makes the caller wait.
"""

from __future__ import annotations

import atexit
import os
import threading

from ..core.log import log
from ..runtime import runner_kind
from ..runtime.debuggers import hide_from_debuggers
from ..wire.addresses import ENV_LISTEN, ENV_TOKEN, is_loopback, parse_address
from . import forking
from .forking import about_to_exec  # noqa: F401 - the launcher's fork hook imports it from here

TYPE_CHECKING = False  # typing itself would cost the host milliseconds
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

# Generous: the first import of pygls on a cold disk can take seconds.
START_TIMEOUT = 60.0
# How long a fork may wait for the server thread's start-up imports.
FORK_WAIT = 15.0


class _Running:
    """The one server of this process."""

    def __init__(
        self,
        thread: threading.Thread | None,
        address: tuple[str, int],
        fd: int,
        options: dict[str, Any],
    ) -> None:
        self.thread = thread
        self.address = address
        self.stop: Any = None  # set once the server thread serves
        self.listener_fd = fd
        # What a forked child must disown; the server thread fills it in as it runs.
        self.handles = forking.ServerHandles(fd)
        self.options = options  # what serve() was called with, for a forked child
        self.pid = os.getpid()
        self.discovery_file: str | None = None
        # Set once the server thread serves (stop is then callable) or gave up.
        self.started = threading.Event()


_lock = threading.Lock()
_running: _Running | None = None
_atexit_registered = False
# Server state a forked child inherited from its parent.  Kept referenced for the
# child's whole life: its objects wrap kernel resources the parent still uses, so
# no finalizer of theirs may ever run them (see forking.disown).
_inherited: list[_Running] = []


def serve(
    address: int | tuple[str, int] = 0,
    *,
    token: str | None = None,
    allow_remote: bool = False,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    runner: Any = "thread",
    discovery: bool = True,
    switch_interval: float | None = 0.0005,
) -> tuple[str, int]:
    """Start the reload server on a background thread and return ``(host, port)``.

    ``address`` is a port or ``(host, port)``; port 0 picks a free one; the host
    defaults to 127.0.0.1.  Binding a non-loopback host needs
    ``allow_remote=True`` and a ``token``.  ``roots`` restricts which files
    ``reloadPath`` may reload.  ``runner`` says where reloads run: ``"thread"``
    (the default, under the reload lock), an asyncio event loop owned by the
    app, or ``"poll"`` (queued until the app calls :func:`reload_server.poll`).
    ``switch_interval`` (seconds, 0.5 ms by default) is the GIL switch
    interval kept while an editor is connected (never raised: a shorter one of
    the app's stays), so that the server answers within a few milliseconds
    even while app threads keep the CPU busy; the app's own value comes back
    when the last editor disconnects, and ``None`` leaves it alone.  Returns at
    once.

    Raises ``ValueError``/``TypeError`` for bad arguments (a non-loopback host
    without ``allow_remote=True`` and a token among them), ``OSError`` when the
    address cannot be bound, and ``RuntimeError`` if a server already runs.
    """
    global _running, _atexit_registered
    host, port = parse_address(address)
    if token is not None and (not isinstance(token, str) or not token):
        raise ValueError("token must be a non-empty string")
    if not is_loopback(host) and not (allow_remote and token):
        raise ValueError(
            f"refusing to listen on non-loopback host {host!r}: anyone who can reach it could run "
            "code in this process; pass allow_remote=True and a token to accept that"
        )
    if switch_interval is not None and (
        isinstance(switch_interval, bool)
        or not isinstance(switch_interval, (int, float))
        or not 0 < switch_interval <= 1
    ):
        raise ValueError("switch_interval must be None or seconds in (0, 1]")
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    if roots is not None:
        # Resolved now, against this working directory: a forked child reuses them.
        roots = [os.path.abspath(os.fspath(r)) for r in roots]
    options = {
        "host": host,
        "port": port,
        "token": token,
        "allow_remote": allow_remote,
        "roots": roots,
        "runner": runner,
        "discovery": discovery,
        "switch_interval": switch_interval,
    }

    runner_kind.kind(runner)  # a bad runner= fails here, on the caller's thread

    with _lock:
        if _running is not None and _running.pid == os.getpid() and _running.thread.is_alive():
            h, p = _running.address
            raise RuntimeError(f"the reload server already runs on {h}:{p}; call stop() first")
        from .binding import bind

        # Bound here, on the caller's thread (the standard library only): serve()
        # returns the real port, or raises the real bind error, at once.  Clients
        # that connect while the server thread still imports pygls wait in the
        # listen backlog.
        sock = bind(host, port)
        bound = sock.getsockname()[:2]
        state = _Running(None, (bound[0], bound[1]), sock.fileno(), options)

        def on_started(info: Any) -> None:
            # Called on the server thread while its loop runs.
            state.stop = info.stop
            state.started.set()

        def on_failed(exc: BaseException) -> None:
            log.error("reload server: could not start: %s", exc)
            state.started.set()

        def main() -> None:
            # Wait until serve() is about to return: the imports below hold the
            # GIL for long stretches (loading lsprotocol.types) and would hold up
            # the caller's last steps.
            go.wait(START_TIMEOUT)
            run = None
            try:
                # The runner and the roots are made here too: their modules
                # (concurrent.futures, re, urllib) would cost the caller time.
                from ..runtime.runners import make_runner
                from .paths import Roots

                run = make_runner(runner)
                # pygls and lsprotocol are imported here, on this thread, never the caller's;
                # so is the reimporter, so that the first reload does not pay for it.
                from ..core import transaction  # noqa: F401
                from .listener import Config
                from .listener import run as run_listener

                config = Config(
                    token=token,
                    roots=Roots(roots),
                    runner=run,
                    sock=sock,
                    switch_interval=switch_interval,
                    discovery_file=state.discovery_file,
                    handles=state.handles,
                )
                run_listener(config, on_started, on_failed)
            except BaseException as exc:
                if not state.started.is_set():
                    if run is not None:
                        run.close()
                    sock.close()
                    on_failed(exc)
                else:
                    log.exception("the reload server thread crashed")

        if discovery:
            from ..wire import discovery as disco

            try:
                state.discovery_file = disco.write(bound[0], bound[1], token)
            except OSError as exc:
                # Clients can still be given the port; an unwritable directory must not break the app.
                log.warning("reload server: could not write the discovery file: %s", exc)
        if not _atexit_registered:
            atexit.register(_stop_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
            _atexit_registered = True
        # Daemon: interpreter shutdown must not wait for it before atexit stops it.
        thread = threading.Thread(target=main, name="reload_server", daemon=True)
        # A debugger paused at a breakpoint must leave the server running: saves still reload.
        hide_from_debuggers(thread)
        state.thread = thread
        _running = state
        go = threading.Event()
        thread.start()
        go.set()
        return state.address


def stop(timeout: float = 5.0) -> None:
    """Stop the reload server, close its connections and remove its discovery file.

    Also done at exit.  Does nothing when no server runs."""
    global _running
    with _lock:
        state = _running
        _running = None
    if state is None or state.pid != os.getpid():
        return
    if threading.current_thread() is not state.thread:
        # Stopped right after serve(): let the thread finish starting first.
        state.started.wait(START_TIMEOUT)
    if state.stop is not None:
        try:
            state.stop()
        except RuntimeError:
            pass  # the loop is already closed: the thread has ended
    if threading.current_thread() is state.thread:
        # Called from the server's own loop: it stops once this call returns.
        return
    state.thread.join(timeout)
    if state.thread.is_alive():
        log.warning("reload server: the server thread did not stop within %.1f s", timeout)
    if state.discovery_file:
        from ..wire import discovery as disco

        disco.remove(state.discovery_file)


def discovery_file() -> str | None:
    """The discovery file of the running server, or None (no server, or ``discovery=False``)."""
    state = _running
    if state is None or state.pid != os.getpid() or not state.thread.is_alive():
        return None
    return state.discovery_file


def address() -> tuple[str, int] | None:
    """The address the running server is bound to, or None."""
    state = _running
    if state is None or not state.thread.is_alive():
        return None
    return state.address


def serve_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, int] | None:
    """Start the server if ``RELOAD_SERVER_LISTEN`` asks for it; the address, or None.

    ``RELOAD_SERVER_LISTEN`` is ``[host:]port`` and ``RELOAD_SERVER_TOKEN`` an
    optional access token.  A program calls this once at start-up to honour the
    variable; with the variable unset, or a server already running, it does
    nothing.
    """
    env = os.environ if environ is None else environ
    listen = env.get(ENV_LISTEN, "").strip()
    if not listen:
        return None
    running = address()
    if running is not None:
        return running
    return serve(parse_address(listen), token=env.get(ENV_TOKEN) or None)


def _stop_at_exit() -> None:
    try:
        stop(timeout=2.0)
    except Exception:  # noqa: BLE001 - interpreter exit must go on
        log.exception("reload server: error while stopping at exit")


def _before_fork() -> None:
    """Hold a fork until the server thread has finished its start-up imports (see
    :func:`.forking.wait_for_start_up`)."""
    state = _running
    if (
        state is None
        or state.pid != os.getpid()
        or state.started.is_set()
        or threading.current_thread() is state.thread
    ):
        return
    forking.wait_for_start_up(state.started, FORK_WAIT)


def _after_fork_in_child() -> None:
    """After ``os.fork()``, in the child: disown the parent's server, then serve anew.

    The child has no server thread.  It must neither stop the parent's server
    nor remove its discovery file, nor touch the kernel objects it shares with
    the parent (see :func:`.forking.disown`).  Then it starts its own server, on
    a free port, with its own discovery entry — unless this fork is
    ``subprocess`` running a ``preexec_fn`` (the child is about to ``exec``) or
    the parent's runner was an event loop (asyncio loops do not survive a fork:
    the child calls ``serve()`` with its own loop).
    """
    global _running, _lock
    state = _running
    _lock = threading.Lock()
    _running = None
    from ..runtime import runners

    runners.after_fork_in_child()
    if state is None:
        return
    _inherited.append(state)
    forking.start_over_in_child(state.handles, state.options, serve, _stop_at_exit)
