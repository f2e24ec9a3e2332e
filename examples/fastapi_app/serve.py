"""A FastAPI app served by uvicorn whose routes change when you reload them.

Run it from this directory with the reload server embedded:

    cd examples/fastapi_app && python -m reload_server --listen 8765 serve.py --port 8000
    curl http://127.0.0.1:8000/               # {"message":"Hello from FastAPI (v1)"}

Edit ``routes.py`` — the message, a new ``@app.get``, a field added to
``Item`` — and reload, from another terminal in the same directory:

    python -m reload_server reload routes.py
    curl http://127.0.0.1:8000/               # your new message

uvicorn keeps serving the app object it was given at start-up; the reload
puts the new routes in it and rebuilds their validation and the OpenAPI
schema.  (uvicorn's own ``--reload`` restarts the process instead, losing
whatever the program held.)
"""

from __future__ import annotations

import argparse
import socket

import api
import routes  # noqa: F401 - registers the routes
import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(api.app, log_level="warning"))
    print(f"serving http://127.0.0.1:{sock.getsockname()[1]}/", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
