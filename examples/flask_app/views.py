"""Edit me while the app serves, then `python -m reload_server reload views.py`.

Change a view's text, add a route, remove one or change its path: the running
app serves the new routes (and a removed one answers 404).
"""

from webapp import app


@app.route("/")
def index() -> str:
    return "Hello from Flask (v1)"


@app.route("/about")
def about() -> str:
    return "A Flask app reloaded in place."
