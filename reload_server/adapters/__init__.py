"""Built-in framework adapters (see :mod:`reload_server.core.adapters`).

One module per framework, each imported only by a reload while its framework
is imported (the table in ``reload_server/__init__.py``); each imports its
framework itself and nothing of the package above ``core``.
"""
