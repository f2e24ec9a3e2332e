"""What ``os.fork()`` does to a running server: the parent waits for start-up, the
child disowns what it inherited.

A forked child has no server thread, and every kernel object of the parent's
server it inherited (the listening socket, client connections, the event loop's
epoll instance and self-pipe) is shared with the parent: the child may only
close its own descriptors, never ``shutdown()``, ``epoll_ctl`` or write to the
self-pipe, which would all reach the parent.  :mod:`.control` calls these from
its fork hooks.

Stdlib only (with the package's logger and addresses), and imported on the
caller's thread by :mod:`.control`.
"""

from __future__ import annotations

import os
import sys
import threading

from ..core.log import log
from ..wire.addresses import DEFAULT_HOST

TYPE_CHECKING = False  # typing itself would cost the host milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class ServerHandles:
    """The kernel objects of one server, tracked as the server runs, for a forked child to disown."""

    def __init__(self, listener_fd: int) -> None:
        self.listener_fd = listener_fd
        # The listening socket.socket, once the server thread has adopted the descriptor.
        self.listener: Any = None
        self.loop: Any = None  # the server thread's event loop, once it runs
        # Transports of the open client connections.
        self.connections: set[Any] = set()


def wait_for_start_up(started: threading.Event, timeout: float) -> None:
    """Hold a fork until the server thread has finished its start-up imports.

    A fork while that thread imports (pygls, the reimporter) would give the
    child a module lock held by a thread the child does not have: the child's
    own server would then wait on it for ever.  serve() returns before those
    imports end, so a program that forks right after it waits here, once.
    """
    # "before" hooks run newest first: when logging was imported after serve(),
    # its hook has already taken logging's module lock for this thread, and the
    # server thread's imports need that lock (every getLogger takes it).  Let go
    # of it while waiting, rather than import logging in serve() to order the
    # hooks: that import alone would cost the caller 6 ms.
    lock = getattr(sys.modules.get("logging"), "_lock", None)
    owned = getattr(lock, "_is_owned", None)
    held = owned is not None and owned()
    if held:
        lock.release()
    try:
        started.wait(timeout)
    finally:
        if held:
            lock.acquire()


def about_to_exec() -> bool:
    """True when this fork is ``subprocess`` running a ``preexec_fn`` before ``exec``."""
    frame = sys._getframe(1)
    # Fork hooks run right above subprocess's _execute_child: a few frames at most.
    for _ in range(6):
        if frame is None:
            return False
        code = frame.f_code
        if (
            code.co_name == "_execute_child"
            and os.path.basename(code.co_filename) == "subprocess.py"
        ):
            return True
        frame = frame.f_back
    return False


def child_runner(spec: Any) -> Any:
    """The runner a forked child serves with (the parent's ``runner=``), or None not to serve."""
    if isinstance(spec, str):
        return spec
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(spec, asyncio.AbstractEventLoop):
        return None  # asyncio loops do not survive a fork
    # An executor's worker threads do not exist in the child.
    return "thread"


def start_over_in_child(
    handles: ServerHandles,
    options: dict[str, Any],
    serve: Callable[..., Any],
    stop_at_exit: Callable[[], None],
) -> None:
    """In a forked child: disown the parent's server, then ``serve()`` anew with its options.

    On a free port, with the child's own discovery entry; not when this fork is
    ``subprocess`` running a ``preexec_fn`` (the child is about to ``exec``) nor
    when the parent's runner was an event loop (the child calls ``serve()`` with
    its own loop).  Never raises: the child goes on, with or without a server.
    """
    try:
        disown(handles)
    except Exception:  # noqa: BLE001 - a fork hook must not raise; the child goes on
        log.debug("reload server: could not disown the parent's server state", exc_info=True)
    if about_to_exec():
        return
    runner = child_runner(options.get("runner", "thread"))
    if runner is None:
        log.info(
            "reload server: not serving in forked child %d (the runner was an event loop; "
            "call serve(runner=loop) with the child's own loop)",
            os.getpid(),
        )
        return
    try:
        serve(
            (options.get("host", DEFAULT_HOST), 0),
            token=options.get("token"),
            allow_remote=bool(options.get("allow_remote")),
            roots=options.get("roots"),
            runner=runner,
            discovery=bool(options.get("discovery", True)),
            switch_interval=options.get("switch_interval"),
        )
    except Exception as exc:  # noqa: BLE001 - the child runs on without a server
        log.warning("reload server: forked child %d could not serve: %s", os.getpid(), exc)
        return
    # multiprocessing ends a forked child with os._exit(), after threading's
    # shutdown hooks but without atexit: stop there too, so the child's
    # discovery entry goes away with it.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(stop_at_exit)
        except RuntimeError:
            pass


def disown(handles: ServerHandles) -> None:
    """Close the child's copies of the parent's server descriptors, touching nothing shared.

    The objects themselves must stay referenced for the child's whole life (the
    caller keeps ``handles``): no finalizer of theirs may ever run, since it
    would close a descriptor number the child may have reused, or unregister
    from the shared epoll instance.

    Checked on CPython 3.10 to 3.13, whose selector event loop keeps, with no
    public way to reach them: its selector in ``loop._selector`` (the epoll
    instance: ``close()`` of the ``selectors`` object closes the child's
    descriptor and clears its map, with no ``epoll_ctl``), its self-pipe in
    ``loop._ssock``/``loop._csock`` (never to be written, or the parent's loop
    wakes), and its closed flag in ``loop._closed``: ``loop.close()`` refuses a
    loop that believes it runs (its thread, in the parent, does), and a
    transport closed later must find the loop closed rather than reach epoll.
    """
    loop = handles.loop
    if loop is None:
        # The server thread had not started its loop: only the listening descriptor exists.
        _close_fd(handles.listener_fd)
        return
    # Tasks of the parent's server are pending for ever here; when collected,
    # asyncio would report each as "destroyed but pending" through the loop.
    loop.set_exception_handler(lambda loop, context: None)
    for transport in list(handles.connections):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _close_fd(sock.fileno())
    if handles.listener is not None:
        handles.listener.close()  # the child's descriptor only; the parent's stays open
    else:
        _close_fd(handles.listener_fd)
    for name in ("_ssock", "_csock"):
        pipe_end = getattr(loop, name, None)
        if pipe_end is not None:
            pipe_end.close()
    selector = getattr(loop, "_selector", None)
    if selector is not None:
        selector.close()
    loop._closed = True


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
