"""Bad input on the wire, property-based: whatever a client sends, the server answers or
closes that one connection, and the app loses nothing.

Every example talks to the same real app process over real TCP connections.
Hypothesis runs derandomized (a fixed seed derived from each test) with no
example database, so a failure replays identically; the failing input is
printed by Hypothesis.  The number of inputs tried is printed at the end of
the run ("reliability: fuzz inputs ...").
"""

from __future__ import annotations

import json
import os
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from support.reliability_support import Closed, Raw, count, frame, message, snapshot

from reload_server.server import session as _session  # noqa: F401 - see below
from reload_server.wire.framing import MAX_BODY

# Hypothesis mixes constants of the loaded local modules into what it draws; the
# server's own (method names, error texts) are always loaded here, so the derandomized
# inputs do not depend on which other test modules ran first.

FUZZED = """\
try:
    STATE
except NameError:
    STATE = {"hits": 0, "items": [1, 2, 3]}


def hit():
    STATE["hits"] += 1
    return STATE["hits"]


class Thing:
    def value(self):
        return 41 + 1
"""

# bench/fuzz_long.py scales the number of examples up and picks seeds of its own
# (``--hypothesis-seed``); the CI run is derandomized: the same inputs every time.
SCALE = int(os.environ.get("RELOAD_SERVER_FUZZ_SCALE", "1"))
SEEDED = bool(os.environ.get("RELOAD_SERVER_FUZZ_SEEDED"))

FUZZ = settings(
    derandomize=not SEEDED,
    # A failure prints @reproduce_failure(...): it replays the exact input anywhere.
    print_blob=True,
    # CI time stays bounded even when an example fails (waits of FUZZ_TIMEOUT): the
    # failing example is printed as found; bench/fuzz_long.py also shrinks it.
    phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if SEEDED else []),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Bounded waits inside examples: a failing example must not make shrinking take forever.
FUZZ_TIMEOUT = 5.0

DOCUMENTED_ERRORS = {-32700, -32600, -32601, -32602, -32001, -32002, -32003, -32800}


@pytest.fixture(scope="module")
def app(module_apps):
    app = module_apps({"fuzzed.py": FUZZED}, ["fuzzed"])
    app.exec("fuzzed.hit(); KEEP = (fuzzed.Thing, fuzzed.hit, fuzzed.STATE, fuzzed.Thing())")
    return app


@pytest.fixture(scope="module")
def before(app):
    return snapshot(app, "fuzzed")


def assert_app_intact(app: Any, before: dict[str, Any]) -> None:
    """The app lost nothing, and a new client's well-formed reloadPath still works."""
    assert snapshot(app, "fuzzed") == before
    assert app.eval("fuzzed.STATE") == {"hits": 1, "items": [1, 2, 3]}
    with Raw(app.address) as conn:
        conn.initialize()
        reply = conn.call("reloadPath", {"path": app.path("fuzzed.py"), "force": True})
    assert reply["result"]["status"] == "reloaded", reply
    assert reply["result"]["modules"] == ["fuzzed"]
    # Reloaded in place: the same objects (running new code objects), the same state.
    after = snapshot(app, "fuzzed")
    assert {k: v for k, v in after.items() if k != "code"} == {
        k: v for k, v in before.items() if k != "code"
    }
    before["code"] = after["code"]
    assert app.eval("KEEP[0] is fuzzed.Thing and KEEP[1] is fuzzed.hit and KEEP[2] is fuzzed.STATE")
    assert app.eval("KEEP[3].value()") == 42


# -- strategies ------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)

NASTY_STRINGS = [
    "",
    "\x00",
    "a\x00b.py",
    "\ud800",
    "\udcff.py",
    "..",
    "../../../../etc/passwd",
    "/",
    "//",
    "file:",
    "file://",
    "file:///%00",
    "file://host/share/x.py",
    "file:///nonexistent/x.py",
    "http://example.com/x.py",
    "__import__('os').system('touch PWNED')",
    "os",
    "json",
    "reload_server",
    "fuzzed",
    "src",
    ".",
    "~/x.py",
    "x" * 5000,
    "é/ü.py",
]

path_like = st.sampled_from(NASTY_STRINGS) | st.text(max_size=30) | json_values

METHODS = [
    "reloadPath",
    "reloadStale",
    "workspace/executeCommand",
    "initialize",
    "initialized",
    "textDocument/didSave",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/hover",
    "workspace/symbol",
    "workspace/didChangeWorkspaceFolders",
    "workspace/didChangeConfiguration",
    "reloadServer/status",
    "$/cancelRequest",
    "$/setTrace",
    "$/progress",
    "window/workDoneProgress/cancel",
    "",
    "rpc.discover",
]
# These change the connection's lifecycle; the lifecycle is exercised in a fixed order.
LIFECYCLE = {"exit", "shutdown"}

