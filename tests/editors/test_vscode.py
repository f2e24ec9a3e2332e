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
import re
import shutil
import signal
import socket
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.apps import LoopingApp
from support.waits import wait_until
from vscode_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    EXT_DIR,
    CodeServer,
    Tools,
    Workbench,
    artifacts_on_failure,
    build_vsix,
    run_node,
    shop_app,
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
    apps: list[LoopingApp] = field(default_factory=list)

    @property
    def app(self) -> LoopingApp:
        return self.apps[-1]

    def artifacts(self, name: str):
        return artifacts_on_failure(name, self.wb, self.code_server, self.apps)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, one for the module (Playwright's sync API runs once per thread)."""
    Tools.require_code_server()
    Tools.require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def workbench_on(
    browser: Any, cs: CodeServer, target: Path, apps: list[LoopingApp], name: str
) -> Iterator[Workbench]:
    """code-server started on ``target`` and shown in a new page; at the end the page,
    code-server and the apps stop.  A failed start keeps its artifacts under ``name``."""
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [a.stop() for a in apps])
        stack.callback(cs.stop)
        url = cs.start(target)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        stack.callback(page.close)
        page.set_default_timeout(20_000)
        wb = Workbench(page)
        with artifacts_on_failure(name, wb, cs, apps):
            wb.open(url)
        yield wb


@pytest.fixture(scope="module")
def vscode(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Session]:
    """A real app, code-server with the packaged extension, and Chromium showing it."""
    root = tmp_path_factory.mktemp("vscode-e2e")
    workspace = root / "workspace"
    workspace.mkdir()
    logs = root / "logs"
    logs.mkdir()
    vsix = build_vsix(root)
    apps = [shop_app(workspace, logs).start()]
    apps[0].wait_behaviour("20")
    cs = CodeServer(root / "code-server", vsix)
    with workbench_on(browser, cs, workspace, apps, "startup") as wb:
        yield Session(workspace, cs, wb, apps)


@pytest.mark.timeout(120)
def test_vscode_extension_loads_and_connects_to_the_app(vscode: Session) -> None:
    with vscode.artifacts("connects"):
        vscode.wb.open_file("shop", "pricing.py")
        status = vscode.wb.wait_status(rf"connected to app\.py \(pid {vscode.app.pid}\)")
        assert f"pid {vscode.app.pid}" in status
        tooltip = vscode.wb.hover_status()
        assert f"connected to app.py (pid {vscode.app.pid})" in tooltip, tooltip
        # The README promises the app's command line in the tooltip, not just its script.
        argv = vscode.app.discovery_entry()["argv"]
        assert f"Command line: {' '.join(argv)}" in tooltip, (argv, tooltip)
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
        wait_until(lambda: wb.squiggles() > 0, 10, what="a squiggle in the editor")
        wb.wait_status(r"Reload failed: shop\.pricing")
        wait_until(
            lambda: any("Reload failed" in n for n in wb.notifications()),
            10,
            what=lambda: f"an error notification; the notifications: {wb.notifications()!r}",
        )
        assert app.behaviour() == "20", "the old code keeps running"
        keep_screenshot(wb, "syntax-error")

        wb.clear_notifications()
        wb.replace_line(3, "RATE = 3")
        wb.save()
        wb.wait_no_problems()
        app.wait_behaviour("30")
        wb.wait_status(r"Reloaded shop\.pricing")
        wait_until(lambda: wb.squiggles() == 0, 10, what="the squiggles to clear")
        keep_screenshot(wb, "fixed")


@pytest.mark.timeout(120)
def test_vscode_rolled_back_import_error_points_at_its_line(vscode: Session) -> None:
    wb, app = vscode.wb, vscode.app
    with vscode.artifacts("rolled-back"):
        wb.replace_line(3, "RATE = 1 / 0")
        wb.save()
        wb.show_problems()
        wb.wait_problem(r"ZeroDivisionError.*rolled back.*\[Ln 3, Col \d+\]")
        assert app.behaviour() == "30", "rolled back: the old code keeps running"
        toast = wait_until(
            lambda: next((n for n in wb.notifications() if "ZeroDivisionError" in n), None),
            10,
            what=lambda: f"an error notification; the notifications: {wb.notifications()!r}",
        )
        assert toast.lower().count("old code is still running") == 1, toast
        keep_screenshot(wb, "rolled-back")

        wb.clear_notifications()
        wb.replace_line(3, "RATE = 4")
        wb.save()
        wb.wait_no_problems()
        app.wait_behaviour("40")


