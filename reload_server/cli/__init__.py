"""``python -m reload_server``: the launcher and the command-line client."""
