"""A Flask app whose routes change when you reload its views.

Run it from this directory with the reload server embedded:

    cd examples/flask_app && python -m reload_server --listen 8765 serve.py --port 8000
    curl http://127.0.0.1:8000/               # Hello from Flask (v1)

Edit ``views.py`` — the text of ``index``, or a new ``@app.route`` — and
reload, from another terminal in the same directory:

    python -m reload_server reload views.py
    curl http://127.0.0.1:8000/               # your new text

The app object made at start-up keeps serving: the reload puts the new views
and routes in its URL map.  A view that raises while it loads is rolled back
and the old routes keep answering.
"""

from __future__ import annotations

import argparse

import views  # noqa: F401 - registers the routes
import webapp
from werkzeug.serving import make_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = make_server("127.0.0.1", args.port, webapp.app, threaded=True)
    print(f"serving http://127.0.0.1:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
