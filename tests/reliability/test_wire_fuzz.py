"""Bad input on the wire, property-based: whatever a client sends, the server answers or
closes that one connection, and the app loses nothing.

What each message must get is read from docs/protocol.md ("Errors" and "Which
messages get a reply"), not from the server's code: the oracle below names each
row of that table, and the doc decides the order of the rows and the reply.

Every example talks to the same real app process over real TCP connections;
each test checks the state it made itself (the app as the test found it), so
any test runs alone or in any order.
Hypothesis runs derandomized (a fixed seed derived from each test) with no
example database, so a failure replays identically; the failing input is
printed by Hypothesis.  The number of inputs tried is printed at the end of
the run ("reliability: fuzz inputs ...").
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from support.paths import REPO
from support.probes import server_alive, snapshot
from support.raw import Closed, Raw, frame, message
from support.tally import count

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


@pytest.fixture(scope="module")
def app(module_apps):
    app = module_apps({"fuzzed.py": FUZZED}, ["fuzzed"])
    app.exec("fuzzed.hit(); KEEP = (fuzzed.Thing, fuzzed.hit, fuzzed.STATE, fuzzed.Thing())")
    # The first client makes the app import the language server, seconds on a
    # loaded machine: done here, so FUZZ_TIMEOUT bounds answers, not start-up.
    assert server_alive(app)
    return app


@pytest.fixture
def before(app):
    """The fuzzed module as this test finds it: what the test must leave intact."""
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
    "reloadServer/prepare",
    "reloadServer/finish",
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
        # "null" is an id too (the doc's table has a row for it), not a bad one.
        msg["id"] = (
            {"null": None, "int": "ID_INT", "str": "ID_STR"}[kind]
            if kind != "bad"
            else draw(bad_ids)
        )
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


# -- the oracle: docs/protocol.md, "Errors" and "Which messages get a reply" ----------------

PROTOCOL = REPO / "docs" / "protocol.md"


def _doc_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading`` in docs/protocol.md, as cells."""
    text = PROTOCOL.read_text(encoding="utf-8")
    assert heading in text, f"docs/protocol.md has no {heading!r}"
    rows: list[list[str]] = []
    for line in text.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # after the header row and the |---| row


@cache
def documented_errors() -> frozenset[int]:
    """Every error code of the "Errors" table."""
    return frozenset(int(row[0]) for row in _doc_table("## Errors"))


NOT_JSON = ("not JSON",)  # what the oracle is given for a body ``json.loads`` cannot read


def _object(m: Any) -> bool:
    return m is not NOT_JSON and isinstance(m, dict)


def _has_a_method(m: Any) -> bool:
    return m.get("method") is not None


# What each row of "Which messages get a reply" describes, by its first cell, verbatim.
ROWS: dict[str, Callable[[Any], bool]] = {
    "a body that is not JSON": lambda m: m is NOT_JSON,
    "JSON that is not an object (a batch, a string, a number, …)": lambda m: (
        m is not NOT_JSON and not isinstance(m, dict)
    ),
    "an `id` that is not a string, an integer or `null` (booleans and fractions included)": (
        lambda m: (
            _object(m)
            and "id" in m
            and m["id"] is not None
            and (isinstance(m["id"], bool) or not isinstance(m["id"], (int, str)))
        )
    ),
    'no `"jsonrpc": "2.0"`': lambda m: _object(m) and m.get("jsonrpc") != "2.0",
    (
        'no `method` (or `"method": null`), an `id`, and a `result` or an `error`: '
        "a reply to the server"
    ): lambda m: (
        _object(m) and not _has_a_method(m) and "id" in m and ("result" in m or "error" in m)
    ),
    'no `method` (or `"method": null`), or a `method` that is not a string': lambda m: (
        _object(m) and not isinstance(m.get("method"), str)
    ),
    "a string `method` and an `id` (even `null`): a request": lambda m: (
        _object(m) and isinstance(m.get("method"), str) and "id" in m
    ),
    "a string `method` and no `id`: a notification": lambda m: (
        _object(m) and isinstance(m.get("method"), str) and "id" not in m
    ),
}


class Expect(NamedTuple):
    """One reply the server owes: an error with ``code``, or (``code`` None) a request's reply."""

    id: Any
    code: int | None


def _reply(cell: str, message: Any) -> Expect | None:
    """What the "reply" cell of a row means for ``message``."""
    its_id = message.get("id") if isinstance(message, dict) else None
    if cell == "none":
        return None
    error = re.fullmatch(r"error `(-\d+)`, (with its `id`|`\"id\": null`)", cell)
    if error:
        return Expect(its_id if error[2] == "with its `id`" else None, int(error[1]))
    assert cell.startswith("one reply, with its `id`"), f"unknown reply in the doc: {cell!r}"
    return Expect(its_id, None)


