"""Who may use the server: the token, the loopback rule, and the roots."""

from __future__ import annotations

import os

import pytest
from pygls.exceptions import JsonRpcException
from support.sources import GREETING, GREETING_V2

from reload_server.wire.client import LspClient, RpcError

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(shared_app_factory):
    """One app serving with a token, for the token tests (each uses a module of its own)."""
    return shared_app_factory(serve={"token": TOKEN})


@pytest.mark.parametrize(
    "options", [{}, {"token": "wrong"}, {"token": 12345}], ids=["missing", "wrong", "not-a-string"]
)
def test_a_missing_or_wrong_token_is_refused_and_the_connection_closed(guarded, options):
    client = LspClient(*guarded.address, timeout=10)

    with pytest.raises(RpcError) as err:
        client.request(
            "initialize", {"processId": None, "capabilities": {}, "initializationOptions": options}
        )

    assert err.value.code == -32001
    assert "token" in err.value.message
    with pytest.raises(ConnectionError):
        client.receive()
    client.close()


async def test_the_right_token_is_accepted(guarded, connect):
    greeting = guarded.add_module(GREETING, "greeting")
    editor = await connect(guarded, {"token": TOKEN})
    greeting.write(GREETING_V2)

    outcome = await editor.request("reloadPath", {"path": greeting.path})

    assert outcome["status"] == "reloaded"
    assert greeting.eval("greet()") == "hello again"


def test_a_refused_client_cannot_reload_anything(guarded):
    greeting = guarded.add_module(GREETING, "greeting")
    greeting.write(GREETING_V2)
    client = LspClient(*guarded.address, timeout=10)
    with pytest.raises(RpcError):
        client.initialize({"token": "wrong"})

    with pytest.raises((ConnectionError, OSError)):
        client.request("reloadPath", {"path": greeting.path})

    assert greeting.eval("greet()") == "hello"


@pytest.fixture(scope="module")
def serverless(shared_app_factory):
    """An app whose own serve() was refused: the bind tests call serve() in it themselves."""
    app = shared_app_factory(serve={"address": ["0.0.0.0", 0]}, expect_error=True)
    assert app.address is None
    return app


@pytest.mark.parametrize(
    "kwargs",
    [
        "address=('0.0.0.0', 0)",
        "address=('0.0.0.0', 0), allow_remote=True",
        "address=('0.0.0.0', 0), token='tok'",
        "address=('', 0), allow_remote=True",
    ],
    ids=["no-opt-in", "opt-in-without-token", "token-without-opt-in", "all-interfaces-no-token"],
)
def test_a_non_loopback_bind_is_refused_without_opt_in_and_token(serverless, kwargs):
    serverless.exec(
        f"try:\n    reload_server.serve({kwargs})\n    error = None\n"
        "except ValueError as e:\n    error = str(e)\n"
    )

    assert "allow_remote" in serverless.eval("error")
    assert serverless.eval("reload_server.server.control.address()") is None


def test_a_non_loopback_bind_with_opt_in_and_token_listens(serverless):
    host, port = serverless.eval(
        f"reload_server.serve(('0.0.0.0', 0), allow_remote=True, token={TOKEN!r})"
    )
    try:
        assert host == "0.0.0.0"
        with LspClient("127.0.0.1", port, timeout=10) as client:
            client.initialize({"token": TOKEN})
    finally:
        serverless.exec("reload_server.stop()")


@pytest.fixture
def rooted_app(make_app):
    # A relative root is relative to the app's working directory when serve() is called.
    return make_app(
        {"inside/greeting.py": GREETING, "outside/other.py": GREETING},
        ["inside.greeting", "outside.other"],
        serve={"roots": ["src/inside"]},
    )


async def test_reload_path_outside_the_roots_is_refused(rooted_app, connect):
    app = rooted_app
    editor = await connect(app)
    app.write("outside/other.py", GREETING_V2)

    with pytest.raises(JsonRpcException) as err:
        await editor.request("reloadPath", {"path": app.path("outside/other.py")})

    assert err.value.code == -32003
    assert app.eval("sys.modules['outside.other'].greet()") == "hello"


async def test_reload_path_inside_the_roots_works(rooted_app, connect):
    app = rooted_app
    editor = await connect(app)
    app.write("inside/greeting.py", GREETING_V2)

    outcome = await editor.request("reloadPath", {"path": app.path("inside/greeting.py")})

    assert outcome["status"] == "reloaded"
    assert app.eval("sys.modules['inside.greeting'].greet()") == "hello again"


async def test_a_symlink_inside_the_roots_does_not_reach_outside(rooted_app, connect):
    app = rooted_app
    editor = await connect(app)
    app.write("outside/other.py", GREETING_V2)
    link = app.src / "inside" / "link.py"
    os.symlink(app.src / "outside" / "other.py", link)

    with pytest.raises(JsonRpcException) as err:
        await editor.request("reloadPath", {"path": str(link)})

    assert err.value.code == -32003
    assert app.eval("sys.modules['outside.other'].greet()") == "hello"


async def test_reload_stale_only_reloads_under_the_roots(rooted_app, connect):
    app = rooted_app
    editor = await connect(app)
    app.write("inside/greeting.py", GREETING_V2)
    app.write("outside/other.py", GREETING_V2)

    outcome = await editor.request("reloadStale", {})

    assert outcome["modules"] == ["inside.greeting"]
    assert app.eval("sys.modules['outside.other'].greet()") == "hello"
