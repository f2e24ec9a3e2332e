"""Helpers for the server tests: a real app in its own process, real LSP clients over TCP.

- ``make_app(...)`` starts ``app_harness.py`` in a subprocess with module files
  written to a temporary directory, and returns an :class:`App` whose ``eval``
  asks the running app for a value (how tests observe its behaviour).
- ``connect(app, ...)`` opens a pygls ``LanguageClient`` over TCP to the app's
  server, completes the LSP handshake and records every notification.

Every wait is bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HARNESS = HERE / "app_harness.py"
TIMEOUT = 15.0
PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the repo importable, no stray reload_server settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELOAD_SERVER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def write_source(path: Path, text: str) -> None:
    """Write a module file and make sure its mtime moves forward, however fast the edits."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    after = path.stat().st_mtime_ns
    if after <= before:
        bumped = before + 10_000_000
        os.utime(path, ns=(bumped, bumped))


class App:
    """A running app process with the reload server embedded."""

    def __init__(
        self,
        root: Path,
        modules: dict[str, str],
        imports: list[str],
        serve: dict[str, Any] | None,
        runner: str,
        env: dict[str, str] | None,
    ) -> None:
        self.root = root
        self.src = root / "src"
        self.src.mkdir(parents=True, exist_ok=True)
        for name, text in modules.items():
            write_source(self.src / name, text)
        config = {"path": str(self.src), "imports": imports, "serve": serve or {}, "runner": runner}
        self.stderr_path = root / "app-stderr.txt"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [PYTHON, str(HARNESS), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=root,
            env=child_env(**(env or {})),
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self._next()
        self.error: str | None = first.get("error")
        self.address: tuple[str, int] | None = (
            tuple(first["address"]) if "address" in first else None
        )

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"the app did not answer within {timeout} s; stderr:\n{self.stderr()}"
            ) from None
        if line is None:
            raise AssertionError(f"the app exited ({self.proc.poll()}); stderr:\n{self.stderr()}")
        return json.loads(line)

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def _command(self, command: dict[str, str]) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        reply = self._next()
        if "error" in reply:
            raise AppError(reply["error"], reply.get("traceback", ""))
        return reply["value"]

    def eval(self, expr: str) -> Any:
        """Evaluate an expression in the app, on its main thread; the JSON value."""
        return self._command({"eval": expr})

    def exec(self, code: str) -> None:
        self._command({"exec": code})

    async def aeval(self, expr: str) -> Any:
        """``eval`` without blocking the test's event loop (so the LSP client keeps reading)."""
        return await asyncio.to_thread(self.eval, expr)

    async def aexec(self, code: str) -> None:
        await asyncio.to_thread(self.exec, code)

    def write(self, name: str, text: str) -> Path:
        """Edit a module file on disk, as an editor saving it would."""
        path = self.src / name
        write_source(path, text)
        return path

    def path(self, name: str) -> str:
        return str(self.src / name)

    def add_module(self, text: str, stem: str = "mod") -> Module:
        """A new module with a name no other test uses, imported by the running app.

        Lets tests share one app process (starting one costs a second of CPU,
        mostly importing pygls) without touching each other's modules.
        """
        self._counter = getattr(self, "_counter", 0) + 1
        name = f"{stem}_{self._counter}"
        write_source(self.src / f"{name}.py", text)
        self.exec(f"import {name}")
        return Module(self, name, self.src / f"{name}.py")

    def close(self) -> int | None:
        """End the app (end of stdin) and wait for it; its exit code."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            code = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=TIMEOUT)
        self._stderr.close()
        return code


class Module:
    """A module loaded in an app: its name, its file, and ways to use it."""

    def __init__(self, app: App, name: str, path: Path) -> None:
        self.app = app
        self.name = name
        self.path = str(path)
        self.uri = uri(path)

    def eval(self, expr: str) -> Any:
        """``expr`` evaluated as an attribute access on the module, e.g. ``greet()``."""
        return self.app.eval(f"sys.modules[{self.name!r}].{expr}")

    def write(self, text: str) -> None:
        write_source(Path(self.path), text)


class AppError(Exception):
    def __init__(self, message: str, tb: str) -> None:
        super().__init__(message)
        self.tb = tb


class AppFactory:
    """Starts apps under one directory and ends them all on close()."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.apps: list[App] = []

    def __call__(
        self,
        modules: dict[str, str] | None = None,
        imports: list[str] | tuple[str, ...] = (),
        serve: dict[str, Any] | None = None,
        runner: str = "thread",
        env: dict[str, str] | None = None,
        expect_error: bool = False,
    ) -> App:
        root = self.base / f"app{len(self.apps)}"
        root.mkdir()
        app = App(root, modules or {}, list(imports), serve, runner, env)
        self.apps.append(app)
        if not expect_error:
            assert app.address is not None, (
                f"serve() failed in the app: {app.error}\n{app.stderr()}"
            )
        return app

    def close(self) -> None:
        for app in self.apps:
            app.close()


