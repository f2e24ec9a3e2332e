"""A process taking part in fleet reloads, driven over stdin by :class:`support.fleet.PartProcess`.

    python fleet_part.py <dir put first on sys.path> <module to import>...

Answers one JSON line per request line: ``{"op": "prepare", "id", "modules",
"texts", "deadline"}`` → :func:`reload_server.core.fleet.begin`'s outcome;
``{"op": "finish", "id", "commit"}`` → :func:`~reload_server.core.fleet.finish`'s;
``{"op": "eval", "expr"}`` → ``{"value": ...}``.  Requests are served each on
its own thread, so a prepare that hangs does not stop a later request.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading

_out = threading.Lock()


def emit(obj: object) -> None:
    with _out:
        sys.stdout.write(json.dumps(obj, default=repr) + "\n")
        sys.stdout.flush()


def serve(request: dict) -> None:
    from reload_server.core import fleet

    op = request["op"]
    try:
        if op == "prepare":
            answer = fleet.begin(
                request["id"],
                request["modules"],
                request["texts"],
                request["deadline"],
                request.get("full", False),
            )
        elif op == "finish":
            answer = fleet.finish(request["id"], request["commit"])
        else:
            answer = {"value": eval(request["expr"], sys.modules["__main__"].__dict__)}
    except BaseException as e:  # noqa: BLE001 - the test reads it
        answer = {"error": f"{type(e).__name__}: {e}"}
    emit({"tag": request["tag"], **answer})


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    import reload_server  # noqa: F401 - imported first, as an app has it

    for name in sys.argv[2:]:
        globals()[name] = importlib.import_module(name)
    emit({"ready": True})
    for line in sys.stdin:
        threading.Thread(target=serve, args=(json.loads(line),), daemon=True).start()


if __name__ == "__main__":
    main()
