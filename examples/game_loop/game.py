"""A game-loop-shaped program: reloads happen only when the loop calls ``poll()``.

Run it from this directory:

    cd examples/game_loop && python game.py            # add --watch to reload on save

It ticks ten times a second and prints the world's state each second.  Edit
``world.py`` (``SPEED``, or what ``describe`` returns) and reload from another
terminal in the same directory:

    python -m reload_server reload world.py

(or just save it, with ``--watch``).  The server (and the watcher) only queue the
reload; it runs inside ``reload_server.poll()``, called once per tick on the main
thread, so the world is never touched from another thread — the rule for Qt,
pygame, Tk and other main-thread toolkits (in Qt, call ``poll()`` from a
``QTimer`` every 100 ms).  The world object made at start-up keeps its state.
"""

from __future__ import annotations

import argparse
import os
import time

import world

import reload_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tick", type=float, default=0.1, help="seconds per tick")
    parser.add_argument("--watch", action="store_true", help="reload world.py when saved")
    args = parser.parse_args()

    host, port = reload_server.serve(0, runner="poll")
    if args.watch:
        reload_server.watch(os.path.dirname(os.path.abspath(__file__)), runner="poll")
    print(f"reload server on {host}:{port}", flush=True)

    state = world.World()
    ticks = 0
    try:
        while True:
            reload_server.poll()  # queued reloads run here, on this thread, between frames
            state.step(args.tick)
            ticks += 1
            if ticks % round(1 / args.tick) == 0:
                print(f"tick {ticks}: {state.describe()}", flush=True)
            time.sleep(args.tick)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
