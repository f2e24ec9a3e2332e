"""The ``reloadServer/status`` notifications of a reload arrive in order: ``reloading``,
then the reload's diagnostics and log line, then exactly one ``idle`` that carries
this reload's outcome, and nothing after it.

The bug these pin down: when the thread that ran a reload finished it while the
server's loop was not blocked waiting for it (a fresh runner's new worker thread
gets the GIL first), the outcome waited for a drain the loop had scheduled for
later, the reload ended at once with an ``idle`` carrying the *previous*
outcome, and the drain then sent a second ``idle``.  A status bar that takes the
first ``idle`` as the end showed the wrong reload.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from lsprotocol import types
from support.raw import Raw
from support.sources import GREETING, GREETING_V2
from support.waits import wait_until_async

from reload_server.runtime.runners import ThreadRunner, run_into
from reload_server.server import features
from reload_server.server.paths import PathMapper, Roots
from reload_server.server.state import ServerState

T = TypeVar("T")


class Writer:
    def cork(self) -> None:
        pass

    def uncork(self) -> None:
        pass


class Recorder:
    """A connected, initialized client (a state peer and a feature client): what it is sent, in order."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.mapper = PathMapper()
        self.reload_on_save = False
        self.ready = True
        self.writer = Writer()
        self.sent: list[tuple[str, Any]] = []

    # what the shared state sends
    def publish(self, changed: dict[str, list[Any]]) -> None:
        self.sent.append(("diagnostics", sorted(changed)))

    def log_outcome(self, outcome: dict[str, Any]) -> None:
        self.sent.append(("log", outcome["status"]))

    def send_status(self, status: dict[str, Any]) -> None:
        last = status["lastReload"]
        self.sent.append((status["state"], None if last is None else last["message"]))

    # what a feature sends
    def send_result(self, msg_id: int | str, result: Any) -> None:
        self.sent.append(("result", result["message"]))

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        self.sent.append(("error", code))

    def log_message(self, text: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.sent.append(("log_message", text))


class FinishedBeforeSubmitReturns:
    """A runner whose thread runs the whole job before ``submit`` returns: what happens
    when the loop thread loses the GIL to the reloading thread right after handing it over."""

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        thread = threading.Thread(target=run_into, args=(job, future))
        thread.start()
        thread.join()
        return future

    def close(self) -> None:
        pass


class Gated:
    """A runner whose jobs run on a thread of their own once the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.threads: list[threading.Thread] = []

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            self.gate.wait(30)
            run_into(job, future)

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()
        return future

    def close(self) -> None:
        self.gate.set()
        for thread in self.threads:
            thread.join(30)


def started_state(runner: Any) -> tuple[ServerState, Recorder]:
    app = {"pid": os.getpid(), "argv": [], "cwd": os.getcwd()}
    state = ServerState(asyncio.get_running_loop(), runner, Roots([]), None, app)
    state.start()
    client = Recorder(state)
    state.attach(client)
    return state, client


async def settle() -> None:
    """Let every callback already scheduled on the loop (a late drain, say) run."""
    for _ in range(5):
        await asyncio.sleep(0)


def edited_module(project: Any, name: str, broken: bool = False) -> str:
    project.module(name, GREETING)
    return str(project.edit(name, "def greet(:\n" if broken else GREETING_V2))


def assert_one_reload(sent: list[tuple[str, Any]], status: str, before: str | None = None) -> None:
    """``sent`` is one reload as a client sees it, from its ``reloading`` to its reply."""
    statuses = [item for item in sent if item[0] in ("reloading", "idle")]
    assert statuses[0] == ("reloading", before), sent
    assert [kind for kind, _ in sent[1:]] == ["diagnostics", "log", "idle", "result"], sent
    # The one idle carries this reload's outcome: the message of the reply.
    assert sent[-2] == ("idle", sent[-1][1]), sent
    assert (status == "failed") == (" not reloaded: " in sent[-1][1]), sent


@pytest.mark.parametrize("broken", [False, True], ids=["reloaded", "failed"])
async def test_a_reload_finished_before_the_loop_looks_ends_with_its_own_idle(project, broken):
    state, client = started_state(FinishedBeforeSubmitReturns())
    try:
        path = edited_module(project, "order_eager", broken)

        features.handle_request(client, "reloadPath", 1, {"path": path, "force": True})
        await settle()
    finally:
        state.close()

    assert_one_reload(client.sent, "failed" if broken else "reloaded")


async def test_a_slow_reload_published_from_another_thread_ends_with_its_own_idle(project):
    runner = Gated()
    state, client = started_state(runner)
    try:
        path = edited_module(project, "order_gated")
        features.handle_request(client, "reloadPath", 1, {"path": path, "force": True})
        assert client.sent == [("reloading", None)]  # answered later: the job waits

        runner.gate.set()
        await wait_until_async(lambda: replied(client), what="the reply")
        await settle()
    finally:
        state.close()

    assert_one_reload(client.sent, "reloaded")


async def test_the_second_reload_starts_from_the_first_ones_outcome(project):
    state, client = started_state(FinishedBeforeSubmitReturns())
    try:
        path = edited_module(project, "order_twice")
        features.handle_request(client, "reloadPath", 1, {"path": path, "force": True})
        await settle()
        first = client.sent[-1][1]
        client.sent.clear()

        features.handle_request(client, "reloadPath", 2, {"path": path, "force": True})
        await settle()
    finally:
        state.close()

    assert_one_reload(client.sent, "reloaded", before=first)


async def test_first_reloads_with_fresh_worker_threads_end_with_their_own_idle(project):
    # The real runner: its worker thread is made by the first submit.  Whether that
    # thread wins the race depends on the machine; every run must be in order.
    for attempt in range(20):
        state, client = started_state(ThreadRunner())
        try:
            path = edited_module(project, f"order_fresh_{attempt}")
            features.handle_request(client, "reloadPath", 1, {"path": path, "force": True})
            await wait_until_async(lambda c=client: replied(c), what="the reply")
            await settle()
        finally:
            state.close()
        assert_one_reload(client.sent, "reloaded")


def replied(client: Recorder) -> bool:
    return any(kind in ("result", "error") for kind, _ in client.sent)


@pytest.mark.parametrize("text", [GREETING_V2, "def greet(:\n"], ids=["reloaded", "failed"])
def test_the_first_reload_of_a_fresh_app_as_a_client_sees_it(make_app, text):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    with Raw(app.address) as conn:
        conn.initialize()
        assert conn.receive()["params"]["state"] == "idle"  # the status after initialized
        app.write("greeting.py", text)
        msg_id = conn.request("reloadPath", {"path": app.path("greeting.py")})
        seen = []
        while "id" not in (msg := conn.receive()):
            seen.append(msg)

    assert msg["id"] == msg_id
    statuses = [m["params"] for m in seen if m["method"] == "reloadServer/status"]
    assert [s["state"] for s in statuses] == ["reloading", "idle"], seen
    assert statuses[0]["lastReload"] is None
    assert statuses[1]["lastReload"] == msg["result"]
    assert seen[-1]["method"] == "reloadServer/status"  # nothing of this reload after it
