"""Several editors at once: own replies, own lifecycle, nobody blocks anybody."""

from __future__ import annotations

import asyncio

from pytest_lsp import client_capabilities
from support.sources import GREETING, GREETING_V2
from support.waits import TIMEOUT

from reload_server.wire.client import LspClient


async def test_initialize_advertises_no_text_streaming_and_the_commands(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])

    editor = await connect(app, capabilities=client_capabilities("visual-studio-code"))

    caps = editor.init_result["capabilities"]
    assert caps["textDocumentSync"] == {
        "openClose": False,
        "change": 0,
        "save": {"includeText": False},
    }
    assert caps["executeCommandProvider"]["commands"] == [
        "reload_server.reloadPath",
        "reload_server.reloadStale",
    ]
    assert caps["experimental"]["reloadServer"]["app"]["pid"] == app.proc.pid
    assert editor.init_result["serverInfo"]["name"] == "reload_server"


async def test_two_clients_at_once_each_get_their_own_reply(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    vscode = await connect(
        app, name="vscode", capabilities=client_capabilities("visual-studio-code")
    )
    neovim = await connect(app, name="neovim", capabilities=client_capabilities("neovim"))
    app.write("greeting.py", GREETING_V2)

    reloaded, not_loaded = await asyncio.gather(
        vscode.request("reloadPath", {"path": app.path("greeting.py")}),
        neovim.request("reloadPath", {"path": app.path("nothing_here.py")}),
    )

    assert reloaded["status"] == "reloaded"
    assert not_loaded["status"] == "not_loaded"


async def test_one_clients_exit_leaves_the_other_and_the_app_working(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    leaving = await connect(app, name="leaving")
    staying = await connect(app, name="staying")

    await leaving.shutdown_and_exit()
    # stop() returns once the server has closed the connection.
    await asyncio.wait_for(leaving.client.stop(), TIMEOUT)

    app.write("greeting.py", GREETING_V2)
    outcome = await staying.request("reloadPath", {"path": app.path("greeting.py")})
    assert outcome["status"] == "reloaded", outcome
    assert app.eval("greeting.greet()") == "hello again"
    assert app.proc.poll() is None
    newcomer = await connect(app, name="newcomer")
    outcome = await newcomer.request("reloadPath", {"path": app.path("greeting.py")})
    assert outcome["status"] == "unchanged", outcome


async def test_a_client_vanishing_mid_message_harms_nobody(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    editor = await connect(app)
    crasher = LspClient(*app.address, timeout=5)
    crasher.initialize()
    crasher.sock.sendall(b'Content-Length: 100\r\n\r\n{"jsonrpc": ')
    crasher.sock.close()  # no shutdown, no exit, half a message

    app.write("greeting.py", GREETING_V2)
    outcome = await editor.request("reloadPath", {"path": app.path("greeting.py")})

    assert outcome["status"] == "reloaded"


async def test_a_slow_reload_does_not_stop_other_clients_being_served(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    slow = await connect(app, name="slow")
    # The reload lasts until the test opens the gate: the other client is served meanwhile.
    gate = app.path("gate")
    app.write(
        "greeting.py",
        f"import os, time\nwhile not os.path.exists({gate!r}):\n    time.sleep(0.01)\n"
        + GREETING_V2,
    )

    reload = asyncio.ensure_future(slow.request("reloadPath", {"path": app.path("greeting.py")}))
    await slow.wait_for(lambda: any(s["state"] == "reloading" for s in slow.statuses))
    other = await connect(app, name="other")
    await other.wait_for(lambda: other.statuses)

    assert not reload.done()
    assert other.statuses[0]["state"] == "reloading"
    app.write("gate", "")
    assert (await reload)["status"] == "reloaded"


async def test_status_counts_connected_clients(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    first = await connect(app, name="first")
    second = await connect(app, name="second")

    await second.wait_for(lambda: second.statuses)
    assert second.statuses[0]["clients"] == 2
    await second.shutdown_and_exit()
    await first.wait_for(lambda: first.statuses and first.statuses[-1]["clients"] == 1)