methods = (st.sampled_from(METHODS) | st.text(max_size=20)).filter(lambda m: m not in LIFECYCLE)

params = (
    json_values
    | st.fixed_dictionaries({"path": path_like}, optional={"force": json_values, "uri": path_like})
    | st.fixed_dictionaries({"uri": path_like})
    | st.fixed_dictionaries({"root": path_like})
    | st.fixed_dictionaries(
        {
            "command": st.sampled_from(["reload_server.reloadPath", "reload_server.reloadStale"])
            | st.text(max_size=20)
        },
        optional={"arguments": st.lists(path_like | json_values, max_size=3) | json_values},
    )
    | st.fixed_dictionaries(
        {"textDocument": st.fixed_dictionaries({"uri": path_like}) | json_values}
    )
    | st.fixed_dictionaries({"id": json_values})
)

# How an id is chosen: absent, null, a fresh number, a fresh string, or a value of a bad type.
id_kinds = st.sampled_from(["absent", "null", "int", "str", "bad"])
bad_ids = st.sampled_from([1.5, True, False, [1], {"a": 1}, [], -0.5])


@st.composite
def envelopes(draw: Any, method_strategy: Any = methods) -> dict[str, Any]:
    """A JSON object shaped more or less like a JSON-RPC message."""
    msg: dict[str, Any] = {}
    jsonrpc = draw(st.sampled_from(["2.0", "2.0", "2.0", "absent", "1.0", 2.0, None]))
    if jsonrpc != "absent":
        msg["jsonrpc"] = jsonrpc
    kind = draw(id_kinds)
    if kind != "absent":
        msg["id"] = {"null": None, "int": "ID_INT", "str": "ID_STR"}.get(kind) or draw(bad_ids)
    shape = draw(st.sampled_from(["method", "method", "method", "method", "none", "bad", "reply"]))
    if shape == "method":
        msg["method"] = draw(method_strategy)
    elif shape == "bad":
        msg["method"] = draw(json_values.filter(lambda v: not isinstance(v, str) and v is not None))
    elif shape == "reply":
        msg[draw(st.sampled_from(["result", "error"]))] = draw(json_values)
    if draw(st.booleans()):
        msg["params"] = draw(params)
    return msg


raw_bodies = st.binary(max_size=64) | st.text(max_size=40).map(lambda s: s.encode("utf-8"))
non_objects = json_values.filter(lambda v: not isinstance(v, dict))

bodies = st.one_of(
    envelopes(),
    envelopes(),
    envelopes(),
    raw_bodies.map(lambda b: ("RAW", b)),
    non_objects.map(lambda v: ("JSON", v)),
)


# -- the oracle: what the server must answer ------------------------------------------------

NULL = ("null",)


