"""Load and concurrency: many clients at once, and app threads using the code being reloaded."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support.probes import server_alive
from support.raw import Raw
from support.sources import write_source

PROBE = """\
import threading

LOCK = threading.Lock()
ACTIVE = [0]
MAX = [0]
RUNS = [0]


def enter():
    with LOCK:
        ACTIVE[0] += 1
        MAX[0] = max(MAX[0], ACTIVE[0])
        RUNS[0] += 1


def leave():
    with LOCK:
        ACTIVE[0] -= 1
"""

# Reloaded unchanged, each client runs whole (``__reload__``) so that every reload enters the probe.
CLIENT_MODULE = """\
__reload__ = "full"

import time

import probe

probe.enter()
try:
    time.sleep(0.002)  # a window for another reload to overlap, if reloads were not serialized

    def who():
        return {who!r}
finally:
    probe.leave()
"""

CLIENTS = 4
PER_CLIENT = 25


@pytest.fixture(scope="module")
def app(module_apps):
    modules = {"probe.py": PROBE}
    modules.update({f"client_{i}.py": CLIENT_MODULE.format(who=f"c{i}") for i in range(CLIENTS)})
    return module_apps(modules, ["probe"] + [f"client_{i}" for i in range(CLIENTS)])


def test_concurrent_clients_each_get_exactly_their_replies_and_reloads_are_serialized(app):
    runs_before = app.eval("probe.RUNS[0]")
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        try:
            with Raw(app.address, timeout=60) as conn:
                conn.initialize({"clientName": f"client-{i}"})
                barrier.wait(30)
                ids = set()
                for k in range(PER_CLIENT):
                    msg_id = f"client{i}-{k}"
                    if k % 5 == 4:
                        conn.request(
                            "workspace/executeCommand",
                            {
                                "command": "reload_server.reloadPath",
                                "arguments": [{"path": app.path(f"client_{i}.py"), "force": True}],
                            },
                            msg_id=msg_id,
                        )
                    else:
                        conn.request(
                            "reloadPath",
                            {"path": app.path(f"client_{i}.py"), "force": True},
                            msg_id=msg_id,
                        )
                    ids.add(msg_id)
                results[i] = conn.replies(ids, timeout=120)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)

    assert errors == []
    for i in range(CLIENTS):
        got = results[i]
        assert set(got) == {f"client{i}-{k}" for k in range(PER_CLIENT)}, "lost or crossed replies"
        for replies in got.values():
            assert len(replies) == 1
            outcome = replies[0]["result"]
            assert outcome["status"] == "reloaded", outcome
            assert outcome["modules"] == [f"client_{i}"]
            assert outcome["files"] == [app.path(f"client_{i}.py")]
        assert app.eval(f"sys.modules['client_{i}'].who()") == f"c{i}"
    assert app.eval("probe.RUNS[0]") - runs_before == CLIENTS * PER_CLIENT
    assert app.eval("probe.MAX[0]") == 1, "two reloads ran at the same time"
    assert server_alive(app)


def test_reloads_from_clients_and_from_the_app_itself_are_serialized_too(app):
    runs_before = app.eval("probe.RUNS[0]")
    app.exec(
        "def _app_reloads():\n"
        "    for _ in range(30):\n"
        "        reload_server.reimport('client_0')\n"
        "APP_RELOADER = threading.Thread(target=_app_reloads)\n"
        "APP_RELOADER.start()\n"
    )
    with Raw(app.address, timeout=60) as conn:
        conn.initialize()
        ids = {
            conn.request("reloadPath", {"path": app.path("client_0.py"), "force": True})
            for _ in range(30)
        }
        got = conn.replies(ids, timeout=120)
    app.exec("APP_RELOADER.join(60)")

    assert app.eval("not APP_RELOADER.is_alive()")
    assert all(r[0]["result"]["status"] == "reloaded" for r in got.values())
    assert app.eval("probe.RUNS[0]") - runs_before == 60
    assert app.eval("probe.MAX[0]") == 1


BUSY = """\
try:
    STATE
except NameError:
    STATE = {{"made": 0}}

VERSION = {version!r}


def compute(x):
    if x < 0:
        raise ValueError("negative")  # the code's own exception
    return {compute}


