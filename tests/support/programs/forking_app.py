"""A program of several processes for the tests: ``python forking_app.py N``.

Imports ``m`` from the working directory, starts the reload server, forks N
children (each starts its own server through the fork hook), and prints one
line per process: ``ready <pid> <port>``.  SIGTERM ends the parent and its
children.
"""

from __future__ import annotations

import os
import signal
import sys

sys.path.insert(0, os.getcwd())

import m  # noqa: E402,F401 - the module the tests edit and reload

import reload_server  # noqa: E402
from reload_server.server import control  # noqa: E402


def exit_once(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(0)


def main() -> None:
    reload_server.serve(0)
    children = []
    for _ in range(int(sys.argv[1])):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, exit_once)
            sys.stdout.write(f"ready {os.getpid()} {control.address()[1]}\n")
            sys.stdout.flush()
            while True:
                signal.pause()
        children.append(pid)
    sys.stdout.write(f"ready {os.getpid()} {control.address()[1]}\n")
    sys.stdout.flush()

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
