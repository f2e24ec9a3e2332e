"""Bad input gets JSON-RPC errors over a raw socket, and the server keeps serving."""

from __future__ import annotations

import json

import pytest
from support.sources import GREETING

from reload_server.wire.client import LspClient, RpcError


@pytest.fixture(scope="module")
def app(shared_app_factory):
    # These tests only send messages: one app serves them all, which also shows
    # it survives every one of them.
    return shared_app_factory({"greeting.py": GREETING}, ["greeting"])


@pytest.fixture
def raw(app):
    client = LspClient(*app.address, timeout=10)
    yield client
    client.close()


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def next_reply(client: LspClient) -> dict:
    """The next message that is not a notification."""
    while True:
        message = client.receive()
        if "method" not in message:
            return message


def still_serves(client: LspClient) -> None:
    assert client.request("reloadStale", {})["status"] == "unchanged"


def test_a_body_that_is_not_json_gets_a_parse_error(raw):
    raw.initialize()

    raw.sock.sendall(frame(b'{"jsonrpc": "2.0", "id": 1, "method": '))

    reply = next_reply(raw)
    assert reply["id"] is None
    assert reply["error"]["code"] == -32700
    still_serves(raw)


def test_json_that_is_not_a_request_object_is_an_invalid_request(raw):
    raw.initialize()

    raw.sock.sendall(frame(b"[1, 2, 3]"))

    assert next_reply(raw)["error"]["code"] == -32600
    still_serves(raw)


def test_a_message_without_jsonrpc_version_is_an_invalid_request(raw):
    raw.initialize()

    raw.sock.sendall(frame(json.dumps({"id": 7, "method": "reloadStale"}).encode()))

    reply = next_reply(raw)
    assert (reply["id"], reply["error"]["code"]) == (7, -32600)
    still_serves(raw)


def test_an_unknown_method_gets_method_not_found(raw):
    raw.initialize()

    with pytest.raises(RpcError) as err:
        raw.request(
            "textDocument/completion",
            {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}},
        )

    assert err.value.code == -32601
    still_serves(raw)


def test_an_unknown_command_gets_method_not_found(raw):
    raw.initialize()

    with pytest.raises(RpcError) as err:
        raw.request(
            "workspace/executeCommand", {"command": "reload_server.formatDisk", "arguments": []}
        )

    assert err.value.code == -32601
    still_serves(raw)


@pytest.mark.parametrize(
    "params",
    [{"path": 42}, {}, ["greeting.py"], {"path": "greeting.py", "force": "yes"}],
    ids=["path-not-a-string", "no-path", "params-not-an-object", "force-not-a-bool"],
)
def test_wrong_reload_path_params_get_invalid_params(raw, params):
    raw.initialize()

    with pytest.raises(RpcError) as err:
        raw.request("reloadPath", params)

    assert err.value.code == -32602
    still_serves(raw)


def test_wrongly_typed_initialize_params_get_invalid_params(raw):
    with pytest.raises(RpcError) as err:
        raw.request("initialize", {"processId": "not a number", "capabilities": {}})

    assert err.value.code == -32602
    raw.initialize()  # the connection is still usable
    still_serves(raw)


def test_a_request_before_initialize_gets_server_not_initialized(raw):
    with pytest.raises(RpcError) as err:
        raw.request("reloadStale", {})

    assert err.value.code == -32002


def test_a_request_after_shutdown_gets_invalid_request(raw):
    raw.initialize()
    raw.request("shutdown")

    with pytest.raises(RpcError) as err:
        raw.request("reloadStale", {})

    assert err.value.code == -32600


def test_an_oversized_message_closes_only_that_connection(app, raw):
    raw.initialize()

    raw.sock.sendall(b"Content-Length: %d\r\n\r\n" % (17 * 1024 * 1024))

    reply = next_reply(raw)
    assert reply["error"]["code"] == -32700
    with pytest.raises(ConnectionError):
        next_reply(raw)
    with LspClient(*app.address, timeout=10) as fresh:
        fresh.initialize()
        still_serves(fresh)


def test_a_header_without_content_length_closes_only_that_connection(app, raw):
    raw.initialize()

    raw.sock.sendall(b"Content-Type: application/json\r\n\r\n{}")

    assert next_reply(raw)["error"]["code"] == -32700
    with pytest.raises(ConnectionError):
        next_reply(raw)
    with LspClient(*app.address, timeout=10) as fresh:
        fresh.initialize()
        still_serves(fresh)


def test_exit_closes_the_connection_and_the_app_lives_on(app, raw):
    raw.initialize()
    raw.request("shutdown")

    raw.notify("exit")

    with pytest.raises(ConnectionError):
        raw.receive()
    assert app.proc.poll() is None
    assert app.eval("1 + 1") == 2
