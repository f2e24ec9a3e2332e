"""reloadPath / reloadStale / executeCommand / reload-on-save change what the running app does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from support.sources import GREETING, GREETING_V2


@pytest.fixture(scope="module")
def shared(shared_app_factory):
    """One app for the tests of this file that only use reloadPath on modules of their own."""
    return shared_app_factory()


@pytest.fixture
def greeting(shared):
    return shared.add_module(GREETING, "greeting")


async def test_reload_path_changes_the_running_apps_behaviour(shared, greeting, connect):
    editor = await connect(shared)
    assert greeting.eval("greet()") == "hello"

    greeting.write(GREETING_V2)
    outcome = await editor.request("reloadPath", {"path": greeting.path})

    assert outcome["status"] == "reloaded"
    assert outcome["modules"] == [greeting.name]
    assert outcome["files"] == [greeting.path]
    assert outcome["message"].startswith(f"reloaded {greeting.name} in ")
    assert outcome["durationMs"] >= 0
    assert greeting.eval("greet()") == "hello again"


async def test_reload_path_accepts_a_file_uri(shared, greeting, connect):
    editor = await connect(shared)
    greeting.write(GREETING_V2)

    outcome = await editor.request("reloadPath", {"uri": greeting.uri})

    assert outcome["status"] == "reloaded"
    assert greeting.eval("greet()") == "hello again"


async def test_relative_path_is_relative_to_the_apps_working_directory(shared, greeting, connect):
    editor = await connect(shared)  # the app runs in shared.root
    greeting.write(GREETING_V2)

    outcome = await editor.request("reloadPath", {"path": f"src/{greeting.name}.py"})

    assert outcome["status"] == "reloaded"
    assert greeting.eval("greet()") == "hello again"


async def test_unchanged_file_is_reported_unchanged_and_not_reloaded(shared, connect):
    module = shared.add_module(GREETING + "LOADS = [1]\n")
    editor = await connect(shared)
    module.eval("LOADS.append(2)")

    outcome = await editor.request("reloadPath", {"path": module.path})

    assert outcome["status"] == "unchanged"
    assert outcome["modules"] == []
    assert module.eval("LOADS") == [1, 2]  # the module body did not run again


async def test_force_reloads_an_unchanged_file(shared, connect):
    module = shared.add_module(GREETING + "LOADS = [1]\n")
    editor = await connect(shared)
    module.eval("LOADS.append(2)")

    outcome = await editor.request("reloadPath", {"path": module.path, "force": True})

    assert outcome["status"] == "reloaded"
    assert module.eval("LOADS") == [1]


async def test_a_file_that_is_no_loaded_module_is_not_loaded_and_never_imported(
    shared, connect, tmp_path
):
    marker = tmp_path / "imported.txt"
    (shared.src / "trap.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    editor = await connect(shared)

    outcome = await editor.request("reloadPath", {"path": shared.path("trap.py")})

    assert outcome["status"] == "not_loaded"
    assert outcome["modules"] == []
    assert not marker.exists()
    assert shared.eval("'trap' in sys.modules") is False


async def test_reload_stale_reloads_only_the_modules_changed_on_disk(make_app, connect):
    app = make_app({"greeting.py": GREETING, "other.py": "LOADS = [1]\n"}, ["greeting", "other"])
    editor = await connect(app)
    app.exec("other.LOADS.append(2)")
    app.write("greeting.py", GREETING_V2)

    outcome = await editor.request("reloadStale", {})

    assert outcome["status"] == "reloaded"
    assert outcome["modules"] == ["greeting"]
    assert app.eval("greeting.greet()") == "hello again"
    assert app.eval("other.LOADS") == [1, 2]


async def test_reload_stale_with_nothing_changed_is_unchanged(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    editor = await connect(app)

    outcome = await editor.request("reloadStale", {})

    assert outcome["status"] == "unchanged"
    assert outcome["modules"] == []


async def test_reload_stale_root_limits_it_to_modules_under_root(make_app, connect):
    app = make_app(
        {"greeting.py": GREETING, "pkg/__init__.py": "", "pkg/inner.py": "VALUE = 1\n"},
        ["greeting", "pkg.inner"],
    )
    editor = await connect(app)
    app.write("greeting.py", GREETING_V2)
    app.write("pkg/inner.py", "VALUE = 2\n")

    outcome = await editor.request("reloadStale", {"root": str(app.src / "pkg")})

    assert outcome["modules"] == ["pkg.inner"]
    assert app.eval("sys.modules['pkg.inner'].VALUE") == 2
    assert app.eval("greeting.greet()") == "hello"


async def test_execute_command_reload_path(shared, greeting, connect):
    editor = await connect(shared)
    greeting.write(GREETING_V2)

    outcome = await editor.request(
        "workspace/executeCommand",
        types.ExecuteCommandParams(command="reload_server.reloadPath", arguments=[greeting.path]),
    )

    assert outcome["status"] == "reloaded"
    assert greeting.eval("greet()") == "hello again"


async def test_execute_command_reload_stale(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    editor = await connect(app)
    app.write("greeting.py", GREETING_V2)

    outcome = await editor.request(
        "workspace/executeCommand",
        types.ExecuteCommandParams(command="reload_server.reloadStale", arguments=[]),
    )

    assert outcome["modules"] == ["greeting"]
    assert app.eval("greeting.greet()") == "hello again"


def saved(module) -> types.DidSaveTextDocumentParams:
    return types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=module.uri)
    )


async def test_save_reloads_for_a_client_that_asked_for_reload_on_save(shared, greeting, connect):
    editor = await connect(shared, {"reloadOnSave": True})
    greeting.write(GREETING_V2)

    editor.notify(types.TEXT_DOCUMENT_DID_SAVE, saved(greeting))

    await editor.wait_for(
        lambda: any(f"reloaded {greeting.name}" in log.message for log in editor.logs)
    )
    assert greeting.eval("greet()") == "hello again"


async def test_save_does_nothing_for_a_client_that_did_not_ask(shared, greeting, connect):
    editor = await connect(shared)
    greeting.write(GREETING_V2)

    editor.notify(types.TEXT_DOCUMENT_DID_SAVE, saved(greeting))
    # A request after the notification is answered after it was handled.
    outcome = await editor.request("reloadPath", {"path": shared.path("nothing_here.py")})

    assert outcome["status"] == "not_loaded"
    assert greeting.eval("greet()") == "hello"
    assert not any("reloaded" in log.message for log in editor.logs)


LOCAL = "/home/someone/checkout/src"


async def test_path_mappings_translate_request_and_result_paths(shared, greeting, connect):
    mapping = {"localRoot": LOCAL, "remoteRoot": str(shared.src)}
    editor = await connect(shared, {"pathMappings": [mapping]})
    greeting.write(GREETING_V2)

    outcome = await editor.request("reloadPath", {"path": f"{LOCAL}/{greeting.name}.py"})

    assert outcome["status"] == "reloaded"
    assert outcome["files"] == [f"{LOCAL}/{greeting.name}.py"]
    assert greeting.eval("greet()") == "hello again"


async def test_path_mappings_apply_to_diagnostics(shared, greeting, connect):
    mapping = {"localRoot": LOCAL, "remoteRoot": str(shared.src)}
    editor = await connect(shared, {"pathMappings": [mapping]})
    greeting.write("def greet(:\n")

    outcome = await editor.request("reloadPath", {"path": f"{LOCAL}/{greeting.name}.py"})

    assert outcome["status"] == "failed"
    assert outcome["notes"][0]["file"] == f"{LOCAL}/{greeting.name}.py"
    local_uri = Path(f"{LOCAL}/{greeting.name}.py").as_uri()
    await editor.wait_for(lambda: editor.diagnostics.get(local_uri))


async def test_with_switch_interval_none_the_apps_switch_interval_is_left_as_it_was(
    make_app, connect
):
    app = make_app({"greeting.py": GREETING}, ["greeting"], serve={"switch_interval": None})
    app.exec("import sys; sys.setswitchinterval(0.004)")
    editor = await connect(app)
    app.write("greeting.py", GREETING_V2)
    await editor.request("reloadPath", {"path": app.path("greeting.py")})
    assert app.eval("__import__('sys').getswitchinterval()") == pytest.approx(0.004)


async def test_threads_switch_every_half_millisecond_while_an_editor_is_connected(
    make_app, connect
):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.exec("import sys; sys.setswitchinterval(0.004)")
    editor = await connect(app)
    app.write("greeting.py", GREETING_V2)
    await editor.request("reloadPath", {"path": app.path("greeting.py")})
    assert app.eval("__import__('sys').getswitchinterval()") == pytest.approx(0.0005)


async def test_a_shorter_switch_interval_the_app_chose_is_kept_through_requests(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.exec("import sys; sys.setswitchinterval(0.0002)")
    chosen = app.eval("__import__('sys').getswitchinterval()")
    editor = await connect(app)
    for source in (GREETING_V2, GREETING, GREETING_V2):
        app.write("greeting.py", source)
        await editor.request("reloadPath", {"path": app.path("greeting.py")})
    assert app.eval("__import__('sys').getswitchinterval()") == chosen


async def test_the_apps_switch_interval_comes_back_when_the_last_editor_leaves(make_app, connect):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.exec("import sys; sys.setswitchinterval(0.004)")
    first, second = await connect(app), await connect(app)
    await first.shutdown_and_exit()
    assert app.eval("__import__('sys').getswitchinterval()") == pytest.approx(0.0005)
    await second.shutdown_and_exit()
    for _ in range(100):  # the app sees the disconnect on its own thread
        if app.eval("__import__('sys').getswitchinterval()") == pytest.approx(0.004):
            break
        await asyncio.sleep(0.05)
    assert app.eval("__import__('sys').getswitchinterval()") == pytest.approx(0.004)


# RAN_ON's statement changes with each version, so that each reload runs it again.
THREAD_NOTING = (
    "import threading\nRAN_ON = (threading.current_thread().name, {v})[0]\nVERSION = {v}\n{extra}"
)


async def test_a_file_that_reloads_quickly_is_reloaded_on_the_servers_own_thread(make_app, connect):
    app = make_app({"noting.py": THREAD_NOTING.format(v=0, extra="")}, ["noting"])
    editor = await connect(app)
    threads = []
    for v in (1, 2, 3):
        app.write("noting.py", THREAD_NOTING.format(v=v, extra=""))
        assert (await editor.request("reloadPath", {"path": app.path("noting.py")}))[
            "status"
        ] == "reloaded"
        threads.append(app.eval("__import__('noting').RAN_ON"))
    # The first reload of a file goes to the reload thread; a quick one is then done in place.
    assert threads[0].startswith("reload_server-reload")
    assert threads[1:] == ["reload_server", "reload_server"]


async def test_a_file_that_reloads_slowly_stays_on_the_reload_thread(make_app, connect):
    slow = "import time\ntime.sleep(0.3 + 0 * VERSION)\n"  # runs again with each version
    app = make_app({"noting.py": THREAD_NOTING.format(v=0, extra=slow)}, ["noting"])
    editor = await connect(app)
    for v in (1, 2):
        app.write("noting.py", THREAD_NOTING.format(v=v, extra=slow))
        await editor.request("reloadPath", {"path": app.path("noting.py")})
        assert app.eval("__import__('noting').RAN_ON").startswith("reload_server-reload")
