"""The server's features: ``reloadPath``, ``reloadStale``, their ``executeCommand``
twins, and reload-on-save.

Params arrive as plain JSON and are checked here, so a client gets
``InvalidParams`` saying what is wrong rather than an internal error.  Paths are
mapped from the client's side to the app's before use and back in results.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcMethodNotFound

from . import fanout
from .reloads import reload_path_job, reload_stale_job

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("reload_server")

REQUESTS = ("reloadPath", "reloadStale")


def register(session: Session) -> None:
    """Register the feature handlers on one session."""

    @session.feature("reloadPath")
    async def _reload_path(params: Any) -> dict[str, Any]:
        value, force = parse_path_params(params)
        if parse_forwarded(params):
            return await reload_path(session, value, force)
        return await reload_path_everywhere(session, value, force)

    @session.feature("reloadStale")
    async def _reload_stale(params: Any) -> dict[str, Any]:
        root = parse_stale_params(params)
        if parse_forwarded(params):
            return await reload_stale(session, root)
        return await reload_stale_everywhere(session, root)

    @session.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def _did_save(params: types.DidSaveTextDocumentParams) -> None:
        await did_save(session, params.text_document.uri)


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
        return fanout.parse_forwarded(params)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


async def reload_path_everywhere(session: Session, value: str, force: bool) -> dict[str, Any]:
    """``reload_path`` here and in every sibling process of the project (see :mod:`.fanout`)."""
    path = _to_app(session, value)
    _check_allowed(session, path, value)
    return await fanout.with_siblings(
        reload_path(session, value, force),
        "reloadPath",
        {"path": path, "force": force},
        session.mapper.outcome,
    )


async def reload_stale_everywhere(session: Session, root: str | None) -> dict[str, Any]:
    """``reload_stale`` here and in every sibling process of the project."""
    params: dict[str, Any] = {}
    if root is not None:
        params["root"] = _to_app(session, root)
        _check_allowed(session, params["root"], root)
    return await fanout.with_siblings(
        reload_stale(session, root), "reloadStale", params, session.mapper.outcome
    )


def _to_app(session: Session, value: str) -> str:
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


def _check_allowed(session: Session, path: str, shown: str) -> None:
    if not session.hub.roots.allows(path):
        from .session import PathNotAllowed

        roots = ", ".join(session.mapper.to_client(r) for r in session.hub.roots.paths)
        raise PathNotAllowed(f"PathNotAllowed: {shown} is outside the server's roots ({roots})")


async def reload_path(session: Session, value: str, force: bool = False) -> dict[str, Any]:
    """Reload the loaded module(s) of one file; the ReloadOutcome in the client's paths."""
    path = _to_app(session, value)
    _check_allowed(session, path, value)
    outcome = await session.hub.run(reload_path_job(path, force))
    if outcome["status"] == "unchanged":
        # The file on disk is the code that runs: errors from an earlier attempt are stale.
        session.hub.clear(path)
    return session.mapper.outcome(outcome)


async def reload_stale(session: Session, root: str | None) -> dict[str, Any]:
    """Reload every loaded module changed on disk (under ``root``); the ReloadOutcome."""
    hub = session.hub
    if root is not None:
        app_root = _to_app(session, root)
        _check_allowed(session, app_root, root)
        roots: list[str] | None = [app_root]
    else:
        roots = list(hub.roots.paths) or None
    return session.mapper.outcome(await hub.run(reload_stale_job(roots)))


async def execute_command(session: Session, command: str, arguments: Any) -> dict[str, Any]:
    """``workspace/executeCommand`` for ``reload_server.reloadPath`` / ``reload_server.reloadStale``."""
    args = list(arguments or [])
    if command == "reload_server.reloadPath":
        if len(args) != 1:
            raise JsonRpcInvalidParams(
                "reload_server.reloadPath takes one argument: a path, a URI or {path|uri, force?}"
            )
        arg = args[0]
        value, force = parse_path_params({"path": arg} if isinstance(arg, str) else arg)
        return await reload_path_everywhere(session, value, force)
    if command == "reload_server.reloadStale":
        if len(args) > 1:
            raise JsonRpcInvalidParams(
                "reload_server.reloadStale takes at most one argument: {root}"
            )
        arg = args[0] if args else None
        return await reload_stale_everywhere(
            session, parse_stale_params({"root": arg} if isinstance(arg, str) else arg)
        )
    raise JsonRpcMethodNotFound(f"Method Not Found: unknown command {command!r}")


async def did_save(session: Session, uri: str) -> None:
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
    if not session.hub.roots.allows(path):
        session.log_message(
            f"{session.mapper.to_client(path)} is outside the server's roots; not reloaded"
        )
        return
    # The sibling processes of the project reload the file too, at the same time.
    siblings = asyncio.ensure_future(fanout.forward("reloadPath", {"path": path, "force": False}))
    outcome = await session.hub.run(reload_path_job(path))
    if outcome["status"] == "unchanged":
        session.hub.clear(path)
    if outcome["status"] in ("unchanged", "not_loaded"):
        # Reloads that happened are logged to everyone by the hub; these did not.
        session.log_message(session.mapper.outcome(outcome)["message"], types.MessageType.Log)
    for pid, other in await siblings:
        if other is not None and other["status"] in ("reloaded", "failed", "error"):
            failed = other["status"] != "reloaded"
            kind = types.MessageType.Error if failed else types.MessageType.Info
            session.log_message(f"pid {pid}: {other['message']}", kind)
