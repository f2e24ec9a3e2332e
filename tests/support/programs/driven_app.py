"""A long-running app that a test drives over stdin, run in its own process.

    python driven_app.py '<config json>'

Started by :class:`support.apps.App` (through the ``make_app`` fixture).

config: ``{"path": dir put first on sys.path, "imports": [module names],
"serve": {serve() keyword arguments}, "runner": "thread" | "loop" | "poll"}``.

It imports the modules, calls ``reload_server.serve()`` and writes one JSON line
to stdout: ``{"address": [host, port]}`` or ``{"error": "..."}`` (and then runs
on without a server).  Then it runs an
asyncio loop on its main thread (the "app's loop") and answers JSON lines from
stdin, one reply line each: ``{"eval": expr}`` → ``{"value": ...}`` and
``{"exec": code}`` → ``{"value": null}``, or ``{"error": "..."}``.  The tests see
the app's behaviour through these answers.  With ``runner: "poll"`` the loop
calls ``reload_server.poll()`` every 20 ms, as a game loop would.  End of stdin
ends the app (and atexit stops the server).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
import traceback


def emit(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=repr) + "\n")
    sys.stdout.flush()


def main() -> None:
    config = json.loads(sys.argv[1])
    sys.path.insert(0, config["path"])
    # Imported first, as a launched app has it: it then knows when each module was imported.
    import reload_server

    ns: dict[str, object] = {"sys": sys, "threading": threading, "reload_server": reload_server}
    for name in config.get("imports", []):
        importlib.import_module(name)
        ns[name.split(".")[0]] = sys.modules[name.split(".")[0]]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    kwargs = dict(config.get("serve", {}))
    if isinstance(kwargs.get("address"), list):
        kwargs["address"] = tuple(kwargs["address"])
    runner = config.get("runner", "thread")
    kwargs["runner"] = loop if runner == "loop" else runner
    try:
        address = reload_server.serve(**kwargs)
    except Exception as exc:  # noqa: BLE001 - reported to the test; the app runs on without a server
        emit({"error": f"{type(exc).__name__}: {exc}"})
    else:
        emit({"address": list(address)})

    def handle(line: str) -> None:
        try:
            command = json.loads(line)
            if "eval" in command:
                emit({"value": eval(command["eval"], ns)})
            else:
                exec(command["exec"], ns)
                emit({"value": None})
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            emit({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(handle, line)
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=read_stdin, name="stdin", daemon=True).start()

    if runner == "poll":

        def tick() -> None:
            reload_server.poll()
            loop.call_later(0.02, tick)

        loop.call_soon(tick)
    loop.run_forever()


if __name__ == "__main__":
    main()
