"""One LSP session per TCP connection, on a pygls protocol object of its own.

pygls's ``LanguageServer`` owns exactly one protocol (one peer), so each
connection gets its own small ``Session`` (a ``LanguageServer``): replies go to
the connection that asked, and one client's shutdown, exit or crash touches
nothing else.  Messages are read and parsed by the listener; :meth:`Session.receive`
enforces the lifecycle rules pygls leaves to the host (nothing before
``initialize``, nothing after ``shutdown``, ``exit`` closes only this
connection, never ``sys.exit``) and turns bad input into JSON-RPC errors.

Imported only on the server's thread: it imports pygls and lsprotocol.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from cattrs.errors import ClassValidationError
from lsprotocol import types
from pygls.exceptions import (
    FeatureRequestError,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from ..core import report
from ..version import __version__
from ..wire.codes import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_NOT_INITIALIZED,
)
from ..wire.framing import encode
from . import features
from .diagnostics import publish_params
from .errors import Unauthorized
from .paths import PathMapper, parse_mappings
from .pygls_compat import RawRequest, set_workspace
from .state import ServerState

log = logging.getLogger("reload_server")


# Once this much is queued for a client that does not read, drop the client
# rather than grow the app's memory without bound.
MAX_WRITE_BUFFER = 32 * 1024 * 1024

COMMANDS = ("reload_server.reloadPath", "reload_server.reloadStale")
# initializationOptions.notify: which reloads this client is told of in a window/showMessage.
NOTIFY = ("errors", "all", "off")
# Plain clients (eglot, say) show log lines nowhere the user looks, nor reloadServer/status:
# a pop-up is the only way their users learn that a save did not reload.
DEFAULT_NOTIFY = "errors"


class ConnectionWriter:
    """What pygls and the session write through: one connection's transport.

    Writes are held while corked and sent as one write when uncorked: a
    request's reply and the notifications it causes leave in one system call,
    and each system call the server thread makes costs a wait for the GIL in
    an app whose threads keep the CPU busy.  Writes after close are dropped.
    """

    def __init__(self, transport: asyncio.WriteTransport, peer: str) -> None:
        self._transport = transport
        self._peer = peer
        self._corks = 0
        self._held: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if self._corks:
            self._held.append(data)
            return
        self._send(data)

    def cork(self) -> None:
        self._corks += 1

    def uncork(self) -> None:
        if self._corks:
            self._corks -= 1
        if not self._corks and self._held:
            data = b"".join(self._held)
            self._held.clear()
            if not self.closed:
                self._send(data)

    def _send(self, data: bytes) -> None:
        self._transport.write(data)
        if self._transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("client %s does not read its messages; closing its connection", self._peer)
            self.close()

    def close(self) -> None:
        if not self.closed:
            if self._held:
                data = b"".join(self._held)
                self._held.clear()
                self._transport.write(data)
            self.closed = True
            # Flushes what is buffered (say, an error reply), then closes.
            self._transport.close()


class ReloadProtocol(LanguageServerProtocol):
    """pygls's LSP protocol with the lifecycle of a server living inside an app."""

    def __init__(self, server: Session, converter: Any) -> None:
        self.session = server
        super().__init__(server, converter)

    def get_message_type(self, method: str) -> Any:
        if method in features.REQUESTS:
            return RawRequest
        return super().get_message_type(method)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> dict[str, Any]:
        session = self.session
        result = session.initialize(params)
        self.client_capabilities = params.capabilities
        # Kept so pygls's own handlers (workspace folders) keep working.
        set_workspace(self, params, session.peer)
        return result

    @lsp_method(types.INITIALIZED)
    def lsp_initialized(self, *args: Any) -> None:
        self.session.on_initialized()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        # Never sys.exit(): this connection ends, the app and other clients go on.
        self.session.close()

    # Editors must not stream buffers into the app: accept these, keep nothing.
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: Any) -> None:
        pass

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: Any) -> None:
        pass

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: Any) -> None:
        pass

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Any:
        return await features.execute_command(self.session, params.command, params.arguments)


