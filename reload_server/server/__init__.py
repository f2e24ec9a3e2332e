"""The reload server: an LSP endpoint embedded in the running app.

``control`` is the only module imported on the caller's thread (by
``reload_server.serve``/``stop``), with the stdlib-only ``forking`` and
``binding``; it starts a background thread which imports the rest, including
pygls and lsprotocol, so the host never pays for them at import time or on its
own thread.  Each module imports only the ones listed after it.

- ``control``: serve/stop, the server thread, the discovery file, atexit, fork hooks.
- ``listener``: the asyncio TCP listener and the live connections.
- ``session``: one pygls protocol per connection: lifecycle, token, dispatch.
- ``features``: reloadPath / reloadStale / executeCommand / codeAction / didSave handlers.
- ``fanout``: the sibling processes of the project as members of a fleet reload.
- ``participant``: this process's part of a fleet reload another process coordinates.
- ``state``: what all sessions share (diagnostics, last reload, status) and broadcasts.
- ``stale_frames``: calls still running the code from before a reload, as INFO notes.
- ``debugger``: noticing debugpy's own autoReload, which would apply changes twice.
- ``scheduling``: where a reload job runs, and whether it is answered in the same turn.
- ``outcome_queue``: reload outcomes from any thread, applied on the loop in order.
- ``switching``: the GIL switch interval policy while editors are connected.
- ``reloads``: the reload jobs themselves, LSP-free.
- ``errors``: the server's own JSON-RPC errors.
- ``pygls_compat``: what the server needs of pygls beyond its public API.
- ``diagnostics``: notes to LSP diagnostics.
- ``paths``: path mappings between client and app, and roots.
- ``forking``: what ``os.fork()`` does to a running server.
- ``binding``: binding the listening socket with nothing but ``_socket``.
"""
