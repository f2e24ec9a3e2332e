"""``serve()`` and ``stop()``: the server's lifetime, seen from the app's thread.

Only this module runs on the caller's thread, and it imports nothing heavy: the
server thread imports pygls and lsprotocol (about 0.5 s of CPU) itself, binds,
and reports the bound address — or the error — back through an event.  The
caller waits for that (so ``serve()`` returns the real port, or raises the real
bind error) and nothing else.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("reload_server")

ENV_LISTEN = "RELOAD_SERVER_LISTEN"
ENV_TOKEN = "RELOAD_SERVER_TOKEN"
DEFAULT_HOST = "127.0.0.1"
# Generous: the first import of pygls on a cold disk can take seconds.
START_TIMEOUT = 60.0


class _Running:
    """The one server of this process."""

    def __init__(
        self, thread: threading.Thread, address: tuple[str, int], stop: Any, fd: int
    ) -> None:
        self.thread = thread
        self.address = address
        self.stop = stop
        self.listener_fd = fd
        self.pid = os.getpid()
        self.discovery_file: str | None = None


_lock = threading.Lock()
_running: _Running | None = None
_atexit_registered = False


def parse_address(address: int | str | tuple[str, int]) -> tuple[str, int]:
    """``8765``, ``"8765"``, ``"host:8765"``, ``"[::1]:8765"`` or ``(host, port)`` → ``(host, port)``."""
    if isinstance(address, bool):
        raise TypeError("address must be a port or (host, port), not a bool")
    if isinstance(address, int):
        host, port = DEFAULT_HOST, address
    elif isinstance(address, str):
        text = address.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest.lstrip(":")
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
        else:
            host, port_text = "", text
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"bad address {address!r}: expected [host:]port") from None
        host = host or DEFAULT_HOST
    elif isinstance(address, tuple) and len(address) == 2:
        host, port = address
        if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("address must be a port or (host: str, port: int)")
    else:
        raise TypeError(f"address must be a port or (host, port), not {address!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range 0-65535")
    return host, port


def is_loopback(host: str) -> bool:
    """True if every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        pass
    if not host:
        return False  # "" binds every interface
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def serve(
    address: int | tuple[str, int] = 0,
    *,
    token: str | None = None,
    allow_remote: bool = False,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    runner: Any = "thread",
    discovery: bool = True,
) -> tuple[str, int]:
    """Start the reload server on its own thread; see :func:`reload_server.serve`.

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
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]

    from ..runners import make_runner
    from .paths import Roots

    with _lock:
        if _running is not None and _running.pid == os.getpid() and _running.thread.is_alive():
            h, p = _running.address
            raise RuntimeError(f"the reload server already runs on {h}:{p}; call stop() first")
        run = make_runner(runner)
        started = threading.Event()
        outcome: dict[str, Any] = {}

        def on_started(info: Any) -> None:
            outcome["started"] = info
            started.set()

        def on_failed(exc: BaseException) -> None:
            outcome["error"] = exc
            started.set()

        def main() -> None:
            try:
                # pygls and lsprotocol are imported here, on this thread, never the caller's.
                from .listener import Config
                from .listener import run as run_listener

                config = Config(host, port, token, Roots(roots), run)
                run_listener(config, on_started, on_failed)
            except BaseException as exc:
                if not started.is_set():
                    run.close()
                    on_failed(exc)
                else:
                    log.exception("the reload server thread crashed")

        # Daemon: interpreter shutdown must not wait for it before atexit stops it.
        thread = threading.Thread(target=main, name="reload_server", daemon=True)
        thread.start()
        if not started.wait(START_TIMEOUT):
            raise TimeoutError(f"the reload server did not start within {START_TIMEOUT:.0f} s")
        if "error" in outcome:
            thread.join(START_TIMEOUT)
            raise outcome["error"]
        info = outcome["started"]
        state = _Running(thread, info.address, info.stop, info.fd)
        _running = state
        if discovery:
            from .. import discovery as disco

            try:
                state.discovery_file = disco.write(info.address[0], info.address[1], token)
            except OSError as exc:
                # Clients can still be given the port; an unwritable directory must not break the app.
                log.warning("reload server: could not write the discovery file: %s", exc)
        if not _atexit_registered:
            atexit.register(_stop_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forget_in_child)
            _atexit_registered = True
        return info.address


def stop(timeout: float = 5.0) -> None:
    """Stop the server: close every connection and the listener, join the thread,
    remove the discovery file.  Does nothing when no server runs."""
    global _running
    with _lock:
        state = _running
        _running = None
    if state is None or state.pid != os.getpid():
        return
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
        from .. import discovery as disco

        disco.remove(state.discovery_file)


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


def _forget_in_child() -> None:
    """After fork: the child has no server thread; it must not stop the parent's server
    or remove its discovery file, and must not keep its listening socket open."""
    global _running, _lock
    state = _running
    _lock = threading.Lock()
    _running = None
    if state is not None:
        try:
            os.close(state.listener_fd)
        except OSError:
            pass
