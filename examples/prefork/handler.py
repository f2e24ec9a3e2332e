"""Edit me while the server runs, then `python -m reload_server reload handler.py`."""


def respond(path: str, pid: int) -> str:
    """The body of the response to a GET of ``path``, from the worker ``pid``."""
    return f"v1 from worker {pid}"
