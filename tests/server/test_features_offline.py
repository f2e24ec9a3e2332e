"""Features, fan-out and fork hygiene work without a live server: they take what they need."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from lsprotocol import types

from reload_server.core import events
from reload_server.runtime.runners import ThreadRunner
from reload_server.server import fanout, features
from reload_server.server.errors import PathNotAllowed
from reload_server.server.paths import PathMapper, Roots
from reload_server.server.state import ServerState


class FakeClient:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.mapper = PathMapper()
        self.reload_on_save = True
        self.sent: list[tuple[str, Any]] = []

    def send_result(self, msg_id: int | str, result: Any) -> None:
        self.sent.append(("result", result))

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        self.sent.append(("error", code))

    def log_message(self, text: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.sent.append(("log", text))


def make_state(roots: list[str]) -> ServerState:
    app = {"pid": os.getpid(), "argv": [], "cwd": os.getcwd()}
    return ServerState(asyncio.get_running_loop(), ThreadRunner(), Roots(roots), None, app)


async def test_a_path_outside_the_roots_is_refused(tmp_path):
    state = make_state([str(tmp_path / "src")])
    try:
        with pytest.raises(PathNotAllowed, match="outside the server's roots"):
            features.reload_path(FakeClient(state), str(tmp_path / "elsewhere.py"))
    finally:
        state.close()


async def test_a_file_that_is_no_module_is_not_loaded(tmp_path):
    state = make_state([])
    try:
        answer = features.reload_path(FakeClient(state), str(tmp_path / "x.py"))
        outcome = await features.outcome_of(answer)
    finally:
        state.close()
    assert outcome["status"] == "not_loaded"


def test_siblings_are_the_other_entries_next_to_the_discovery_file(tmp_path):
    assert fanout.sibling_entries(None) == []
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"pid": os.getpid()}))
    # Alone in its directory: one listing, no entry read.
    assert fanout.sibling_entries(str(own)) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_listener_subscribed_with_inherit_false_is_dropped_in_a_forked_child():
    def kept(outcome: Any) -> None:
        pass

    def dropped(outcome: Any) -> None:
        pass

    unsubscribe = [events.subscribe(kept), events.subscribe(dropped, inherit=False)]
    try:
        pid = os.fork()
        if pid == 0:
            ok = kept in events._listeners and dropped not in events._listeners
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert dropped in events._listeners  # the parent keeps it
    finally:
        for undo in unsubscribe:
            undo()
