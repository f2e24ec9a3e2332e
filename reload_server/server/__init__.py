"""The reload server: an LSP endpoint embedded in the running app.

``control`` is the only module imported on the caller's thread (by
``reload_server.serve``/``stop``); it starts a background thread which imports
the rest, including pygls and lsprotocol, so the host never pays for them at
import time or on its own thread.

- ``control``: serve/stop, the server thread, the discovery file, atexit.
- ``listener``: the asyncio TCP listener and the set of live connections.
- ``framing``: reading ``Content-Length`` frames off a stream, with limits.
- ``session``: one pygls protocol per connection: lifecycle, token, dispatch.
- ``features``: reloadPath / reloadStale / executeCommand / didSave handlers.
- ``hub``: state shared by all sessions (diagnostics, last reload) and broadcasts.
- ``reloads``: the reload jobs themselves, LSP-free.
- ``diagnostics``: notes to LSP diagnostics.
- ``paths``: URIs, path mappings, roots.
- ``client``: a small stdlib-only LSP client for the command line.
"""