@pytest.mark.timeout(120)
def test_vscode_reconnects_when_the_app_restarts(vscode: Session) -> None:
    wb = vscode.wb
    with vscode.artifacts("reconnect"):
        old = vscode.app
        # SIGTERM: the app dies at once, its discovery file left behind.
        old.stop(signal.SIGTERM)
        wb.wait_status(r"disconnected")
        new = shop_app(vscode.workspace, old.log.parent)
        vscode.apps.append(new)
        new.start()
        new.wait_behaviour("40")
        wb.wait_status(rf"connected to .*pid {new.pid}", timeout=30)
        wb.replace_line(3, "RATE = 5")
        wb.save()
        new.wait_behaviour("50")
        wb.wait_status(r"Reloaded shop\.pricing")

        # The log: the restart is an expected reconnect, and the reload is logged once.
        def saved_segment() -> str | None:
            log = vscode.code_server.channel_log()
            tail = log[log.rfind("→ didSave") :]
            return tail if "→ didSave" in log and "reloaded shop.pricing" in tail else None

        segment = wait_until(
            saved_segment,
            10,
            what=lambda: (
                "the save's reload in the log:\n" + vscode.code_server.channel_log()[-3000:]
            ),
        )
        log = vscode.code_server.channel_log()
        assert len(re.findall(r"reloaded shop\.pricing in", segment)) == 1, segment
        errors = [line for line in log.splitlines() if "[error]" in line]
        assert not [e for e in errors if "closed" in e.lower()], "\n".join(errors)
        assert re.search(r"\[info\] Connection closed .*reconnecting", log), log[-3000:]


@pytest.mark.timeout(120)
def test_vscode_commands_reload_stale_disconnect_connect_and_logs(vscode: Session) -> None:
    wb, app = vscode.wb, vscode.app
    with vscode.artifacts("commands"):
        # A change made outside the editor: Reload Stale Modules picks it up.
        pricing = vscode.workspace / "shop" / "pricing.py"
        pricing.write_text(pricing.read_text().replace("RATE = 5", "RATE = 6"))
        wb.run_command("Reload Server: Reload Stale Modules")
        app.wait_behaviour("60")

        wb.run_command("Reload Server: Disconnect")
        wb.wait_status(r"disconnected by the user")
        pricing.write_text(pricing.read_text().replace("RATE = 6", "RATE = 7"))
        wb.run_command("Reload Server: Reload Stale Modules")  # connects on demand
        app.wait_behaviour("70")
        wb.wait_status(rf"connected to .*pid {app.pid}")

        # Reload Current File forces a reload of the active editor's module.
        wb.page.locator(".editor-instance .monaco-editor .view-lines").first.click()
        wb.run_command("Reload Server: Reload Current File")
        wb.wait_status(r"Reloaded shop\.pricing")

        wb.run_command("Reload Server: Show Logs")
        logs = wait_until(
            lambda: "Connected to" in wb.output_text() and wb.output_text(),
            15,
            what=lambda: f"the log to show a connection; it shows {wb.output_text()!r}",
        )
        assert "reloadStale" in logs
        wait_until(
            lambda: "→ reloadPath" in wb.output_text(),
            10,
            what=lambda: f"'→ reloadPath' in the log; it shows {wb.output_text()!r}",
        )
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


# --------------------------------------------------------------------------- packaging


@pytest.mark.timeout(240)
def test_vscode_packaged_readme_has_no_dead_relative_links(
    node_build: None, tmp_path: Path
) -> None:
    """In a .vsix a relative link resolves inside the package only (../../docs/… is dead)."""
    vsix = build_vsix(tmp_path)
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        readme = z.read("extension/readme.md").decode()
    assert "Install" in readme, "the packaged README says how to install"
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets, "no links found: the pattern is wrong"
    dead = [
        t
        for t in targets
        if not re.match(r"[a-z]+:", t)
        and not t.startswith("#")
        and f"extension/{t.split('#')[0]}" not in names
    ]
    assert not dead, f"relative links that do not resolve inside the .vsix: {dead}"


