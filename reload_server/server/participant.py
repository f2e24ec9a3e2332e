"""This process's part of a reload another process coordinates: ``reloadServer/prepare``
and ``reloadServer/finish``.

The coordinator (the server that received ``reloadPath`` / ``reloadStale``, see
:mod:`.fanout`) asks every sibling to prepare.  Here the part runs as a job on
the app's runner, like any reload (the reload thread; a ``"poll"`` app's
``poll()``): :func:`reload_server.core.fleet.hold` prepares it and keeps that
thread until the decision or the deadline.  The prepare request is answered
from another thread with :func:`reload_server.core.fleet.prepared`, as soon as
the part is prepared (or failed); ``reloadServer/finish`` hands the decision to
the held thread with :func:`reload_server.core.fleet.finish` and answers with
the final outcome.  Neither waits on the server's loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from ..core import fleet
from .reloads import part_answer, part_job

# Reload ids whose part has started on the runner, and those aborted before theirs
# did (a "poll" app that has not polled yet): such a part then prepares nothing.
_started: set[str] = set()
_aborted: set[str] = set()
_ids_lock = threading.Lock()
# How many ids each set keeps: enough for the reloads in flight.
KEPT_IDS = 256
# Seconds a finish waits for the held thread to commit or roll back.
FINISH_WAIT = 60.0


def parse_prepare_params(params: Any) -> tuple[str, list[str], dict[str, Any], float]:
    """``{reloadId, modules, deadline, path?, force?, full?, stale?}`` → (id, modules, selection, deadline)."""
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams("reloadServer/prepare params must be an object")
    reload_id = _reload_id(params)
    modules = params.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) and m for m in modules):
        raise JsonRpcInvalidParams('reloadServer/prepare "modules" must be a list of module names')
    deadline = params.get("deadline", fleet.DEADLINE)
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not deadline > 0:
        raise JsonRpcInvalidParams('reloadServer/prepare "deadline" must be a positive number')
    selection: dict[str, Any] = {}
    if "path" in params:
        if not isinstance(params["path"], str) or not params["path"]:
            raise JsonRpcInvalidParams('reloadServer/prepare "path" must be a non-empty string')
        selection["path"] = params["path"]
    if "force" in params:
        if not isinstance(params["force"], bool):
            raise JsonRpcInvalidParams('reloadServer/prepare "force" must be a boolean')
        selection["force"] = params["force"]
    if "full" in params:
        if not isinstance(params["full"], bool):
            raise JsonRpcInvalidParams('reloadServer/prepare "full" must be a boolean')
        selection["full"] = params["full"]
    if "stale" in params:
        stale = params["stale"]
        roots = stale.get("roots") if isinstance(stale, dict) else None
        if not isinstance(stale, dict) or not (
            roots is None
            or (isinstance(roots, list) and all(isinstance(r, str) and r for r in roots))
        ):
            raise JsonRpcInvalidParams(
                'reloadServer/prepare "stale" must be {"roots": null or a list of directories}'
            )
        selection["stale"] = {"roots": roots}
    return reload_id, list(modules), selection, float(min(deadline, 3600.0))


def parse_finish_params(params: Any) -> tuple[str, bool]:
    """``{reloadId, commit}`` → (id, commit)."""
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams("reloadServer/finish params must be an object")
    reload_id = _reload_id(params)
    commit = params.get("commit")
    if not isinstance(commit, bool):
        raise JsonRpcInvalidParams('reloadServer/finish "commit" must be a boolean')
    return reload_id, commit


def _reload_id(params: dict[str, Any]) -> str:
    reload_id = params.get("reloadId")
    if not isinstance(reload_id, str) or not reload_id or len(reload_id) > 200:
        raise JsonRpcInvalidParams('"reloadId" must be a non-empty string')
    return reload_id


def prepare(
    state: Any, reload_id: str, modules: list[str], selection: dict[str, Any], deadline: float
) -> asyncio.Future[dict[str, Any]]:
    """Start this process's part on the runner; a future for the prepare outcome."""
    expires = time.monotonic() + deadline

    def cancelled() -> bool:
        # Called as the part starts: from then on a finish goes to the held thread.
        with _ids_lock:
            if reload_id in _aborted:
                return True
            _remember(_started, reload_id)
            return False

    held = state.reloads.run(
        part_job(reload_id, modules, selection, expires, cancelled), answer_now=False
    )

    async def answer() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        final = asyncio.ensure_future(_outcome(held))
        first = loop.run_in_executor(None, fleet.prepared, reload_id, deadline, final.done)
        done, _ = await asyncio.wait({final, first}, return_when=asyncio.FIRST_COMPLETED)
        # The part ended before it was ever prepared (a failure, an early abort):
        # its final outcome is the answer.
        raw = final.result() if final in done else first.result()
        return part_answer(raw, final=False)

    return asyncio.ensure_future(answer())


def finish(reload_id: str, commit: bool) -> asyncio.Future[dict[str, Any]]:
    """Decide this process's part; a future for its final outcome."""

    def decide() -> dict[str, Any]:
        with _ids_lock:
            started = reload_id in _started
            if not started:
                _remember(_aborted, reload_id)
        if not started:
            return part_answer(
                fleet.failure(
                    f"{fleet.local_name()}: aborted before this process prepared", "abort"
                ),
                final=True,
            )
        # The part may have started a moment ago: let it register and prepare first.
        fleet.prepared(reload_id, FINISH_WAIT)
        return part_answer(fleet.finish(reload_id, commit, FINISH_WAIT), final=True)

    return asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, decide))


def _remember(ids: set[str], reload_id: str) -> None:
    if len(ids) >= KEPT_IDS:
        ids.pop()
    ids.add(reload_id)


async def _outcome(answer: Any) -> dict[str, Any]:
    return answer if isinstance(answer, dict) else await answer
