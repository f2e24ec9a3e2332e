"""The VS Code extension (editors/vscode), tested for real.

1. Its own logic, with Node's test runner (``node --test``), and TypeScript's
   type check.
2. The wire format it relies on, against the REAL reload server embedded in a
   real Python app, with Node's test runner.
3. End to end: the packaged .vsix installed in code-server (the real VS Code
   workbench and extension host), driven by headless Chromium through
   Playwright, connected to a real app.

Tools come from ``editors/vscode/scripts/setup-tools.sh``. When one is missing
the tests skip, except with ``CI`` set, where they fail. On a failure the
screenshot and logs are kept under ``artifacts/vscode/``; the screenshots of a
good run are in ``artifacts/vscode/screenshots/`` (and are copied to
``editors/vscode/images/`` with ``RELOAD_SERVER_UPDATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from vscode_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    EXT_DIR,
    App,
    CodeServer,
    Tools,
    Workbench,
    artifacts_on_failure,
    build_vsix,
    run_node,
    wait_until,
)

SCREENSHOTS = ARTIFACTS / "screenshots"


def keep_screenshot(wb: Workbench, name: str) -> None:
    path = wb.screenshot(SCREENSHOTS / f"{name}.png")
    if os.environ.get("RELOAD_SERVER_UPDATE_SCREENSHOTS") == "1":
        (EXT_DIR / "images").mkdir(exist_ok=True)
        shutil.copy(path, EXT_DIR / "images" / f"{name}.png")


def node_report(res) -> str:
    out, err = res.stdout[-20000:], res.stderr[-5000:]
    return f"exit {res.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"


# --------------------------------------------------------------------------- Node tests


@pytest.fixture(scope="module")
def node_build() -> None:
    """Bundle the extension and its Node tests (dist/)."""
    Tools.require_node()
    res = run_node(["esbuild.mjs"], timeout=120)
    assert res.returncode == 0, node_report(res)


@pytest.mark.timeout(180)
def test_vscode_typecheck(node_build: None) -> None:
    res = run_node(["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."], timeout=170)
    assert res.returncode == 0, node_report(res)


@pytest.mark.timeout(120)
def test_vscode_logic_node_tests(node_build: None) -> None:
    res = run_node(["--test", "--test-reporter=spec", "dist/test/logic.test.js"], timeout=110)
    print(res.stdout[-3000:])
    assert res.returncode == 0, node_report(res)
    assert "ℹ fail 0" in res.stdout and "ℹ pass 0" not in res.stdout, node_report(res)


@pytest.mark.timeout(180)
def test_vscode_wire_node_tests_against_real_server(node_build: None) -> None:
    res = run_node(
        ["--test", "--test-reporter=spec", "--test-concurrency=1", "dist/test/wire.test.js"],
        timeout=170,
    )
    print(res.stdout[-3000:])
    assert res.returncode == 0, node_report(res)
    assert "ℹ fail 0" in res.stdout and "ℹ pass 0" not in res.stdout, node_report(res)


# --------------------------------------------------------------------------- end to end


@dataclass
class Session:
    workspace: Path
    code_server: CodeServer
    wb: Workbench
    apps: list[App] = field(default_factory=list)

    @property
    def app(self) -> App:
        return self.apps[-1]

    def artifacts(self, name: str):
        return artifacts_on_failure(name, self.wb, self.code_server, self.apps)


@pytest.fixture(scope="module")
def vscode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A real app, code-server with the packaged extension, and Chromium showing it."""
    Tools.require_code_server()
    Tools.require_browser()
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("vscode-e2e")
    workspace = root / "workspace"
    workspace.mkdir()
    logs = root / "logs"
    logs.mkdir()
    vsix = build_vsix(root)
    App.create_workspace(workspace)
    apps = [App(workspace, logs).start()]
    apps[0].wait_out("20")
    cs = CodeServer(root / "code-server", vsix)
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [a.stop() for a in apps])
        stack.callback(cs.stop)
        url = cs.start(workspace)
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(20_000)
        session = Session(workspace, cs, Workbench(page), apps)
        with session.artifacts("startup"):
            session.wb.open(url)
        yield session


@pytest.mark.timeout(120)
def test_vscode_extension_loads_and_connects_to_the_app(vscode: Session) -> None:
    with vscode.artifacts("connects"):
        vscode.wb.open_file("shop", "pricing.py")
        status = vscode.wb.wait_status(rf"connected to app\.py \(pid {vscode.app.pid}\)")
        assert f"pid {vscode.app.pid}" in status
        tooltip = vscode.wb.hover_status()
        assert f"connected to app.py (pid {vscode.app.pid})" in tooltip, tooltip
        keep_screenshot(vscode.wb, "connected")
        vscode.wb.page.mouse.move(640, 300)