# --------------------------------------------------------------------------- multi-root


@dataclass
class MultiRoot:
    folders: list[Path]
    code_server: CodeServer
    wb: Workbench
    apps: list[LoopingApp]

    def artifacts(self, name: str):
        return artifacts_on_failure(name, self.wb, self.code_server, self.apps)


@pytest.fixture(scope="module")
def vscode_multi_root(
    tmp_path_factory: pytest.TempPathFactory, browser: Any, vscode: Session
) -> Iterator[MultiRoot]:
    """A multi-root workspace of two folders, each with its own app, in a second code-server."""
    # After the single-folder tests: one code-server at a time keeps memory in bounds.
    vscode.code_server.stop()
    root = tmp_path_factory.mktemp("vscode-multi-root")
    logs = root / "logs"
    logs.mkdir()
    folders = [root / "billing", root / "catalog"]
    # Made first: they write their folders' files.
    apps = [shop_app(folder, logs) for folder in folders]
    # Folder settings are per folder: only catalog's include leaves tests/ out.
    (folders[1] / ".vscode").mkdir()
    (folders[1] / ".vscode" / "settings.json").write_text(
        json.dumps({"reloadServer.include": ["shop/**/*.py"]})
    )
    workspace_file = root / "shop.code-workspace"
    workspace_file.write_text(json.dumps({"folders": [{"path": str(f)} for f in folders]}))
    for app in apps:
        app.start().wait_behaviour("20")
    cs = CodeServer(root / "code-server", build_vsix(root))
    with workbench_on(browser, cs, workspace_file, apps, "multi-root-startup") as wb:
        yield MultiRoot(folders, cs, wb, apps)


@pytest.mark.timeout(180)
def test_vscode_multi_root_one_connection_per_folder(vscode_multi_root: MultiRoot) -> None:
    wb = vscode_multi_root.wb
    billing, catalog = vscode_multi_root.folders
    app_b, app_c = vscode_multi_root.apps
    with vscode_multi_root.artifacts("multi-root"):
        # Each folder's file shows its own app in the status bar.
        wb.open_path(catalog / "shop" / "pricing.py", "catalog")
        wb.wait_status(rf"connected to app\.py \(pid {app_c.pid}\)", timeout=30)
        wb.open_path(billing / "shop" / "pricing.py", "billing")
        wb.wait_status(rf"connected to app\.py \(pid {app_b.pid}\)", timeout=30)
        tooltip = wb.hover_status()
        assert "Workspace folder: billing" in tooltip, tooltip
        wb.page.mouse.move(640, 300)

        # A save reloads in its own folder's app only.
        wb.replace_line(3, "RATE = 3")
        wb.save()
        app_b.wait_behaviour("30")
        assert app_c.behaviour() == "20", "the other folder's app is untouched"

        # A broken save in catalog: its problem, once, from its app; billing's runs on.
        wb.open_path(catalog / "shop" / "pricing.py", "catalog")
        wb.wait_status(rf"pid {app_c.pid}")
        wb.replace_line(3, "RATE = 2 +")
        wb.save()
        wb.show_problems()
        problem = wb.wait_problem(r"SyntaxError.*\[Ln 3, Col \d+\]")
        assert len([p for p in wb.problems() if "SyntaxError" in p]) == 1, wb.problems()
        assert "reload_server" in problem, problem
        wb.wait_status(r"Reload failed: shop\.pricing")
        assert app_c.behaviour() == "20" and app_b.behaviour() == "30"
        wb.clear_notifications()
        wb.replace_line(3, "RATE = 4")
        wb.save()
        wb.wait_no_problems()
        app_c.wait_behaviour("40")
        assert app_b.behaviour() == "30", "billing's app did not reload catalog's file"

        log = vscode_multi_root.code_server.channel_log()
        assert "[billing] Connected to" in log and "[catalog] Connected to" in log, log[-3000:]