def expected_reply(data: Any) -> Any:
    """None (no reply), NULL (one error with id null) or ("id", value) (one reply with that id)."""
    if not isinstance(data, dict):
        return NULL
    msg_id = data.get("id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
        return NULL
    reply = NULL if msg_id is None else ("id", msg_id)
    if data.get("jsonrpc") != "2.0":
        return reply
    method = data.get("method")
    if method is None:
        if "id" in data and ("result" in data or "error" in data):
            return None  # a reply to a request of ours
        return reply
    if not isinstance(method, str):
        return reply
    return reply if "id" in data else None


class Exchange:
    """One connection's expected replies, checked against what arrives."""

    def __init__(self, conn: Raw) -> None:
        self.conn = conn
        self.next_id = 0
        self.expect_ids: dict[Any, str] = {}
        self.expect_null = 0
        self.sent = 0

    def fresh(self, kind: str) -> Any:
        self.next_id += 1
        return self.next_id if kind == "ID_INT" else f"s{self.next_id}"

    def send(self, body: Any, phase: str) -> None:
        if isinstance(body, tuple) and body[0] == "RAW":
            data: Any = body[1]
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = ValueError
            assume(not isinstance(parsed, dict))
            expect = NULL
            raw = frame(data)
        else:
            data = body[1] if isinstance(body, tuple) else dict(body)
            if isinstance(data, dict) and data.get("id") in ("ID_INT", "ID_STR"):
                data["id"] = self.fresh(data["id"])
            expect = expected_reply(data)
            raw = message(data)
        if expect == NULL:
            self.expect_null += 1
        elif expect is not None:
            self.expect_ids[expect[1]] = phase
        self.conn.send(raw)
        self.sent += 1

    def check(self) -> None:
        """Every request got exactly one reply, every bad message one error, nothing else."""
        sentinel = f"sentinel{self.fresh('ID_INT')}"
        self.conn.request("reloadServer/noSuchMethod", {}, msg_id=sentinel)
        got = self.conn.replies(set(self.expect_ids) | {sentinel})
        assert got.pop(sentinel)[0]["error"]["code"] in (-32601, -32002, -32600)
        nulls = got.pop(None, [])
        assert len(nulls) == self.expect_null, nulls
        for reply in nulls:
            assert reply["error"]["code"] in (-32700, -32600), reply
        assert set(got) == set(self.expect_ids), set(got) ^ set(self.expect_ids)
        for msg_id, replies in got.items():
            assert len(replies) == 1, replies
            reply = replies[0]
            assert ("result" in reply) != ("error" in reply), reply
            if "error" in reply:
                assert reply["error"]["code"] in DOCUMENTED_ERRORS, reply
                phase = self.expect_ids[msg_id]
                if phase == "before":
                    assert reply["error"]["code"] in (-32002, -32600), reply
                if phase == "after":
                    assert reply["error"]["code"] == -32600, reply
            else:
                assert self.expect_ids[msg_id] == "during", reply
        self.expect_ids.clear()
        self.expect_null = 0


@settings(FUZZ, max_examples=250 * SCALE)
@given(
    before_init=st.lists(envelopes(methods.filter(lambda m: m != "initialize")), max_size=4),
    during=st.lists(bodies, min_size=5, max_size=40),
    after_shutdown=st.lists(envelopes(), max_size=4),
)
def test_every_framed_message_gets_its_error_or_reply_and_nothing_else(
    app, before, before_init, during, after_shutdown
):
    with Raw(app.address, timeout=FUZZ_TIMEOUT) as conn:
        ex = Exchange(conn)
        for body in before_init:
            ex.send(body, "before")
        ex.check()
        conn.initialize({"reloadOnSave": True})
        for body in during:
            ex.send(body, "during")
        ex.check()
        reply = conn.call("shutdown")
        assert reply["result"] is None
        for body in after_shutdown:
            ex.send(body, "after")
        ex.check()
        conn.notify("exit")
        stray = conn.drain_until_closed()
        assert [m for m in stray if "method" not in m] == []
        count("fuzz inputs", ex.sent)
        count("fuzz connections")


@pytest.mark.usefixtures("before")
def test_the_app_is_intact_after_framed_fuzzing(app, before):
    # Runs after the property above (file order): nothing it sent changed the app.
    assert_app_intact(app, before)


# -- input that cannot be framed: that connection, and only it, is closed -------------------

header_garbage = st.one_of(
    st.binary(max_size=200),
    st.text(alphabet=string.printable, max_size=100).map(str.encode),
    st.sampled_from(
        [
            b"Content-Length: abc\r\n\r\n{}",
            b"Content-Length: -5\r\n\r\n",
            b"Content-Length: 1e3\r\n\r\n",
            b"Content-Length: 0x10\r\n\r\n",
            b"Content-Length:\r\n\r\n",
            b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1),
            b"Content-Length: 99999999999999999999999\r\n\r\n",
            b"Content-Type: application/json\r\n\r\n{}",
            b"no colon here\r\n\r\n",
            b"X" * 9000 + b"\r\n\r\n",
            b"A: b\r\n" * 40 + b"\r\n",
            b'Content-Length: 100\r\n\r\n{"jsonrpc": "2.0"',
            b"Content-Length: 10\r\n",
            b"Content-Length: 10",
            b"\xff\xfe\x00\x00",
        ]
    ),
    st.builds(
        lambda n, body: b"Content-Length: %d\r\n\r\n" % n + body[: max(n - 1, 0)],
        st.integers(min_value=1, max_value=4096),
        st.binary(max_size=4096),
    ),
)


@settings(FUZZ, max_examples=300 * SCALE)
@given(garbage=header_garbage, then_valid=st.booleans())
def test_unframeable_input_gets_a_parse_error_and_only_that_connection_is_closed(
    app, before, garbage, then_valid
):
    bystander = Raw(app.address)
    try:
        bystander.initialize()
        with Raw(app.address, timeout=FUZZ_TIMEOUT) as conn:
            conn.send(garbage)
            if then_valid:
                # Whatever follows garbage on the same connection: framed or not, never a crash.
                conn.send(message({"jsonrpc": "2.0", "id": 1, "method": "reloadStale"}))
            conn.half_close()
            received = conn.drain_until_closed()
        frame_errors = [m for m in received if m.get("id") is None]
        for m in frame_errors:
            assert m["error"]["code"] in (-32700, -32600), m
        assert all("error" in m or "method" in m for m in received), received
        count("fuzz inputs")
        count("fuzz connections")
        # The other client was not affected.
        reply = bystander.call("reloadPath", {"path": "no/such/file.py"})
        assert reply["result"]["status"] == "not_loaded"
    finally:
        bystander.close()


def test_the_app_is_intact_after_unframeable_input(app, before):
    assert_app_intact(app, before)


# -- limits and floods ------------------------------------------------------------------------


