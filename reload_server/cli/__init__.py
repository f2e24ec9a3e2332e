"""``python -m reload_server``: the launcher and the command-line client.

:mod:`.main` dispatches, :mod:`.launcher` runs a program with the server
embedded, :mod:`.reload` is the ``reload`` command.
"""
