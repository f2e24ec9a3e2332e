"""A pre-fork HTTP server: one listening socket, several forked workers, one reload for all.

Run it with the launcher from this directory:

    cd examples/prefork && python -m reload_server server.py --port 8081 --workers 3

The launcher starts the reload server in the parent; each forked worker starts
its own (on a free port, with its own discovery entry in ``.reload_server/``),
without inheriting the parent's.  Ask for a page — the worker that answers
says its pid:

    curl http://127.0.0.1:8081/

Edit ``handler.py`` and reload, from another terminal in the same directory:

    python -m reload_server reload handler.py

The command-line client asks the oldest process (the parent), which reloads
every process of the project in two phases, all or nothing, and reports each
(``pid 4243: reloaded handler in 0.3 ms``; ``(4 processes: 4 reloaded)``);
``--pid N`` reloads only one.  An editor connected to any one of the processes
reaches all of them too: its server coordinates the same reload and reports
each process in the result's ``processes`` field.  Or reload on save with
``python -m reload_server --watch server.py …``: every worker watches as well.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys

import handler


def serve_forever(listener: socket.socket) -> None:
    """A worker: accept, answer one request, close; forever."""
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data and b"\n\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b" ", 2)
            path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            body = (handler.respond(path, os.getpid()) + "\n").encode()
            conn.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )


def exit_once(signum: int, frame: object) -> None:
    """A worker's SIGTERM: exit normally, once (a second signal must not interrupt the exit)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    listener = socket.create_server(("127.0.0.1", args.port))
    workers = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            # A normal exit on SIGTERM, so the worker's reload server removes its
            # discovery entry (an os._exit() would leave it to be pruned later).
            signal.signal(signal.SIGTERM, exit_once)
            serve_forever(listener)
        workers.append(pid)
    port = listener.getsockname()[1]
    print(f"serving http://127.0.0.1:{port}/ with workers {workers}", flush=True)

    def stop(signum: int, frame: object) -> None:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in workers:
            os.waitpid(pid, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
