"""Edit me while the service runs, then `python -m reload_server reload handlers.py`."""

GREETING = "Hello"


def respond(path: str, count: int) -> str:
    """The body of the response to a GET of ``path``; ``count`` counts requests served."""
    name = path.strip("/") or "world"
    return f"{GREETING}, {name}! (v1, request #{count})"