def test_a_message_over_the_size_limit_gets_a_parse_error_and_the_connection_closes(app, before):
    with Raw(app.address) as conn:
        conn.initialize()
        conn.send(b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        received = conn.drain_until_closed()
    errors = [m for m in received if "error" in m]
    assert len(errors) == 1
    assert errors[0]["id"] is None and errors[0]["error"]["code"] == -32700
    assert "limit" in errors[0]["error"]["message"]
    count("fuzz inputs")
    assert_app_intact(app, before)


def test_a_message_of_exactly_the_size_limit_is_read_and_answered(app, before):
    head = b'{"jsonrpc": "2.0", "id": 7, "method": "noSuchMethod", "params": {"pad": "'
    tail = b'"}}'
    body = head + b"x" * (MAX_BODY - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY
    with Raw(app.address) as conn:
        conn.initialize()
        conn.send(frame(body))
        reply = conn.replies({7}, timeout=60)[7][0]
        assert reply["error"]["code"] == -32601
        # The connection is still usable.
        assert conn.call("reloadPath", {"path": "nope.py"})["result"]["status"] == "not_loaded"
    count("fuzz inputs")
    assert_app_intact(app, before)


FLOOD = 3000


def test_a_flood_of_pipelined_requests_gets_exactly_one_reply_each(app, before):
    kinds = [
        ("reloadPath", {"path": "flood/none.py"}),
        ("noSuchMethod", {}),
        ("reloadPath", {"path": 5}),
        ("reloadStale", {"root": str(app.root / "nowhere")}),
        ("workspace/executeCommand", {"command": "nope", "arguments": []}),
    ]
    with Raw(app.address, timeout=60) as conn:
        conn.initialize()
        ids = set()
        chunk = []
        for i in range(FLOOD):
            method, p = kinds[i % len(kinds)]
            chunk.append(message({"jsonrpc": "2.0", "id": i, "method": method, "params": p}))
            ids.add(i)
        conn.send(b"".join(chunk))  # all at once, before reading anything
        got = conn.replies(ids, timeout=120)
    assert set(got) == ids
    assert all(len(v) == 1 for v in got.values())
    assert got[0][0]["result"]["status"] == "not_loaded"
    assert got[1][0]["error"]["code"] == -32601
    assert got[2][0]["error"]["code"] == -32602
    assert got[3][0]["result"]["status"] == "unchanged"
    assert got[4][0]["error"]["code"] == -32601
    count("fuzz inputs", FLOOD)
    assert_app_intact(app, before)


def test_a_flood_of_connections_is_served(app, before):
    conns = [Raw(app.address, timeout=60) for _ in range(64)]
    try:
        for i, conn in enumerate(conns):
            conn.send_json(
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "initialize",
                    "params": {"processId": None, "capabilities": {}},
                }
            )
        for i, conn in enumerate(conns):
            assert "result" in conn.replies({i})[i][0]
            conn.notify("initialized", {})
            conn.request("reloadPath", {"path": f"conn{i}.py"}, msg_id=f"c{i}")
        for i, conn in enumerate(conns):
            reply = conn.replies({f"c{i}"})[f"c{i}"][0]
            assert reply["result"]["status"] == "not_loaded"
            assert reply["result"]["files"][0].endswith(f"conn{i}.py")
    finally:
        for conn in conns:
            conn.close()
    count("fuzz inputs", 2 * len(conns))
    count("fuzz connections", len(conns))
    assert_app_intact(app, before)


def test_a_client_that_vanishes_mid_message_does_not_disturb_the_server(app, before):
    for cut in (1, 10, 25):
        data = message({"jsonrpc": "2.0", "id": 1, "method": "reloadStale"})
        with Raw(app.address) as conn:
            conn.send(data[:cut])
        count("fuzz inputs")
    with pytest.raises(Closed):
        with Raw(app.address) as conn:
            conn.send(b"Content-Length: 5\r\n\r\n{")
            conn.half_close()
            while True:
                conn.receive()
    assert_app_intact(app, before)


def test_a_notification_sent_with_an_id_gets_an_invalid_request_error(app, before):
    # Found by the property above: pygls ran these as notifications and never replied.
    uri = "file:///nowhere/x.py"
    notifications = {
        "textDocument/didSave": {"textDocument": {"uri": uri}},
        "textDocument/didOpen": {
            "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": ""}
        },
        "initialized": {},
        "$/cancelRequest": {"id": 1},
        "$/setTrace": {"value": "off"},
    }
    with Raw(app.address) as conn:
        conn.initialize()
        replies = [conn.call(method, p) for method, p in notifications.items()]
    assert [r["error"]["code"] for r in replies] == [-32600] * len(notifications), replies
    assert all("notification" in r["error"]["message"] for r in replies)
    count("fuzz inputs", len(notifications))
    assert_app_intact(app, before)
