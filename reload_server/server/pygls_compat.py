"""What the server needs of pygls beyond its public API, in one place.

Checked against pygls 2.1.1 (``.venv/bin/pip show pygls``).  Each item says
why the public API does not do the job; on a pygls upgrade, this module is the
one to re-check.

- The workspace.  ``LanguageServerProtocol.lsp_initialize`` builds it and the
  server's capabilities in one generator; the server answers ``initialize``
  itself (a token check, options, its own capabilities), so it sets the
  workspace pygls's other built-in handlers read, through the private
  ``_workspace`` (there is no setter).
- The log.  pygls logs every message it sends at INFO and, with a traceback,
  every error it answers to a client (``logger.exception``, and "Unable to
  deserialize message" for params of the wrong shape).  Errors meant for a
  client are replies, not tracebacks in the app's log, so a filter on
  ``pygls.protocol.json_rpc`` drops exactly those; it matches pygls's text.
- Raw params.  For a method lsprotocol does not know, pygls's converter turns
  params into namedtuples; :class:`RawRequest`, returned by the public
  ``get_message_type`` hook, keeps them plain JSON.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import Workspace

log = logging.getLogger("reload_server")


@attrs.define
class RawRequest:
    """A request whose params reach the handler as plain JSON (pygls would make namedtuples)."""

    id: int | str
    method: str
    jsonrpc: str
    params: Any = None


def set_workspace(
    protocol: LanguageServerProtocol, params: types.InitializeParams, peer: str
) -> None:
    """Give ``protocol`` the workspace of ``initialize``'s params, as pygls's own handler would.

    The server itself never reads it, so an odd rootUri must not fail ``initialize``:
    an unusable one gives an empty workspace.
    """
    try:
        workspace = Workspace(
            params.root_uri or None,
            types.TextDocumentSyncKind.None_,
            params.workspace_folders or [],
        )
    except Exception:  # noqa: BLE001 - logged; the client still gets its answer
        log.debug("unusable rootUri/workspaceFolders from %s", peer, exc_info=True)
        workspace = Workspace(None, types.TextDocumentSyncKind.None_, [])
    protocol._workspace = workspace


class QuietJsonRpcErrors:
    """A logging filter: errors meant for a client are replies, not tracebacks in the app's log."""

    def filter(self, record: Any) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Unable to deserialize message"):
            # Params of the wrong shape: the session answers the client with -32602.
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError))


def quiet_pygls() -> None:
    """Keep pygls from writing every message it sends into the host's log."""
    pygls_log = logging.getLogger("pygls")
    if pygls_log.level == logging.NOTSET:
        # The host did not configure pygls: its INFO (every message sent) and
        # WARNING (every unknown notification) lines are noise in an app's log.
        pygls_log.setLevel(logging.ERROR)
    rpc_log = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, QuietJsonRpcErrors) for f in rpc_log.filters):
        rpc_log.addFilter(QuietJsonRpcErrors())
