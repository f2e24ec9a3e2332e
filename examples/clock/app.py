"""A clock that greets you once a second: the reload_server example app.

Run it with the reload server embedded (from the repository root):

    python -m reload_server --listen 8765 examples/clock/app.py

then edit ``examples/clock/greeting.py`` while it runs — change the text in
``Greeter.greet`` or ``NAME`` — and reload it, from another terminal:

    python -m reload_server reload examples/clock/greeting.py

(or save it in an editor connected to port 8765).  The next line the clock
prints uses the new code; the ``Greeter`` object created at start-up is the
same object, now running the new method.  Break the syntax and reload to see
the error reported while the clock keeps ticking on the old code.

Options: ``--interval SECONDS`` (default 1) and ``--ticks N`` (stop after N lines).
"""

from __future__ import annotations

import argparse
import time

import greeting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--ticks", type=int, default=0, help="stop after N lines (0: run forever)")
    args = parser.parse_args()

    # Created once: after a reload it keeps its identity and runs the new methods.
    greeter = greeting.Greeter()
    tick = 0
    try:
        while not args.ticks or tick < args.ticks:
            tick += 1
            print(greeter.greet(time.strftime("%H:%M:%S"), tick), flush=True)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
