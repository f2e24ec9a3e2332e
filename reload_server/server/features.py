"""The server's features: ``reloadPath``, ``reloadStale``, their ``executeCommand``
twins, the code actions that run those commands, reload-on-save, and a
sibling's part of a fleet reload (``reloadServer/prepare``, ``reloadServer/finish``).

Params arrive as plain JSON and are checked here, so a client gets
``InvalidParams`` saying what is wrong rather than an internal error.  Paths are
mapped from the client's side to the app's before use and back in results.
Each handler takes the :class:`Client` that asked (a session, or anything with
the same few attributes), so features work without a live server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcMethodNotFound

from ..wire import forwarding
from ..wire.codes import INTERNAL_ERROR, REQUEST_CANCELLED
from . import fanout, participant
from .errors import PathNotAllowed
from .paths import PathMapper
from .reloads import reload_path_job, reload_stale_job
from .state import ServerState

log = logging.getLogger("reload_server")

REQUESTS = ("reloadPath", "reloadStale", "reloadServer/prepare", "reloadServer/finish")
# Source actions: never offered as quick fixes, listed by every client's code-action menu.
RELOAD_MODULE = "source.reloadModule"
RELOAD_STALE = "source.reloadStale"
CODE_ACTION_KINDS = (RELOAD_MODULE, RELOAD_STALE)


class Client(Protocol):
    """What a feature needs of the client that asked (a :class:`~.session.Session`)."""

    state: ServerState
    mapper: PathMapper
    reload_on_save: bool

    def send_result(self, msg_id: int | str, result: Any) -> None: ...

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None: ...

    def log_message(self, text: str, kind: types.MessageType = types.MessageType.Info) -> None: ...


def handle_request(session: Client, method: str, msg_id: int | str, params: Any) -> None:
    """Answer one of :data:`REQUESTS`: at once when the reload finishes
    quickly, else when it does; bad params get the JSON-RPC error."""
    try:
        if method == "reloadPath":
            value, force = parse_path_params(params)
            answer = reload_path(session, value, force, everywhere=not parse_forwarded(params))
        elif method == "reloadStale":
            root = parse_stale_params(params)
            answer = reload_stale(session, root, everywhere=not parse_forwarded(params))
        elif method == "reloadServer/prepare":
            answer = participant.prepare(session.state, *participant.parse_prepare_params(params))
        else:
            answer = participant.finish(*participant.parse_finish_params(params))
    except JsonRpcException as exc:
        session.send_error(msg_id, exc.code, exc.message)
        return
    except Exception as exc:  # noqa: BLE001 - a bug of ours costs this request only
        log.exception("reload server: %s failed", method)
        session.send_error(msg_id, INTERNAL_ERROR, f"InternalError: {exc!r}")
        return
    if isinstance(answer, dict):
        session.send_result(msg_id, answer)
        return

    def reply(future: asyncio.Future[dict[str, Any]]) -> None:
        if future.cancelled():
            session.send_error(msg_id, REQUEST_CANCELLED, f"{method} was cancelled")
            return
        error = future.exception()
        if error is None:
            session.send_result(msg_id, future.result())
        elif isinstance(error, JsonRpcException):
            session.send_error(msg_id, error.code, error.message)
        else:
            log.error("reload server: %s failed", method, exc_info=error)
            session.send_error(msg_id, INTERNAL_ERROR, f"InternalError: {error!r}")

    answer.add_done_callback(reply)


async def outcome_of(answer: dict[str, Any] | asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
    """The ReloadOutcome of an answer that may still be pending."""
    return answer if isinstance(answer, dict) else await answer


def parse_path_params(params: Any) -> tuple[str, bool]:
    """``{"path"|"uri": str, "force"?: bool}`` → (path or URI, force)."""
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams('reloadPath params must be an object like {"path": "file.py"}')
    value = params.get("path", params.get("uri"))
    if value is None:
        raise JsonRpcInvalidParams('reloadPath needs "path" or "uri"')
    if not isinstance(value, str) or not value:
        raise JsonRpcInvalidParams('reloadPath "path"/"uri" must be a non-empty string')
    force = params.get("force", False)
    if not isinstance(force, bool):
        raise JsonRpcInvalidParams('reloadPath "force" must be a boolean')
    return value, force


def parse_stale_params(params: Any) -> str | None:
    """``{}``, null or ``{"root": str}`` → the root or None."""
    if params is None:
        return None
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams(
            'reloadStale params must be an object like {} or {"root": "src/"}'
        )
    root = params.get("root")
    if root is not None and (not isinstance(root, str) or not root):
        raise JsonRpcInvalidParams('reloadStale "root" must be a non-empty string')
    return root


def parse_forwarded(params: Any) -> bool:
    """``"forwarded": true``: reload in this process only (set by a sibling forwarding to us)."""
    try:
        return forwarding.parse_forwarded(params)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


def _to_app(session: Client, value: str) -> str:
    try:
        path = session.mapper.to_app(value)
        # A path the OS cannot take (a NUL byte, a lone surrogate) is bad params, not a server bug.
        if "\x00" in path:
            raise ValueError(f"path {value!r} contains a NUL character")
        os.fsencode(path)
    except UnicodeEncodeError:
        raise JsonRpcInvalidParams(f"path {value!r} is not encodable as a file name") from None
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None
    return path


def _check_allowed(session: Client, path: str, shown: str) -> None:
    if not session.state.roots.allows(path):
        roots = ", ".join(session.mapper.to_client(r) for r in session.state.roots.paths)
        raise PathNotAllowed(f"PathNotAllowed: {shown} is outside the server's roots ({roots})")


def reload_path(
    session: Client, value: str, force: bool = False, *, everywhere: bool = True
) -> dict[str, Any] | asyncio.Future[dict[str, Any]]:
    """Reload the loaded module(s) of one file, here and (``everywhere``) in every sibling
    process of the project; the ReloadOutcome in the client's paths, or a future for it."""
    path = _to_app(session, value)
    _check_allowed(session, path, value)

    def done(outcome: dict[str, Any]) -> dict[str, Any]:
        if outcome["status"] == "unchanged":
            # The file on disk is the code that runs: errors from an earlier attempt are stale.
            session.state.clear(path)
        return session.mapper.outcome(outcome)

    entries = fanout.sibling_entries(session.state.discovery_file) if everywhere else []
    others = fanout.siblings(entries, {"path": path, "force": force})
    # With siblings to ask, the loop must not wait for the reload: it takes their time too.
    return _then(
        session.state.reloads.run(
            reload_path_job(path, force, others), answer_now=not others, key=path
        ),
        done,
    )