@cache
def reply_rows() -> tuple[tuple[str, str], ...]:
    """(message, reply) of each row of "Which messages get a reply", in the doc's order."""
    return tuple((row[0], row[1]) for row in _doc_table("### Which messages get a reply"))


def expected_reply(message: Any) -> Expect | None:
    """What the protocol says ``message`` gets: None (no reply) or the one reply it owes.

    ``message`` is the parsed body, or :data:`NOT_JSON`.  The first row that fits
    decides, as the doc says.
    """
    for described, reply in reply_rows():
        assert described in ROWS, f"the oracle has no test for the doc's row {described!r}"
        if ROWS[described](message):
            return _reply(reply, message)
    raise AssertionError(f"no row of the doc's table fits {message!r}")


def fits(reply: dict[str, Any], expect: Expect, phase: str) -> bool:
    """Whether ``reply`` is the one ``expect`` describes, for a message sent in ``phase``."""
    if expect.code is not None:
        return "error" in reply and "result" not in reply and reply["error"]["code"] == expect.code
    if ("result" in reply) == ("error" in reply):
        return False
    if "result" in reply:
        return phase == "during"
    code = reply["error"]["code"]
    # "Errors": -32002 is a request before initialize, -32600 one after shutdown.
    allowed = {"before": {-32002, -32600}, "after": {-32600}}.get(phase, documented_errors())
    return code in allowed and code in documented_errors()


class Exchange:
    """One connection's expected replies, checked against what arrives."""

    def __init__(self, conn: Raw) -> None:
        self.conn = conn
        self.next_id = 0
        self.expect_ids: dict[Any, tuple[str, Expect]] = {}
        self.expect_null: list[tuple[str, Expect]] = []
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
                parsed = NOT_JSON
            assume(not isinstance(parsed, dict))
            expect = expected_reply(parsed)
            raw = frame(data)
        else:
            data = body[1] if isinstance(body, tuple) else dict(body)
            if isinstance(data, dict) and data.get("id") in ("ID_INT", "ID_STR"):
                data["id"] = self.fresh(data["id"])
            expect = expected_reply(data)
            raw = message(data)
        if expect is not None and expect.id is None:
            self.expect_null.append((phase, expect))
        elif expect is not None:
            self.expect_ids[expect.id] = (phase, expect)
        self.conn.send(raw)
        self.sent += 1

    def check(self) -> None:
        """Every message got the reply the protocol says, and nothing else came."""
        sentinel = f"sentinel{self.fresh('ID_INT')}"
        self.conn.request("reloadServer/noSuchMethod", {}, msg_id=sentinel)
        got = self.conn.replies(set(self.expect_ids) | {sentinel})
        assert got.pop(sentinel)[0]["error"]["code"] in (-32601, -32002, -32600)
        # Replies with "id": null cannot be told apart by id: each expected one
        # must take a different reply, the errors of fixed code first.
        nulls = got.pop(None, [])
        assert len(nulls) == len(self.expect_null), (nulls, self.expect_null)
        unmatched = list(nulls)
        for phase, expect in sorted(self.expect_null, key=lambda pe: pe[1].code is None):
            match = next((r for r in unmatched if fits(r, expect, phase)), None)
            assert match is not None, (expect, phase, unmatched)
            unmatched.remove(match)
        assert set(got) == set(self.expect_ids), set(got) ^ set(self.expect_ids)
        for msg_id, replies in got.items():
            assert len(replies) == 1, replies
            phase, expect = self.expect_ids[msg_id]
            assert fits(replies[0], expect, phase), (expect, phase, replies[0])
        self.expect_ids.clear()
        self.expect_null.clear()


@settings(FUZZ, max_examples=250 * SCALE)
@given(
    before_init=st.lists(envelopes(methods.filter(lambda m: m != "initialize")), max_size=4),
    during=st.lists(bodies, min_size=5, max_size=40),
    after_shutdown=st.lists(envelopes(), max_size=4),
)
def fuzz_framed_messages(app, before_init, during, after_shutdown):
    """Each example: one connection through its lifecycle, every message checked."""
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


def test_every_framed_message_gets_its_documented_reply_and_the_app_stays_intact(app, before):
    fuzz_framed_messages(app)
    assert_app_intact(app, before)


def test_the_oracle_knows_every_row_of_the_protocols_reply_table():
    described = [row for row, _ in reply_rows()]
    assert sorted(described) == sorted(ROWS), set(described) ^ set(ROWS)
    assert documented_errors() >= {-32700, -32600, -32601, -32602, -32002}


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
def fuzz_unframeable_input(app, garbage, then_valid):
    """Each example: garbage on a connection of its own, beside a well-behaved client."""
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


def test_unframeable_input_gets_a_parse_error_closes_only_its_connection_and_the_app_stays_intact(
    app, before
):
    fuzz_unframeable_input(app)
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
