"""``python -m reload_server connect``: a stdio ↔ TCP bridge, so any LSP client can reach the app.

    python -m reload_server connect [HOST:PORT] [--token TOKEN]

An editor starts this as its language server program (Helix, Kate, Zed,
Sublime, Emacs all start stdio servers; Windows has no ``nc``).  It finds the
app through the discovery files (from the working directory upwards, then from
the editor's workspace folders) or connects to ``HOST:PORT``, and copies LSP
messages both ways.  The app may come and go under it: the editor's session
(its ``initialize`` with its options, ``initialized``, the documents still
open) is replayed to every new app, and while no app runs the editor's
requests get a JSON-RPC error that says so, so the editor never sees its
server die.  ``shutdown`` / ``exit`` (or the end of stdin) end the bridge.

Stdlib only and no pygls: an editor waits for it to start.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..version import __version__
from ..wire.addresses import ENV_TOKEN, parse_address
from ..wire.codes import (
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_FAILED,
    SERVER_NOT_INITIALIZED,
)
from ..wire.framing import FrameError, FrameReader, encode

USAGE = """\
usage: python -m reload_server connect [HOST:PORT] [--token TOKEN]

A language server on stdin/stdout that forwards to the reload server of a
running app: the one found through the discovery files from the current
directory upwards, or the one at HOST:PORT.  Reconnects (and replays the
editor's session) whenever the app restarts.

options:
  --token TOKEN   access token for HOST:PORT (default: $RELOAD_SERVER_TOKEN;
                  with discovery, the token of the discovery file)
"""

BRIDGE = "reload_server-connect"
# The app's static capabilities (docs/protocol.md, ``initialize``): what the
# editor is told when it attaches before any app runs.
FALLBACK_CAPABILITIES: dict[str, Any] = {
    "textDocumentSync": {"openClose": False, "change": 0, "save": {"includeText": False}},
    "executeCommandProvider": {
        "commands": ["reload_server.reloadPath", "reload_server.reloadStale"]
    },
    "codeActionProvider": {"codeActionKinds": ["source.reloadModule", "source.reloadStale"]},
}
CONNECT_TIMEOUT = 2.0
# Between attempts to find the app again: quick at first (an app restarting
# takes a second), then once a second while none runs.
RETRY_FIRST = 0.1
RETRY_MAX = 1.0
# What _read_messages hands over for a body that is not JSON.
NOT_JSON = object()
# Editor notifications the replay of the session stands for.
REPLAYED = frozenset(
    {"initialized", "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose"}
)
# window/logMessage types.
LOG_ERROR, LOG_WARNING, LOG_INFO = 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    """Run the bridge until the editor says ``exit`` or closes stdin; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    address: tuple[str, int] | None = None
    token = os.environ.get(ENV_TOKEN) or None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if arg == "--token" and i + 1 < len(argv):
            token = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--token="):
            token = arg.partition("=")[2]
        elif arg.startswith("-") or address is not None:
            return _usage(f"unexpected argument {arg!r}")
        else:
            try:
                address = parse_address(arg)
            except (ValueError, TypeError) as exc:
                return _usage(str(exc))
        i += 1
    bridge = Bridge(address, token, cwd=os.getcwd())
    return bridge.run(_read_fd(sys.stdin.fileno()), _writer(sys.stdout))


def _usage(message: str) -> int:
    sys.stderr.write(USAGE)
    sys.stderr.write(f"python -m reload_server connect: error: {message}\n")
    return 2


def _read_fd(fd: int) -> Any:
    """A function returning the next bytes of ``fd``, ``b""`` at its end."""
    return lambda: os.read(fd, 65536)


def _writer(stream: Any) -> Any:
    out = stream.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    return write


def _say(line: str) -> None:
    """One line on stderr, which editors keep in their server log."""
    try:
        sys.stderr.write(f"{BRIDGE}: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nobody reads stderr any more: nothing else to tell


def _read_messages(read: Callable[[], bytes], who: str) -> Iterator[object]:
    """The messages ``read()`` delivers, until the end of the stream or a framing
    error: each a JSON value, or :data:`NOT_JSON` for a body that is not JSON.
    Raises ``FrameError`` when the stream ends inside a message."""
    reader = FrameReader()
    while True:
        data = read()
        if not data:
            reader.close()
            return
        for body in reader.feed(data):
            try:
                yield json.loads(body)
            except ValueError:
                yield NOT_JSON
        if reader.error is not None:
            _say(f"unreadable message from {who}: {reader.error}")
            return


class AppConnection:
    """One TCP connection to an app's server; a thread turns what it sends into events."""

    def __init__(
        self, sock: socket.socket, where: str, pid: int | None, events: queue.Queue
    ) -> None:
        self.sock = sock
        self.where = where
        self.pid = pid
        self.ready = False  # the bridge's initialize was answered
        self.closed = False
        self._events = events
        threading.Thread(target=self._read, name=f"{BRIDGE}-app", daemon=True).start()

    def _read(self) -> None:
        try:
            for message in _read_messages(
                lambda: self.sock.recv(65536), f"the app at {self.where}"
            ):
                if message is not NOT_JSON:  # the server never sends it; nothing to answer
                    self._events.put(("app", self, message))
        except (OSError, FrameError):
            pass
        self._events.put(("app-closed", self, None))

    def send(self, message: dict[str, Any]) -> bool:
        """False when the connection is gone (its reader reports that as well)."""
        if self.closed:
            return False
        try:
            self.sock.sendall(encode(message))
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Bridge:
    """The editor's one language server, whatever app (if any) is behind it right now.

    Everything happens on the thread of :meth:`run`, from one queue of events
    (the editor's messages, the app's messages, connections closing), so the
    session state needs no locks.
    """

    def __init__(self, address: tuple[str, int] | None, token: str | None, cwd: str) -> None:
        self.address = address
        self.token = token
        self.cwd = cwd
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.write_editor: Any = None
        self.app: AppConnection | None = None
        # The editor's session, replayed to every new app.
        self.init_params: dict[str, Any] | None = None
        self.init_id: Any = None  # the editor's initialize, while it waits for its answer
        self.initialized = False
        self.open_docs: dict[str, dict[str, Any]] = {}
        self.shutdown = False
        # The editor's requests the current app has not answered yet: id -> method.
        self.pending: dict[Any, str] = {}
        # Editor messages held while the app's handshake is under way.
        self.backlog: list[dict[str, Any]] = []
        # The app's requests to the editor, under ids of ours: ours -> (connection, theirs).
        self.app_requests: dict[str, tuple[AppConnection, Any]] = {}
        self.diagnosed: set[str] = set()  # uris the app published errors for
        self._ids = 0
        self.next_attempt = 0.0
        self.retry_delay = RETRY_FIRST
        self.last_problem: str | None = None
        self.handshake_id: str | None = None
        self.refusal: str | None = None  # why the last app refused the session, said once

    # -- the loop --------------------------------------------------------------------

    def run(self, read_editor: Any, write_editor: Any) -> int:
        self.write_editor = write_editor
        threading.Thread(
            target=self._read_editor, args=(read_editor,), name=f"{BRIDGE}-stdin", daemon=True
        ).start()
        while True:
            timeout = None
            if self._wants_app():
                timeout = max(0.0, self.next_attempt - time.monotonic())
            try:
                kind, source, message = self.events.get(timeout=timeout)
            except queue.Empty:
                self._try_connect()
                continue
            if kind == "editor":
                status = self._from_editor(message)
                if status is not None:
                    return status
            elif kind == "editor-closed":
                self._drop_app()
                return 0 if self.shutdown else 1
            elif source is self.app:
                if kind == "app":
                    self._from_app(message)
                else:
                    self._app_lost()

    def _read_editor(self, read: Any) -> None:
        try:
            for message in _read_messages(read, "the editor"):
                self.events.put(("editor", None, message))
        except (OSError, FrameError):
            pass
        self.events.put(("editor-closed", None, None))

    def _send_editor(self, message: dict[str, Any]) -> None:
        try:
            self.write_editor(encode(message))
        except (OSError, ValueError):
            # The editor is gone; its end of stdin ends the loop.
            pass

    def _reply(self, msg_id: Any, result: Any = None, error: tuple[int, str] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        if error is not None:
            message["error"] = {"code": error[0], "message": error[1]}
        else:
            message["result"] = result
        self._send_editor(message)

    def _log(self, kind: int, text: str) -> None:
        _say(text)
        self._send_editor(
            {
                "jsonrpc": "2.0",
                "method": "window/logMessage",
                "params": {"type": kind, "message": f"reload_server: {text}"},
            }
        )

    def _new_id(self) -> str:
        self._ids += 1
        return f"{BRIDGE}:{self._ids}"

    # -- the editor's messages ---------------------------------------------------------

    def _from_editor(self, message: Any) -> int | None:
        """Handle one message of the editor's; an exit status when the bridge must end."""
        if message is NOT_JSON:
            self._reply(None, error=(PARSE_ERROR, "ParseError: the message is not JSON"))
            return None
        if not isinstance(message, dict):
            self._reply(None, error=(INVALID_REQUEST, "InvalidRequest: not a JSON-RPC message"))
            return None
        method = message.get("method")
        msg_id = message.get("id")
        if method is None:
            if msg_id is not None:
                self._answer_from_editor(message)
            return None
        if method == "exit":
            if self.app is not None:
                self.app.send({"jsonrpc": "2.0", "method": "exit"})
            self._drop_app()
            return 0 if self.shutdown else 1
        if method == "shutdown" and msg_id is not None:
            self.shutdown = True
            self._reply(msg_id, None)
            return None
        if self.shutdown and msg_id is not None:
            self._reply(msg_id, error=(INVALID_REQUEST, f"InvalidRequest: {method} after shutdown"))
            return None
        if method == "initialize" and msg_id is not None:
            self._initialize(msg_id, message.get("params"))
            return None
        if self.init_params is None:
            if msg_id is not None:
                text = f"ServerNotInitialized: send initialize before {method}"
                self._reply(msg_id, error=(SERVER_NOT_INITIALIZED, text))
            return None
        self._track(method, message.get("params"))
        if method == "initialized":
            self.initialized = True
        if self.app is not None and not self.app.ready:
            self.backlog.append(message)
            return None
        self._forward(message)
        return None

    def _initialize(self, msg_id: Any, params: Any) -> None:
        if self.init_params is not None:
            self._reply(
                msg_id, error=(INVALID_REQUEST, "InvalidRequest: initialize was already sent")
            )
            return
        self.init_params = params if isinstance(params, dict) else {}
        self.init_id = msg_id
        if self.app is None:
            self._try_connect()
        if self.app is None and self.init_id is not None:
            # No app yet: the editor attaches to the bridge and the session
            # is replayed to the app once one appears.
            self._answer_initialize(None)

    def _answer_initialize(self, result: Any) -> None:
        if self.init_id is None:
            return
        if result is None:
            result = {
                "capabilities": FALLBACK_CAPABILITIES,
                "serverInfo": {"name": BRIDGE, "version": __version__},
            }
        self._reply(self.init_id, result)
        self.init_id = None

    def _track(self, method: str, params: Any) -> None:
        """Remember what a new app must be told: the documents the editor has open."""
        if not isinstance(params, dict):
            return
        document = params.get("textDocument")
        uri = document.get("uri") if isinstance(document, dict) else None
        if not isinstance(uri, str):
            return
        if method == "textDocument/didOpen":
            self.open_docs[uri] = params
        elif method == "textDocument/didClose":
            self.open_docs.pop(uri, None)
        elif method == "textDocument/didChange" and uri in self.open_docs:
            opened = dict(self.open_docs[uri]["textDocument"])
            if isinstance(document.get("version"), int):
                opened["version"] = document["version"]
            for change in params.get("contentChanges") or []:
                if isinstance(change, dict) and "range" not in change and "text" in change:
                    opened["text"] = change["text"]
            self.open_docs[uri] = {**self.open_docs[uri], "textDocument": opened}

    def _forward(self, message: dict[str, Any]) -> None:
        method = message["method"]
        msg_id = message.get("id")
        if self.app is not None:
            if msg_id is not None:
                self.pending[msg_id] = method
            if self.app.send(message):
                return
            self.pending.pop(msg_id, None)
            self._app_lost()
        if msg_id is not None:
            self._reply(msg_id, error=(REQUEST_FAILED, self._no_app(method)))
        elif method == "textDocument/didSave":
            self._log(LOG_WARNING, f"save not reloaded: {self._no_app(None)}")

    def _answer_from_editor(self, message: dict[str, Any]) -> None:
        """The editor's reply to a request of the app's: to that app, under its own id."""
        target = (
            self.app_requests.pop(message["id"], None) if isinstance(message["id"], str) else None
        )
        if target is None:
            return
        connection, their_id = target
        if connection is self.app:
            connection.send({**message, "id": their_id})

    def _no_app(self, method: str | None) -> str:
        what = f"{method}: " if method else ""
        if self.address is not None:
            host, port = self.address
            return (
                f"{what}no running app at {host}:{port} ({self.last_problem or 'not reachable'}); "
                f"start it with python -m reload_server --listen {port} app.py"
            )
        return (
            f"{what}no running app found for {self.cwd}; "
            "start it with python -m reload_server app.py"
        )

    # -- the app -------------------------------------------------------------------

    def _wants_app(self) -> bool:
        return self.app is None and self.init_params is not None and not self.shutdown

    def _candidates(self) -> list[tuple[str, int, str | None, int | None]]:
        """Where to look for the app now: (host, port, token, pid), best first."""
        if self.address is not None:
            return [(*self.address, self.token, None)]
        from ..wire import discovery

        places = [self.cwd, *self._workspace_dirs()]
        for place in places:
            entries = discovery.find(place)
            if entries:
                return [(e.host, e.port, e.token or self.token, e.pid) for e in entries]
        return []

    def _workspace_dirs(self) -> list[str]:
        """The editor's workspace folders, for editors that start servers elsewhere."""
        from urllib.parse import unquote, urlparse

        params = self.init_params or {}
        uris = [params.get("rootUri")]
        folders = params.get("workspaceFolders")
        if isinstance(folders, list):
            uris += [f.get("uri") for f in folders if isinstance(f, dict)]
        found = []
        for uri in uris:
            if isinstance(uri, str) and uri.startswith("file:"):
                path = unquote(urlparse(uri).path)
                if os.name == "nt" and path.startswith("/") and path[2:3] == ":":
                    path = path[1:]
                found.append(path)
        root_path = params.get("rootPath")
        if isinstance(root_path, str):
            found.append(root_path)
        return [p for p in found if p and os.path.abspath(p) != os.path.abspath(self.cwd)]

    def _try_connect(self) -> None:
        """Connect to the app if one runs, and start the handshake; else try again later."""
        if self.app is not None:
            return
        problem = None
        for host, port, token, pid in self._candidates():
            try:
                sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
            except OSError as exc:
                problem = exc.strerror or str(exc)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            where = f"{host}:{port}"
            self.app = AppConnection(sock, where, pid, self.events)
            self.retry_delay = RETRY_FIRST
            self.last_problem = None
            self._handshake(token)
            return
        self.last_problem = problem
        self.next_attempt = time.monotonic() + self.retry_delay
        self.retry_delay = min(RETRY_MAX, self.retry_delay * 2)

    def _handshake(self, token: str | None) -> None:
        assert self.app is not None and self.init_params is not None
        params = dict(self.init_params)
        options = params.get("initializationOptions")
        options = dict(options) if isinstance(options, dict) else {}
        if token and (self.address is None or "token" not in options):
            # A discovered app's own token is the one it expects.
            options["token"] = token
        params["initializationOptions"] = options
        self.handshake_id = self._new_id()
        self.app.send(
            {"jsonrpc": "2.0", "id": self.handshake_id, "method": "initialize", "params": params}
        )

    def _from_app(self, message: Any) -> None:
        assert self.app is not None
        if not isinstance(message, dict):
            return  # the server never sends one; nothing to answer
        method = message.get("method")
        msg_id = message.get("id")
        if method is None:
            if msg_id is not None and msg_id == self.handshake_id:
                self._handshake_done(message)
            elif msg_id in self.pending:
                del self.pending[msg_id]
                self._send_editor(message)
            return
        if msg_id is not None:
            ours = self._new_id()
            self.app_requests[ours] = (self.app, msg_id)
            self._send_editor({**message, "id": ours})
            return
        if method == "textDocument/publishDiagnostics":
            params = message.get("params") or {}
            uri = params.get("uri")
            if isinstance(uri, str):
                if params.get("diagnostics"):
                    self.diagnosed.add(uri)
                else:
                    self.diagnosed.discard(uri)
        self._send_editor(message)

    def _handshake_done(self, reply: dict[str, Any]) -> None:
        app = self.app
        assert app is not None
        self.handshake_id = None
        if "error" in reply:
            error = reply.get("error") or {}
            text = str(error.get("message") or "initialize refused")
            if self.init_id is not None:
                # The editor's own initialize: it hears why, and may try again.
                self._reply(self.init_id, error=(error.get("code", REQUEST_FAILED), text))
                self.init_id = None
                self.init_params = None
            elif text != self.refusal:
                self._log(LOG_ERROR, f"the app at {app.where} refused the session: {text}")
            self.refusal = text
            self._drop_app()
            self.last_problem = text
            self.next_attempt = time.monotonic() + RETRY_MAX
            self._fail_backlog()
            return
        app.ready = True
        self.refusal = None
        first = self.init_id is not None
        self._answer_initialize(reply.get("result"))
        pid = f" (pid {app.pid})" if app.pid else ""
        if self.initialized:
            app.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        # The documents open now, then what else the editor sent meanwhile: the
        # handshake and the documents' own notifications are already told.
        for params in self.open_docs.values():
            app.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": params})
        backlog, self.backlog = self.backlog, []
        for message in backlog:
            if message.get("method") not in REPLAYED:
                self._forward(message)
        if not first:
            self._log(LOG_INFO, f"connected to the app at {app.where}{pid}")
        else:
            _say(f"connected to the app at {app.where}{pid}")

    def _fail_backlog(self) -> None:
        backlog, self.backlog = self.backlog, []
        for message in backlog:
            self._forward(message)

    def _drop_app(self) -> None:
        app, self.app = self.app, None
        if app is not None:
            app.close()

    def _app_lost(self) -> None:
        """The app went away (it exited, or restarts): tell the editor, look for the next one."""
        app = self.app
        if app is None:
            return
        self._drop_app()
        self.handshake_id = None
        for msg_id, method in self.pending.items():
            self._reply(
                msg_id,
                error=(
                    REQUEST_FAILED,
                    f"{method}: the app at {app.where} went away before answering",
                ),
            )
        self.pending.clear()
        self.app_requests = {k: v for k, v in self.app_requests.items() if v[0] is not app}
        # The errors were the old process's; the next one runs what is on disk.
        for uri in sorted(self.diagnosed):
            self._send_editor(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/publishDiagnostics",
                    "params": {"uri": uri, "diagnostics": []},
                }
            )
        self.diagnosed.clear()
        if app.ready:
            self._log(LOG_WARNING, f"the app at {app.where} went away; waiting for it to come back")
        if self.init_id is not None:
            self._answer_initialize(None)
        self._fail_backlog()
        self.retry_delay = RETRY_FIRST
        self.next_attempt = time.monotonic() + RETRY_FIRST