def reload_stale(
    session: Client, root: str | None, *, everywhere: bool = True
) -> dict[str, Any] | asyncio.Future[dict[str, Any]]:
    """Reload every loaded module changed on disk (under ``root``), here and
    (``everywhere``) in every sibling process; the ReloadOutcome, or a future for it."""
    state = session.state
    if root is not None:
        app_root = _to_app(session, root)
        _check_allowed(session, app_root, root)
        roots: list[str] | None = [app_root]
    else:
        roots = list(state.roots.paths) or None
    entries = fanout.sibling_entries(state.discovery_file) if everywhere else []
    others = fanout.siblings(entries, {"stale": {"roots": roots}})
    return _then(
        state.reloads.run(
            reload_stale_job(roots, others),
            answer_now=not others,
            key=("stale", tuple(roots or ())),
        ),
        session.mapper.outcome,
    )


def _then(
    answer: dict[str, Any] | asyncio.Future[dict[str, Any]],
    then: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any] | asyncio.Future[dict[str, Any]]:
    """``then(outcome)`` now, or once the pending outcome arrives."""
    if isinstance(answer, dict):
        return then(answer)

    async def later() -> dict[str, Any]:
        return then(await answer)

    return asyncio.ensure_future(later())


def code_actions(
    session: Client, uri: str, only: Sequence[str] | None = None
) -> list[types.CodeAction]:
    """``textDocument/codeAction``: for a Python file under the roots, the two reloads as
    actions running the ``executeCommand`` commands, the one trigger every client can run.

    ``only`` (the request's ``context.only``) keeps the kinds it names and their
    sub-kinds: ``source`` keeps both.
    """
    try:
        path = _to_app(session, uri)
    except JsonRpcInvalidParams:
        return []
    if not path.endswith(".py") or not session.state.roots.allows(path):
        return []
    name = os.path.basename(path)
    actions = [
        types.CodeAction(
            title=f"Reload {name} in the running app",
            kind=RELOAD_MODULE,
            # The client's own URI: the command maps it to the app's path as a request would.
            command=types.Command(
                title=f"Reload {name}", command="reload_server.reloadPath", arguments=[uri]
            ),
        ),
        types.CodeAction(
            title="Reload every changed module in the running app",
            kind=RELOAD_STALE,
            command=types.Command(
                title="Reload changed modules", command="reload_server.reloadStale", arguments=[]
            ),
        ),
    ]
    if only is None:
        return actions
    asked = [str(getattr(kind, "value", kind)) for kind in only]
    return [
        action
        for action in actions
        if any(action.kind == kind or str(action.kind).startswith(kind + ".") for kind in asked)
    ]


