"""The Neovim plugin (editors/nvim), in a real headless Neovim against a real app.

Each test starts an app with the reload server embedded (the launcher,
``python -m reload_server --listen 0 app.py``) in a temporary project, and a
headless Neovim that has the plugin on its runtimepath.  The app writes what its
``greeting`` module says to ``out.txt``: that is the behaviour we watch change.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nvim_harness import PLUGIN_DIR, Nvim, init_lua, require_nvim
from support.apps import LoopingApp, greeting_source
from support.waits import wait_until

pytestmark = pytest.mark.timeout(60)

ERROR = 1  # vim.diagnostic.severity.ERROR
LOG_WARN = 3  # vim.log.levels.WARN
LOG_ERROR = 4  # vim.log.levels.ERROR


@pytest.fixture(scope="session")
def nvim_path() -> str:
    return require_nvim()


@pytest.fixture
def nvim_project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "greeting.py").write_text(greeting_source(1))
    return project


@pytest.fixture
def nvim_apps(nvim_project: Path) -> Iterator[Callable[..., LoopingApp]]:
    """Starts apps in the project; stops them all at the end."""
    started: list[LoopingApp] = []

    def start(**kwargs: Any) -> LoopingApp:
        app = LoopingApp(nvim_project, **kwargs).start()
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop(signal.SIGKILL)


@pytest.fixture
def nvim_app(nvim_apps: Callable[..., LoopingApp]) -> LoopingApp:
    return nvim_apps()


@pytest.fixture
def nvim(
    nvim_path: str, nvim_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Nvim]]:
    """Starts a headless Neovim with the plugin and ``setup(opts)``, in the project directory."""
    import pynvim

    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        path = tmp_path / "xdg" / var.lower()
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.delenv("NVIM", raising=False)
    monkeypatch.delenv("VIMINIT", raising=False)
    sessions: list[Any] = []

    def start(setup: dict[str, Any] | None = None, init: str | None = None) -> Nvim:
        init_file = tmp_path / f"init{len(sessions)}.lua"
        init_file.write_text(init if init is not None else init_lua(setup))
        session = pynvim.attach(
            "child",
            argv=[nvim_path, "--embed", "--headless", "-n", "-i", "NONE", "-u", str(init_file)],
        )
        sessions.append(session)
        session.command(f"cd {nvim_project}")
        return Nvim(session)

    yield start
    for session in sessions:
        try:
            session.command("qall!")
        except (EOFError, OSError):  # nvim exits while answering: that is the point
            pass
        session.close()


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_notes(vim: Nvim) -> list[str]:
    return [n["msg"] for n in vim.notes() if n["level"] >= LOG_ERROR]


# --- Installing and configuring ----------------------------------------------------


def test_the_plugin_only_registers_commands_until_first_use(nvim: Callable[..., Nvim]) -> None:
    vim = nvim(setup=None)
    commands = vim.lua("return vim.tbl_keys(vim.api.nvim_get_commands({}))")
    assert {
        "ReloadModule",
        "ReloadStale",
        "ReloadConnect",
        "ReloadDisconnect",
        "ReloadInfo",
    } <= set(commands)
    assert vim.lua("return package.loaded['reload_server'] == nil")
    assert vim.lua("return vim.fn.maparg('<Plug>(ReloadModule)', 'n') ~= ''")


def test_the_plugin_works_as_a_start_package_on_the_packpath(nvim: Callable[..., Nvim]) -> None:
    # Where the README says to put it: $XDG_DATA_HOME/nvim/site/pack/*/start/.
    start = Path(os.environ["XDG_DATA_HOME"]) / "nvim" / "site" / "pack" / "reload_server" / "start"
    start.mkdir(parents=True)
    (start / "reload_server").symlink_to(PLUGIN_DIR, target_is_directory=True)
    vim = nvim(init="vim.g.loaded_python3_provider = 0\n")
    assert vim.lua("return vim.fn.exists(':ReloadModule')") == 2
    assert vim.lua("return require('reload_server').setup()") is True


def test_setup_rejects_options_of_the_wrong_type(nvim: Callable[..., Nvim]) -> None:
    vim = nvim(setup=None)
    ok = vim.lua("return require('reload_server').setup({ port = 'eighty', reload_on_save = 1 })")
    assert ok is False
    [message] = error_notes(vim)
    assert "`port`" in message and "`reload_on_save`" in message


def test_setup_merges_options_over_the_defaults(nvim: Callable[..., Nvim]) -> None:
    vim = nvim(setup={"port": 8765, "reload_on_save": True, "retry": {"attempts": 2}})
    options = vim.lua("return require('reload_server').options()")
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 8765
    assert options["reload_on_save"] is True
    assert options["retry"] == {"attempts": 2, "interval_ms": 200}


def test_help_and_checkhealth_are_available(nvim: Callable[..., Nvim], tmp_path: Path) -> None:
    # A copy, so that :helptags does not write into the repository.
    plugin = tmp_path / "plugin_copy"
    shutil.copytree(PLUGIN_DIR, plugin)
    vim = nvim(init=f"vim.opt.runtimepath:prepend({str(plugin)!r})\n")
    vim.api.command(f"helptags {plugin / 'doc'}")
    for tag in (
        "reload_server",
        ":ReloadModule",
        "reload_server-options",
        "reload_server.status()",
    ):
        vim.api.command(f"help {tag}")
        assert vim.lua("return vim.bo.filetype") == "help", tag
        vim.api.command("close")
    vim.api.command("checkhealth reload_server")
    report = "\n".join(vim.api.current.buffer[:])
    assert "OK NVIM v0." in report
    assert "ERROR" not in report
    # The version on one line, with what the plugin claims (and is tested on).
    [version] = [line for line in report.splitlines() if "OK NVIM v0." in line]
    assert version.endswith(" (reload_server needs 0.11 or newer)"), report
    assert not [line for line in report.splitlines() if line.startswith("Build")], report


# --- Connecting -------------------------------------------------------------------------


def test_attaches_python_buffers_through_the_discovery_file(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached(), vim.notes()
    assert vim.status() == "reload: ok"
    info = vim.info()
    assert str(nvim_app.discovery_file) in info
    assert f"pid {nvim_app.pid}" in info
    assert vim.wait_note(f"connected to app (pid {nvim_app.pid}")


def test_reload_connect_reaches_an_app_by_port(
    nvim: Callable[..., Nvim], nvim_apps: Callable[..., LoopingApp], nvim_project: Path
) -> None:
    app = nvim_apps(launcher=False, discovery=False)
    vim = nvim(setup={"auto_connect": False})
    vim.edit(nvim_project / "greeting.py")
    vim.api.command(f"ReloadConnect localhost:{app.port}")
    assert vim.wait_attached(), vim.notes()
    assert f"connected to localhost:{app.port}" in vim.info()


def test_the_token_of_the_discovery_file_is_sent(
    nvim: Callable[..., Nvim], nvim_apps: Callable[..., LoopingApp], nvim_project: Path
) -> None:
    nvim_apps(token="s3cret-token")
    vim = nvim(setup={})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached(), vim.notes()


def test_a_refused_token_is_reported_with_the_servers_reason(
    nvim: Callable[..., Nvim], nvim_apps: Callable[..., LoopingApp], nvim_project: Path
) -> None:
    app = nvim_apps(token="s3cret-token")
    vim = nvim(setup={"auto_connect": False, "token": "wrong"})
    vim.edit(nvim_project / "greeting.py")
    vim.api.command(f"ReloadConnect {app.port}")
    note = vim.wait_note("refused the connection")
    assert note is not None and note["level"] == LOG_ERROR, vim.notes()
    assert f"127.0.0.1:{app.port}" in note["msg"]
    assert "wrong access token" in note["msg"]
    assert not vim.attached()


def test_a_failed_connection_says_which_port_was_tried_once(
    nvim: Callable[..., Nvim], nvim_project: Path
) -> None:
    port = free_port()
    vim = nvim(setup={"retry": {"attempts": 3, "interval_ms": 50}})
    vim.edit(nvim_project / "greeting.py")
    since = len(vim.statuses())
    vim.api.command(f"ReloadConnect {port}")
    assert vim.wait_note(f"127.0.0.1:{port}")
    vim.wait_attempt(since)  # all the attempts are over
    [message] = error_notes(vim)
    assert f"could not connect to 127.0.0.1:{port}" in message
    assert "after 3 attempts" in message
    assert vim.status() == "reload: off"


def test_an_unreachable_app_is_reported_once_with_its_discovery_file(
    nvim: Callable[..., Nvim], nvim_project: Path
) -> None:
    port = free_port()
    entry = nvim_project / ".reload_server" / f"{os.getpid()}.json"
    entry.parent.mkdir()
    entry.write_text(
        json.dumps(
            {"version": 1, "pid": os.getpid(), "host": "127.0.0.1", "port": port, "started": 1.0}
        )
    )
    (nvim_project / "other.py").write_text("")
    vim = nvim(setup={"retry": {"attempts": 2, "interval_ms": 50}})
    vim.edit(nvim_project / "greeting.py")
    note = vim.wait_note("could not connect")
    assert note is not None and note["level"] == LOG_ERROR
    assert f"127.0.0.1:{port}" in note["msg"] and str(entry) in note["msg"]
    since = len(vim.statuses())
    vim.edit(nvim_project / "other.py")  # each Python buffer tries again, quietly
    vim.edit(nvim_project / "greeting.py")
    vim.wait_attempt(since)
    assert len(error_notes(vim)) == 1, vim.notes()


def test_without_a_running_app_reload_module_says_where_it_looked(
    nvim: Callable[..., Nvim], nvim_project: Path
) -> None:
    vim = nvim(setup={})
    vim.edit(nvim_project / "greeting.py")
    vim.api.command("ReloadModule")
    note = vim.wait_note("no running app found")
    assert note is not None and note["level"] == LOG_ERROR
    assert f"no .reload_server/ directory in {nvim_project}" in note["msg"]


def test_a_discovery_file_of_a_dead_process_is_ignored_and_named(
    nvim: Callable[..., Nvim], nvim_project: Path
) -> None:
    stale = nvim_project / ".reload_server" / "999999999.json"
    stale.parent.mkdir()
    stale.write_text(
        '{"version": 1, "pid": 999999999, "host": "127.0.0.1", "port": 1, "started": 1}'
    )
    vim = nvim(setup={})
    vim.edit(nvim_project / "greeting.py")
    vim.api.command("ReloadModule")
    note = vim.wait_note("no running app found")
    assert note is not None
    assert vim.notes() == [note]  # opening a buffer without a running app stays quiet
    assert f"{stale}: ignored (pid 999999999 is not running)" in note["msg"]


# --- Reloading ---------------------------------------------------------------------------


def test_reload_module_changes_the_apps_behaviour(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={"reload_on_save": False})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines('def message():\n    return "hello 2"\n')
    vim.write()
    vim.round_trip()  # the server has dealt with the save
    # With reload_on_save off, saving reloads nothing.
    assert nvim_app.fresh_behaviour() == "hello 1"
    assert not [line for line in vim.logs() if "greeting" in line]
    vim.api.command("ReloadModule")
    assert nvim_app.wait_behaviour("hello 2") == "hello 2"
    note = vim.wait_note("reloaded greeting")
    assert note is not None and note["level"] < LOG_WARN


def test_each_reload_is_announced_once(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    # The outcome arrives twice: as the reply and in the status notification.
    vim = nvim(setup={"reload_on_save": False})  # one reload: the command's
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines('def message():\n    return "hello 2"\n')
    vim.write()
    vim.api.command("ReloadModule")
    assert vim.wait_note("reloaded greeting")
    # Both have arrived: the reply, and the status notification the server
    # sends before it (the session's last status is the idle one after the reload).
    vim.wait_replies("reloadPath", 1)
    assert vim.wait(
        "(function() local s = require('reload_server.connection').session_for(0).status"
        " return s.state == 'idle' and s.lastReload and s.lastReload.status == 'reloaded' end)()"
    )
    assert len([n for n in vim.notes() if "greeting" in n["msg"]]) == 1, vim.notes()


def test_reload_module_on_a_file_the_app_has_not_loaded_says_so(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    (nvim_project / "other.py").write_text("x = 1\n")
    vim = nvim(setup={})
    vim.edit(nvim_project / "other.py")
    assert vim.wait_attached()
    for asked in (1, 2):  # asked twice, answered twice
        vim.api.command("ReloadModule")
        vim.wait_replies("reloadPath", asked)
    answers = [n for n in vim.notes() if "other.py" in n["msg"]]
    assert len(answers) == 2, vim.notes()
    assert all(n["level"] == LOG_WARN for n in answers)


def test_reload_stale_reloads_modules_changed_on_disk(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    (nvim_project / "greeting.py").write_text('def message():\n    return "hello stale"\n')
    vim.api.command("ReloadStale")
    assert nvim_app.wait_behaviour("hello stale") == "hello stale"


def test_with_reload_on_save_writing_the_buffer_reloads_its_module(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={"reload_on_save": True})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines('def message():\n    return "hello saved"\n')
    vim.write()
    assert nvim_app.wait_behaviour("hello saved") == "hello saved"
    assert vim.wait_note("reloaded greeting")  # from the status notification: no reply here


def test_a_plain_setup_reloads_on_save(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    # What the README promises: setup() without options, :write, and the app runs the new code.
    vim = nvim(setup={})
    assert vim.lua("return require('reload_server').options().reload_on_save") is True
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    assert "reload on save: on" in vim.info()
    vim.set_lines('def message():\n    return "hello saved"\n')
    vim.write()
    assert nvim_app.wait_behaviour("hello saved") == "hello saved"
    assert vim.wait_note("reloaded greeting")


def test_a_failed_save_is_notified_in_one_short_line(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    # A notification that wraps stops at "Press ENTER" in an 80-column terminal.
    vim = nvim(setup={})
    buf = vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines('def message():\n    return "hello 2"\n\n\ndef broken(:\n    pass\n')
    vim.write()
    note = vim.wait_note("not reloaded")
    assert note is not None and note["level"] == LOG_ERROR
    assert note["msg"] == "reload_server: greeting not reloaded (SyntaxError, line 5)"
    # The details are in the diagnostic and :ReloadInfo.
    assert vim.wait(f"#vim.diagnostic.get({buf}) > 0")
    [diagnostic] = vim.diagnostics(buf)
    assert diagnostic["lnum"] == 4
    info = vim.info()
    assert "SyntaxError" in info and "greeting.py:5:" in info and "old code" in info


def test_long_names_still_make_a_short_notification(nvim: Callable[..., Nvim]) -> None:
    vim = nvim(setup={})
    long = "package_with_a_long_name.subpackage_with_a_long_name.module_with_a_long_name"
    outcomes = [
        {
            "status": "failed",
            "phase": "import",
            "rolledBack": True,
            "modules": [long, "other"],
            "files": [f"/src/{long.replace('.', '/')}.py", "/src/other.py"],
            "message": f"{long} not reloaded: ModuleNotFoundError: No module named 'x'",
            "notes": [
                {
                    "severity": "error",
                    "message": "ModuleNotFoundError: No module named 'x'",
                    "file": "/src/other.py",
                    "line": 120,
                }
            ],
        },
        {
            "status": "failed",
            "phase": "import",
            "rolledBack": False,
            "modules": ["app.handlers", "app.models"],
            "files": ["/src/app/handlers.py", "/src/app/models.py"],
            "notes": [
                {
                    "severity": "error",
                    "message": "NameError: x",
                    "file": "/src/app/models.py",
                    "line": 7,
                }
            ],
        },
        {
            "status": "reloaded",
            "modules": ["app.handlers.users", "app.models", "app.views"],
            "message": "reloaded app.handlers.users, app.models, app.views in 1.2 ms",
        },
        {
            "status": "not_loaded",
            "files": [f"/a/very/long/path/to/a/project/{long}.py"],
            "message": f"/a/very/long/path/to/a/project/{long}.py is not the source of any loaded module",
        },
        {
            "status": "unchanged",
            "modules": [long],
            "message": f"{long} unchanged on disk since loaded",
        },
    ]
    lines = vim.lua(
        """
        local notify = require("reload_server.notify")
        return vim.tbl_map(function(o) return "reload_server: " .. notify.headline(o) end, ...)
        """,
        outcomes,
    )
    assert all(len(line) <= 70 and "\n" not in line for line in lines), lines
    failed, failed_in_another_file, reloaded, not_loaded, unchanged = lines
    # "and 1 more" would not fit; the line is in another file than the one saved.
    assert (
        failed_in_another_file
        == "reload_server: app.handlers not reloaded (NameError, models.py:7)"
    )
    assert failed.startswith("reload_server: …ith_a_long_name rolled back (ModuleNotFoundError")
    assert reloaded == "reload_server: reloaded app.handlers.users and 2 more"
    assert not_loaded.endswith(".py is not a module loaded in the app")
    assert unchanged.endswith("module_with_a_long_name unchanged; nothing reloaded")


def test_saving_a_syntax_error_shows_it_at_its_line_and_the_app_keeps_its_old_code(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={"reload_on_save": True})
    buf = vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines('def message():\n    return "hello 2"\n\n\ndef broken(:\n    pass\n')
    vim.write()
    assert vim.wait(f"#vim.diagnostic.get({buf}) > 0"), vim.notes()
    [diagnostic] = vim.diagnostics(buf)
    assert diagnostic["severity"] == ERROR
    assert diagnostic["lnum"] == 4  # 0-based: the line "def broken(:"
    assert diagnostic["source"] == "reload_server"
    assert "SyntaxError" in diagnostic["message"] or "syntax" in diagnostic["message"].lower()
    assert vim.wait_note("greeting not reloaded")["level"] == LOG_ERROR
    assert "old code" in vim.info()  # the notification is one short line; the rest is here
    assert vim.wait("require('reload_server').status() == 'reload: failed'")
    assert nvim_app.fresh_behaviour() == "hello 1"
    assert vim.lua("vim.diagnostic.setqflist({ open = false }); return #vim.fn.getqflist()") == 1


def test_fixing_the_error_and_saving_clears_the_diagnostic(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={"reload_on_save": True})
    buf = vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines('def message():\n    return "hello 2"\n\n\ndef broken(:\n    pass\n')
    vim.write()
    assert vim.wait(f"#vim.diagnostic.get({buf}) > 0")
    vim.set_lines('def message():\n    return "hello 3"\n')
    vim.write()
    assert vim.wait(f"#vim.diagnostic.get({buf}) == 0"), vim.diagnostics(buf)
    assert nvim_app.wait_behaviour("hello 3") == "hello 3"
    assert vim.wait("require('reload_server').status() == 'reload: ok'")


def test_an_import_time_error_is_rolled_back_and_shown_where_it_was_raised(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={"reload_on_save": True})
    buf = vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.set_lines(
        'def message():\n    return "hello 2"\n\n\nraise RuntimeError("boom at import")\n'
    )
    vim.write()
    assert vim.wait(f"#vim.diagnostic.get({buf}) > 0"), vim.notes()
    [diagnostic] = vim.diagnostics(buf)
    assert diagnostic["lnum"] == 4
    assert diagnostic["severity"] == ERROR
    assert "RuntimeError: boom at import" in diagnostic["message"]
    assert "rolled back" in diagnostic["message"]
    note = vim.wait_note("greeting rolled back (RuntimeError, line 5)")
    assert note is not None and note["level"] == LOG_ERROR
    assert "rolled back" in note["msg"]
    assert "boom at import" in vim.info()  # the notification is one short line; the rest is here
    assert nvim_app.fresh_behaviour() == "hello 1"


# --- The app going away ---------------------------------------------------------------


def test_the_app_going_away_is_reported(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={"reconnect": {"enabled": False}})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    nvim_app.stop(signal.SIGKILL)
    note = vim.wait_note("lost the connection")
    assert note is not None and note["level"] == LOG_WARN, (
        vim.notes(),
        vim.api.exec2("messages", {"output": True}),
    )
    assert f"pid {nvim_app.pid}" in note["msg"]
    assert vim.status() == "reload: off"
    assert vim.wait("#vim.lsp.get_clients({ name = 'reload_server' }) == 0")


def test_reconnects_when_the_app_restarts(
    nvim: Callable[..., Nvim], nvim_apps: Callable[..., LoopingApp], nvim_project: Path
) -> None:
    first = nvim_apps()
    vim = nvim(setup={"reconnect": {"interval_ms": 100}})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    first.stop()
    assert vim.wait_note("lost the connection")
    second = nvim_apps()
    assert vim.wait_note(f"reconnected to app (pid {second.pid}"), vim.notes()
    assert vim.wait_attached()
    (nvim_project / "greeting.py").write_text('def message():\n    return "hello again"\n')
    vim.api.command("ReloadModule")
    assert second.wait_behaviour("hello again") == "hello again"


def test_an_app_connected_by_port_is_found_again_on_that_port(
    nvim: Callable[..., Nvim], nvim_apps: Callable[..., LoopingApp], nvim_project: Path
) -> None:
    port = free_port()
    first = nvim_apps(listen=port, discovery=False)
    vim = nvim(setup={"port": port, "reconnect": {"interval_ms": 100}})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    first.stop()
    assert vim.wait_note("lost the connection")
    vim.wait_attempt(len(vim.statuses()))  # attempts on the dead port meanwhile are not reported
    assert error_notes(vim) == []
    second = nvim_apps(listen=port, discovery=False)
    assert vim.wait_note(f"reconnected to app (pid {second.pid}"), vim.notes()
    assert error_notes(vim) == []


def test_reload_connect_reconnects_after_a_disconnect(
    nvim: Callable[..., Nvim], nvim_app: LoopingApp, nvim_project: Path
) -> None:
    vim = nvim(setup={})
    vim.edit(nvim_project / "greeting.py")
    assert vim.wait_attached()
    vim.api.command("ReloadDisconnect")
    assert vim.wait_note("disconnected from")
    assert vim.wait("#vim.lsp.get_clients({ name = 'reload_server' }) == 0")
    assert vim.status() == "reload: off"
    vim.api.command("ReloadConnect")
    assert vim.wait_attached()
    wait_until(lambda: vim.status() == "reload: ok", what="the status 'reload: ok'")