class Widget:
    def __init__(self, n):
        self.n = n

    def area(self):
        return {area}

    def describe(self):
        return f"{{VERSION}}:{{self.area()}}"

    @property
    def double(self):
        return compute(self.n)

    @classmethod
    def make(cls, n):
        return cls(n)

    @staticmethod
    def kind():
        return {kind}


def callback(x):
    return compute(x) + 1
"""

VERSIONS = [
    BUSY.format(version="A", compute="x * 2", area="self.n * self.n", kind='"widget"'),
    BUSY.format(version="B", compute="x + x", area="self.n ** 2", kind='"wid" + "get"'),
]

SUB = """\
import busy


class Gadget(busy.Widget):
    def area(self):
        return super().area() + 1
"""

USERS = """
import traceback, time
import busy, busy_sub

ERRORS = []
CALLS = [0, 0, 0]
STOP = threading.Event()
CALLBACKS = [busy.callback]
OLD = [busy.Widget(3), busy_sub.Gadget(3)]
# The class object every reload keeps (docs/reimport.md, "Threads": while a
# module body runs, a name looked up in it may briefly be the new class object).
WIDGET = busy.Widget


def check(ok, what):
    if not ok:
        ERRORS.append(what)


def use(slot):
    i = 0
    while not STOP.is_set():
        i += 1
        x = i % 40 - 4
        try:
            try:
                check(busy.compute(x) == 2 * x, f"compute({x})")
            except ValueError:
                check(x < 0, f"ValueError for {x}")
            if x >= 0:
                w = busy.Widget.make(x)
                g = busy_sub.Gadget(x)
                check(w.area() == x * x, "area")
                check(g.area() == x * x + 1, "subclass area")
                check(w.double == 2 * x, "property")
                check(w.describe() in (f"A:{x * x}", f"B:{x * x}"), "describe")
                check(busy.Widget.kind() == "widget", "staticmethod")
                check(CALLBACKS[0](x) == 2 * x + 1, "callback")
                check(isinstance(g, WIDGET) and isinstance(OLD[1], WIDGET), "isinstance")
                check(OLD[1].area() == 10, "old subclass instance")
        except Exception:
            ERRORS.append(traceback.format_exc())
        CALLS[slot] += 1
        if i % 50 == 0:
            time.sleep(0.001)


USERS = [threading.Thread(target=use, args=(k,), daemon=True) for k in range(3)]
for _t in USERS:
    _t.start()
"""

RELOADS = 200


@pytest.fixture
def busy_app(make_app):
    return make_app({"busy.py": VERSIONS[0], "busy_sub.py": SUB}, ["busy", "busy_sub"])


def test_app_threads_using_the_code_during_hundreds_of_reloads_see_only_its_own_errors(busy_app):
    app = busy_app
    app.exec(USERS)
    path = app.src / "busy.py"
    statuses = []
    calls_seen = []
    with Raw(app.address, timeout=60) as conn:
        conn.initialize()
        for n in range(1, RELOADS + 1):
            write_source(path, VERSIONS[n % 2])
            reply = conn.call("reloadPath", {"path": str(path)})
            statuses.append(reply["result"]["status"])
            if n % 50 == 0:
                calls_seen.append(app.eval("sum(CALLS)"))
    app.exec("STOP.set()\nfor _t in USERS:\n    _t.join(30)\n")

    assert statuses == ["reloaded"] * RELOADS
    assert app.eval("ERRORS[:5]") == []
    # The threads kept working all along (no deadlock, no thread died).
    assert calls_seen == sorted(calls_seen) and len(set(calls_seen)) == len(calls_seen)
    assert app.eval("all(c > 0 for c in CALLS)")
    assert app.eval("not any(t.is_alive() for t in USERS)")
    # Consistent final state: the last version (A) everywhere, old objects included.
    assert app.eval("busy.VERSION") == "A"
    assert app.eval("OLD[0].describe()") == "A:9"
    assert app.eval("OLD[1].describe()") == "A:10"
    assert app.eval("CALLBACKS[0] is busy.callback")
    assert app.eval("busy.Widget is WIDGET and isinstance(OLD[1], busy.Widget)")
    assert app.eval("type(OLD[0]) is busy.Widget and busy_sub.Gadget.__bases__ == (busy.Widget,)")
    assert server_alive(app)