class Session(LanguageServer):
    """One client connection: its lifecycle state, its path mappings, its options."""

    def __init__(self, state: ServerState, transport: asyncio.WriteTransport, peer: str) -> None:
        super().__init__(
            name="reload_server",
            version=__version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=ReloadProtocol,
        )
        self.state = state
        self.peer = peer
        self.writer = ConnectionWriter(transport, peer)
        self.protocol.set_writer(self.writer)
        self.initialized = False  # initialize answered successfully
        self.ready = False  # initialized received: gets broadcasts
        self.client_name = peer
        self.reload_on_save = False
        self.notify_level = DEFAULT_NOTIFY
        self.mapper = PathMapper()
        self.shut_down = False  # shutdown answered: only exit is accepted now
        self._close_after_reply = False

        @self.feature(types.SHUTDOWN)
        def _shutdown(params: Any) -> None:
            self.shut_down = True

        @self.feature(types.TEXT_DOCUMENT_DID_SAVE)
        def _did_save(params: types.DidSaveTextDocumentParams) -> None:
            features.did_save(self, params.text_document.uri)

        @self.feature(types.TEXT_DOCUMENT_CODE_ACTION)
        def _code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
            return features.code_actions(self, params.text_document.uri, params.context.only)

    # -- incoming --------------------------------------------------------------

    def receive(self, body: bytes) -> None:
        """Handle one message body read off the connection."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            self.send_error(None, PARSE_ERROR, f"Parse error: {exc}")
            return
        if not isinstance(data, dict):
            what = "batch" if isinstance(data, list) else type(data).__name__
            self.send_error(
                None, INVALID_REQUEST, f"Invalid Request: expected a JSON-RPC object, got a {what}"
            )
            return
        msg_id = data.get("id")
        if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
            self.send_error(
                None, INVALID_REQUEST, "Invalid Request: id must be a number or a string"
            )
            return
        if data.get("jsonrpc") != "2.0":
            self.send_error(msg_id, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
            return
        method = data.get("method")
        is_request = "id" in data and method is not None
        if method is None:
            if "id" in data and ("result" in data or "error" in data):
                self._dispatch(data, is_request=False)  # a reply to one of our requests
            else:
                self.send_error(msg_id, INVALID_REQUEST, "Invalid Request: no method")
            return
        if not isinstance(method, str):
            self.send_error(msg_id, INVALID_REQUEST, "Invalid Request: method must be a string")
            return
        if method == types.EXIT:
            self.close()
            return
        if not self.initialized and method != types.INITIALIZE:
            if is_request:
                self.send_error(
                    msg_id,
                    SERVER_NOT_INITIALIZED,
                    f"ServerNotInitialized: send initialize before {method}",
                )
            return
        if method == types.INITIALIZE and self.initialized:
            if is_request:
                self.send_error(
                    msg_id, INVALID_REQUEST, "Invalid Request: initialize was already sent"
                )
            return
        if self.shut_down:
            if is_request:
                self.send_error(
                    msg_id,
                    INVALID_REQUEST,
                    f"Invalid Request: {method} after shutdown; only exit is accepted",
                )
            return
        self._dispatch(data, is_request)

    def _dispatch(self, data: dict[str, Any], is_request: bool) -> None:
        try:
            message = self.protocol.structure_message(data)
        except JsonRpcException as exc:
            if is_request:
                method = data["method"]
                if not self._handles(method):
                    # pygls cannot even read an unknown request without params.
                    self.send_error(data["id"], METHOD_NOT_FOUND, f"Method Not Found: {method!r}")
                    return
                why = exc.message
                if isinstance(exc.__cause__, ClassValidationError):
                    why = _validation_message(exc.__cause__)
                elif exc.__cause__ is not None:
                    why = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
                # A message that cannot be read as the method's params is the client's
                # error (-32602), whatever cattrs raised; never "InternalError".
                self.send_error(data["id"], INVALID_PARAMS, f"Invalid params for {method}: {why}")
            else:
                log.debug(
                    "dropped malformed notification %s from %s", data.get("method"), self.peer
                )
            return
        if is_request and getattr(message, "id", None) is None:
            # A notification's method sent with an id: pygls would run it and never reply,
            # leaving the client waiting for ever.
            self.send_error(
                data["id"],
                INVALID_REQUEST,
                f"Invalid Request: {data['method']} is a notification; send it without an id",
            )
            return
        if is_request and data["method"] in features.REQUESTS:
            # Answered here, in this turn of the loop when the reload is quick, or
            # later when it is not.  pygls answers a request either at once (a plain
            # handler) or from a task of its own (a coroutine), never "at once if
            # possible", and every extra turn of the loop costs a wait for the GIL.
            features.handle_request(self, data["method"], data["id"], message.params)
        else:
            self.protocol.handle_message(message)
        if self._close_after_reply:
            self.close()

    def _handles(self, method: str) -> bool:
        fm = self.protocol.fm
        return method in fm.builtin_features or method in fm.features

    # -- lifecycle -------------------------------------------------------------

    def initialize(self, params: types.InitializeParams) -> dict[str, Any]:
        """Check the token and read the options; the InitializeResult (a plain dict)."""
        options = params.initialization_options
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise JsonRpcInvalidParams("initializationOptions must be an object")
        if self.state.token is not None:
            given = options.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(
                given.encode("utf-8"), self.state.token.encode("utf-8")
            ):
                self._close_after_reply = True
                reason = "missing access token" if given is None else "wrong access token"
                log.warning("refused client %s: %s", self.peer, reason)
                raise Unauthorized(
                    f"Unauthorized: {reason}; pass the server's token in initializationOptions.token"
                )
        reload_on_save = options.get("reloadOnSave", False)
        if not isinstance(reload_on_save, bool):
            raise JsonRpcInvalidParams("initializationOptions.reloadOnSave must be a boolean")
        notify_level = options.get("notify", DEFAULT_NOTIFY)
        if notify_level not in NOTIFY:
            raise JsonRpcInvalidParams(
                'initializationOptions.notify must be "errors", "all" or "off"'
            )
        try:
            mappings = parse_mappings(options.get("pathMappings"))
        except ValueError as exc:
            raise JsonRpcInvalidParams(f"initializationOptions.{exc}") from None
        name = options.get("clientName")
        if not isinstance(name, str):
            name = params.client_info.name if params.client_info else self.peer
        self.client_name = f"{name} ({self.peer})"
        self.reload_on_save = reload_on_save
        self.notify_level = notify_level
        self.mapper = PathMapper(mappings)
        self.initialized = True
        log.info("client %s connected", self.client_name)
        return {
            "capabilities": {
                "textDocumentSync": {
                    "openClose": False,
                    "change": 0,
                    "save": {"includeText": False},
                },
                "executeCommandProvider": {"commands": list(COMMANDS)},
                "codeActionProvider": {"codeActionKinds": list(features.CODE_ACTION_KINDS)},
                "experimental": {
                    "reloadServer": {"protocolVersion": 1, "app": dict(self.state.app)},
                },
            },
            "serverInfo": {"name": "reload_server", "version": __version__},
        }

    def on_initialized(self) -> None:
        self.ready = True
        self.send_status(self.state.status())
        # A client connecting after a failed reload sees its errors at once.
        self.publish(self.state.shown_all())

    def close(self) -> None:
        """End this connection only."""
        self.ready = False
        self.writer.close()

    # -- outgoing --------------------------------------------------------------

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """A JSON-RPC error reply, also for messages pygls never saw (``id`` may be null)."""
        log.debug("error %s to %s: %s", code, self.peer, message)
        self.writer.write(
            encode({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})
        )

    def send_result(self, msg_id: int | str, result: Any) -> None:
        """A JSON-RPC result reply."""
        self.writer.write(encode({"jsonrpc": "2.0", "id": msg_id, "result": result}))

    def publish(self, changed: dict[str, list[Any]]) -> None:
        """``textDocument/publishDiagnostics`` for each file (app path → notes)."""
        for file, notes in changed.items():
            params = publish_params(file, notes, self.mapper.uri)
            self.notify(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, params)

    def log_outcome(self, outcome: dict[str, Any]) -> None:
        """One ``window/logMessage`` line for a reload, and a ``window/showMessage``
        when this client's ``notify`` asks for one."""
        failed = outcome["status"] == "failed"
        kind = types.MessageType.Error if failed else types.MessageType.Info
        self.log_message(report.log_line(outcome, self.mapper.to_client), kind)
        if self.notify_level == "all" or (failed and self.notify_level == "errors"):
            text = report.notice_line(outcome, self.mapper.to_client)
            self.notify(
                types.WINDOW_SHOW_MESSAGE, {"type": int(kind), "message": f"reload_server: {text}"}
            )

    def log_message(self, text: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.notify(
            types.WINDOW_LOG_MESSAGE, {"type": int(kind), "message": f"reload_server: {text}"}
        )

    def send_status(self, status: dict[str, Any]) -> None:
        if status.get("lastReload") is not None:
            status = {**status, "lastReload": self.mapper.outcome(status["lastReload"])}
        self.notify("reloadServer/status", status)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """A notification whose params are plain JSON already.

        Written directly rather than through pygls, whose converter would
        structure and unstructure the same dict (a third of a millisecond per
        reload, and three times that while app threads keep the CPU busy).
        """
        self.writer.write(encode({"jsonrpc": "2.0", "method": method, "params": params}))

    # -- pygls hooks -----------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up "Error in server" in the editor; the log is the place.
        if source is FeatureRequestError and not isinstance(error, JsonRpcInternalError):
            log.debug("request error for %s: %s", self.peer, error)
        else:
            log.warning("error serving %s: %s", self.peer, error)


def _validation_message(error: ClassValidationError) -> str:
    try:
        from cattrs import transform_error

        return "; ".join(transform_error(error))
    except Exception:  # noqa: BLE001 - a worse message is still a message
        return str(error)