async def execute_command(session: Client, command: str, arguments: Any) -> dict[str, Any]:
    """``workspace/executeCommand`` for ``reload_server.reloadPath`` / ``reload_server.reloadStale``."""
    args = list(arguments or [])
    if command == "reload_server.reloadPath":
        if len(args) != 1:
            raise JsonRpcInvalidParams(
                "reload_server.reloadPath takes one argument: a path, a URI or {path|uri, force?}"
            )
        arg = args[0]
        value, force = parse_path_params({"path": arg} if isinstance(arg, str) else arg)
        return await outcome_of(reload_path(session, value, force))
    if command == "reload_server.reloadStale":
        if len(args) > 1:
            raise JsonRpcInvalidParams(
                "reload_server.reloadStale takes at most one argument: {root}"
            )
        arg = args[0] if args else None
        root = parse_stale_params({"root": arg} if isinstance(arg, str) else arg)
        return await outcome_of(reload_stale(session, root))
    raise JsonRpcMethodNotFound(f"Method Not Found: unknown command {command!r}")


def did_save(session: Client, uri: str) -> None:
    """Reload on save, for clients that asked for it; results go out as notifications."""
    if not session.reload_on_save:
        return
    try:
        path = _to_app(session, uri)
    except JsonRpcInvalidParams:
        log.debug("didSave for a non-file URI %r", uri)
        return
    if not path.endswith(".py"):
        return
    if not session.state.roots.allows(path):
        session.log_message(
            f"{session.mapper.to_client(path)} is outside the server's roots; not reloaded"
        )
        return
    # The sibling processes of the project reload the file too, in the same transaction.
    answer = reload_path(session, path)
    if isinstance(answer, dict):
        _saved(session, path, answer)
        return

    async def later() -> None:
        _saved(session, path, await answer)

    task = asyncio.ensure_future(later())
    task.add_done_callback(_log_failure)


def _saved(session: Client, path: str, outcome: dict[str, Any]) -> None:
    """What the saving client is told besides the broadcasts (outcome in the client's paths)."""
    items = outcome.get("processes") or []
    own = items[0]["status"] if items else outcome["status"]
    if own in ("unchanged", "not_loaded"):
        # Reloads that happened here are logged to everyone by the shared state; these did not.
        message = items[0]["message"] if items else outcome["message"]
        session.log_message(message, types.MessageType.Log)
    for item in items[1:]:
        if item["status"] in ("reloaded", "failed"):
            failed = item["status"] != "reloaded"
            kind = types.MessageType.Error if failed else types.MessageType.Info
            session.log_message(f"{item['process']}: {item['message']}", kind)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("reload server: reload on save failed", exc_info=task.exception())