@pytest.mark.timeout(120)
def test_vscode_syntax_error_in_problems_then_fix_changes_the_app(vscode: Session) -> None:
    wb, app = vscode.wb, vscode.app
    with vscode.artifacts("syntax-error"):
        wb.wait_status(rf"pid {app.pid}")
        wb.replace_line(3, "RATE = 2 +")
        wb.save()
        wb.show_problems()
        problem = wb.wait_problem(r"SyntaxError.*\[Ln 3, Col \d+\]")
        assert "reload_server" in problem, f"not from our source: {problem!r}"
        assert wait_until(lambda: wb.squiggles() > 0, 10), "no squiggle in the editor"
        wb.wait_status(r"Reload failed: shop\.pricing")
        assert wait_until(lambda: any("Reload failed" in n for n in wb.notifications()), 10), (
            f"no error notification: {wb.notifications()!r}"
        )
        assert app.out() == "20", "the old code keeps running"
        keep_screenshot(wb, "syntax-error")

        wb.clear_notifications()
        wb.replace_line(3, "RATE = 3")
        wb.save()
        wb.wait_no_problems()
        app.wait_out("30")
        wb.wait_status(r"Reloaded shop\.pricing")
        assert wait_until(lambda: wb.squiggles() == 0, 10)
        keep_screenshot(wb, "fixed")


@pytest.mark.timeout(120)
def test_vscode_rolled_back_import_error_points_at_its_line(vscode: Session) -> None:
    wb, app = vscode.wb, vscode.app
    with vscode.artifacts("rolled-back"):
        wb.replace_line(3, "RATE = 1 / 0")
        wb.save()
        wb.show_problems()
        wb.wait_problem(r"ZeroDivisionError.*rolled back.*\[Ln 3, Col \d+\]")
        assert app.out() == "30", "rolled back: the old code keeps running"
        keep_screenshot(wb, "rolled-back")

        wb.clear_notifications()
        wb.replace_line(3, "RATE = 4")
        wb.save()
        wb.wait_no_problems()
        app.wait_out("40")


@pytest.mark.timeout(120)
def test_vscode_reconnects_when_the_app_restarts(vscode: Session) -> None:
    wb = vscode.wb
    with vscode.artifacts("reconnect"):
        old = vscode.app
        old.stop()
        wb.wait_status(r"disconnected")
        new = App(vscode.workspace, old.log_path.parent)
        vscode.apps.append(new)
        new.start()
        new.wait_out("40")
        wb.wait_status(rf"connected to .*pid {new.pid}", timeout=30)
        wb.replace_line(3, "RATE = 5")
        wb.save()
        new.wait_out("50")
        wb.wait_status(r"Reloaded shop\.pricing")


@pytest.mark.timeout(120)
def test_vscode_commands_reload_stale_disconnect_connect_and_logs(vscode: Session) -> None:
    wb, app = vscode.wb, vscode.app
    with vscode.artifacts("commands"):
        # A change made outside the editor: Reload Stale Modules picks it up.
        pricing = vscode.workspace / "shop" / "pricing.py"
        pricing.write_text(pricing.read_text().replace("RATE = 5", "RATE = 6"))
        wb.run_command("Reload Server: Reload Stale Modules")
        app.wait_out("60")

        wb.run_command("Reload Server: Disconnect")
        wb.wait_status(r"disconnected by the user")
        pricing.write_text(pricing.read_text().replace("RATE = 6", "RATE = 7"))
        wb.run_command("Reload Server: Reload Stale Modules")  # connects on demand
        app.wait_out("70")
        wb.wait_status(rf"connected to .*pid {app.pid}")

        # Reload Current File forces a reload of the active editor's module.
        wb.page.locator(".editor-instance .monaco-editor .view-lines").first.click()
        wb.run_command("Reload Server: Reload Current File")
        wb.wait_status(r"Reloaded shop\.pricing")

        wb.run_command("Reload Server: Show Logs")
        logs = wait_until(lambda: "Connected to" in wb.output_text() and wb.output_text(), 15)
        assert logs, f"the log shows {wb.output_text()!r}"
        assert "reloadStale" in logs
        assert wait_until(lambda: "→ reloadPath" in wb.output_text(), 10), wb.output_text()
        keep_screenshot(wb, "logs")


@pytest.mark.timeout(120)
def test_vscode_settings_change_reconnects_and_a_missing_app_is_quiet(vscode: Session) -> None:
    wb, app = vscode.wb, vscode.app
    # Workspace settings, changed on disk as a person or a tool would.
    settings_file = vscode.workspace / ".vscode" / "settings.json"
    settings_file.parent.mkdir(exist_ok=True)
    with vscode.artifacts("settings"):
        wb.clear_notifications()
        # A configured port where nothing listens: not connected, said in the
        # status bar, and no pop-up for each retry.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free_port = s.getsockname()[1]
        settings_file.write_text(json.dumps({"reloadServer.port": free_port}))
        wb.wait_status(rf"disconnected — cannot connect to 127\.0\.0\.1:{free_port}")
        time.sleep(3)
        assert wb.notifications() == [], f"notifications while retrying: {wb.notifications()!r}"

        # Back to discovery: connects again by itself.
        settings_file.write_text("{}")
        wb.wait_status(rf"connected to app\.py \(pid {app.pid}\)")
