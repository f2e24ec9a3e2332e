"""What the server and its clients share: the wire, not the server.

Stdlib only, cheap to import (the command-line client starts fast and never
imports pygls).

- ``framing``: ``Content-Length`` frames.
- ``codes``: JSON-RPC and reload_server error codes.
- ``outcome``: a reload's outcome as wire data, and as text for people.
- ``discovery``: the files through which clients find running servers.
- ``client``: a small synchronous LSP client.
- ``forwarding``: asking a sibling process over the stdlib client.
"""