# -- the LSP client ------------------------------------------------------------------

RAW_RESULTS = {"reloadPath", "reloadStale", "workspace/executeCommand", "initialize"}


@attrs.define
class RawResponse:
    id: int | str
    jsonrpc: str
    result: Any = None


@attrs.define
class RawNotification:
    method: str
    jsonrpc: str
    params: Any = None


class EditorProtocol(LanguageServerProtocol):
    """pygls's client protocol, keeping our results and status as plain JSON (not namedtuples)."""

    def get_result_type(self, method: str) -> Any:
        if method in RAW_RESULTS:
            return RawResponse
        return super().get_result_type(method)

    def get_message_type(self, method: str) -> Any:
        if method == "reloadServer/status":
            return RawNotification
        return super().get_message_type(method)


class Editor:
    """A real LSP client (pygls) connected to an app over TCP, recording what it is sent."""

    def __init__(self, name: str = "test-editor") -> None:
        self.name = name
        self.client = LanguageClient(name, "1.0", protocol_cls=EditorProtocol)
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.published: list[tuple[str, list[types.Diagnostic]]] = []
        self.logs: list[types.LogMessageParams] = []
        self.statuses: list[dict[str, Any]] = []
        self.init_result: dict[str, Any] | None = None
        self.said_goodbye = False
        self._event = asyncio.Event()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            self.published.append((params.uri, list(params.diagnostics)))
            self._event.set()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            self.logs.append(params)
            self._event.set()

        @self.client.feature("reloadServer/status")
        def _status(params: Any) -> None:
            self.statuses.append(params)
            self._event.set()

    async def connect(
        self,
        address: tuple[str, int],
        options: dict[str, Any] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> dict[str, Any]:
        await asyncio.wait_for(self.client.start_tcp(*address), TIMEOUT)
        result = await self.request(
            "initialize",
            types.InitializeParams(
                capabilities=capabilities or types.ClientCapabilities(),
                process_id=os.getpid(),
                client_info=types.ClientInfo(name=self.name),
                initialization_options=options,
            ),
        )
        self.client.initialized(types.InitializedParams())
        self.init_result = result
        return result

    async def request(self, method: str, params: Any = None, timeout: float = TIMEOUT) -> Any:
        return await asyncio.wait_for(
            self.client.protocol.send_request_async(method, params), timeout
        )

    def notify(self, method: str, params: Any = None) -> None:
        self.client.protocol.notify(method, params)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Wait until ``predicate()`` is truthy, re-checking after each notification."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: condition not met within {timeout} s")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), min(remaining, 0.2))
            except asyncio.TimeoutError:
                pass

    async def shutdown_and_exit(self) -> None:
        self.said_goodbye = True
        await self.request("shutdown")
        self.client.protocol.notify("exit")

    async def close(self) -> None:
        """Say goodbye if still connected, then stop the client; bounded in time."""
        if not self.client.stopped and not self.said_goodbye:
            try:
                await asyncio.wait_for(self.shutdown_and_exit(), 3)
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
        writer = self.client.protocol.writer
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass
        try:
            await asyncio.wait_for(self.client.stop(), 5)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001
            pass


def uri(path: str | Path) -> str:
    return Path(path).resolve().as_uri()


GREETING = 'def greet():\n    return "hello"\n'
GREETING_V2 = 'def greet():\n    return "hello again"\n'
