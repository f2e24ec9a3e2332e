"""Every way a test starts a real app process, and ends it.

- :class:`App` (made by :class:`AppFactory`, the ``make_app`` fixture): an app
  with the reload server embedded that the test drives over stdin
  (``programs/driven_app.py``); ``app.eval(expr)`` is how a test sees its behaviour.
- :class:`LoopingApp`: the app the editor tests watch: a script that calls one
  function of the project (``greeting.message()``) in a loop and writes what it
  says to ``out.txt``, run by the launcher or serving by itself.
- :class:`Proc`: any other program (an example, the launcher, ``programs/forking_app.py``),
  its stdout and stderr lines collected as they come.
- :func:`cli`: one run of the command-line client.

Children run with the repository importable and no stray ``RELOAD_SERVER_*``
settings; every wait is bounded by :data:`support.waits.TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import IO, Any

from support.paths import PROGRAMS, PYTHON, REPO
from support.sources import uri, write_source
from support.waits import TIMEOUT, wait_until

DRIVEN_APP = PROGRAMS / "driven_app.py"
FORKING_APP = PROGRAMS / "forking_app.py"


def child_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the repo importable, no stray reload_server settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELOAD_SERVER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# -- an app driven over stdin ------------------------------------------------------------


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
            [PYTHON, str(DRIVEN_APP), json.dumps(config)],
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
        """Run statements in the app, on its main thread."""
        self._command({"exec": code})

    async def aeval(self, expr: str) -> Any:
        """``eval`` without blocking the test's event loop (so the LSP client keeps reading)."""
        return await asyncio.to_thread(self.eval, expr)

    async def aexec(self, code: str) -> None:
        """``exec`` without blocking the test's event loop."""
        await asyncio.to_thread(self.exec, code)

    def write(self, name: str, text: str) -> Path:
        """Edit a module file on disk, as an editor saving it would."""
        return write_source(self.src / name, text)

    def path(self, name: str) -> str:
        """The absolute path of module file ``name`` (relative to the app's source dir)."""
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
        """Replace the module's file on disk, as an editor saving it would."""
        write_source(Path(self.path), text)


class AppError(Exception):
    """An ``eval``/``exec`` raised in the app; ``tb`` is the app's traceback."""

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


# -- an app that says what its code says, in a loop ---------------------------------------

LOOP_SCRIPT = """\
import os
import sys
import time

import {module}

if os.environ.get("APP_SERVE"):
    import reload_server

    host, port = reload_server.serve(
        int(os.environ["APP_SERVE"]), discovery=not os.environ.get("APP_NO_DISCOVERY")
    )
    with open("port.txt", "w") as f:
        f.write(str(port))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out.txt")
print("app running", os.getpid(), file=sys.stderr, flush=True)
# What the call says (or what it raised), and how many times the loop has said it.
ticks = 0
while True:
    ticks += 1
    try:
        said = str({module}.{call})
    except Exception as exc:
        said = f"error: {{exc!r}}"
    with open(out + ".tmp", "w") as f:
        f.write(f"{{said}}\\n{{ticks}}")
    os.replace(out + ".tmp", out)
    time.sleep(0.02)
"""


def greeting_source(n: int | str) -> str:
    """The text of ``greeting.py`` whose ``message()`` says ``hello N``."""
    return f'def message():\n    return "hello {n}"\n'


class LoopingApp:
    """A long-running program with the reload server embedded, in ``project``.

    ``app.py`` imports ``module`` and writes ``module.call`` to ``out.txt`` every
    20 ms with the number of the loop turn, so a test sees the app's behaviour
    change when the module is reloaded.  Run by the launcher
    (``python -m reload_server --listen LISTEN [--token T] [--no-discovery] app.py``)
    or, with ``launcher=False``, calling ``reload_server.serve(LISTEN)`` itself.
    ``files`` (the project's modules) are written unless they exist already.
    """

    def __init__(
        self,
        project: Path,
        *,
        module: str = "greeting",
        call: str = "message()",
        files: dict[str, str] | None = None,
        launcher: bool = True,
        discovery: bool = True,
        token: str | None = None,
        listen: int = 0,
        log: Path | None = None,
    ) -> None:
        assert launcher or not token, "the token is a launcher option here"
        assert listen or discovery or not launcher, "the test would not know the port"
        self.project = project
        self.module = module
        self.launcher = launcher
        self.discovery = discovery
        self.token = token
        self.listen = listen
        self.log = log or project / "app.log"
        self.proc: subprocess.Popen[bytes] | None = None
        project.mkdir(parents=True, exist_ok=True)
        if files is None:
            files = {"greeting.py": greeting_source(1)}
        for name, text in files.items():
            if not (project / name).exists():
                # Dated well before the import: an edit made at once still looks newer.
                write_source(project / name, text, backdate_new=60)
        write_source(
            project / "app.py", LOOP_SCRIPT.format(module=module, call=call), backdate_new=60
        )

    @property
    def module_path(self) -> Path:
        """The file of the module whose code the loop runs."""
        return self.project / (self.module.replace(".", "/") + ".py")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = TIMEOUT) -> LoopingApp:
        """Start the app and wait until it serves and its loop has said something."""
        env = child_env(PYTHONDONTWRITEBYTECODE="1")
        if self.launcher:
            argv = [PYTHON, "-m", "reload_server", "--listen", str(self.listen)]
            if self.token:
                argv += ["--token", self.token]
            if not self.discovery:
                argv.append("--no-discovery")
            argv.append("app.py")
        else:
            env["APP_SERVE"] = str(self.listen)
            if not self.discovery:
                env["APP_NO_DISCOVERY"] = "1"
            argv = [PYTHON, "app.py"]
        # What an app before this one left must not pass for this one's.
        for stale in ("out.txt", "port.txt"):
            (self.project / stale).unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, timeout, what=lambda: f"the app to start:\n{self.log_text()}")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the app exited with {self.proc.returncode}:\n{self.log_text()}")
        if self.discovery and self.discovery_entry() is None:
            return False
        if not self.discovery and not self.listen and not (self.project / "port.txt").exists():
            return False
        return (self.project / "out.txt").exists()

    @property
    def discovery_file(self) -> Path:
        return self.project / ".reload_server" / f"{self.pid}.json"

    def discovery_entry(self) -> dict[str, Any] | None:
        """The app's discovery file, read (None while there is none)."""
        try:
            return json.loads(self.discovery_file.read_text())
        except (OSError, ValueError):
            return None

    @property
    def port(self) -> int:
        if self.discovery:
            entry = self.discovery_entry()
            assert entry is not None, f"no discovery file {self.discovery_file}"
            return int(entry["port"])
        if self.listen:
            return self.listen
        return int((self.project / "port.txt").read_text())

    def _said(self) -> tuple[str, int]:
        """What the app last said, and the number of the loop turn that said it."""
        try:
            text = (self.project / "out.txt").read_text()
        except FileNotFoundError:
            return "", 0
        said, _, tick = text.rpartition("\n")
        return said, int(tick) if tick.isdigit() else 0

    def behaviour(self) -> str:
        """What the app said last."""
        return self._said()[0]

    def fresh_behaviour(self) -> str:
        """What the app says in a loop turn that started after this call.

        Turn n+2 starts after turn n+1 has written, which is after we saw turn n:
        its call runs whatever code the app has now.
        """
        seen = self._said()[1]
        wait_until(lambda: self._said()[1] >= seen + 2, what="the app's loop to turn twice")
        return self.behaviour()

    def wait_behaviour(self, expected: str, timeout: float = TIMEOUT) -> str:
        """Waits until the app says ``expected``; returns what it last said."""
        wait_until(
            lambda: self.behaviour() == expected,
            timeout,
            what=lambda: (
                f"the app saying {expected!r}; it says {self.behaviour()!r}\n"
                f"app log:\n{self.log_text()[-4000:]}"
            ),
        )
        return self.behaviour()

    def log_text(self) -> str:
        """The app's stdout and stderr so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGINT, timeout: float = TIMEOUT) -> None:
        """Stops the app (SIGINT: a clean exit, SIGKILL: a crash) and waits for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)


# -- any other program ------------------------------------------------------------------


class _OutputEnded(AssertionError):
    """No line can come any more: the program closed its stdout and stderr."""


class Proc:
    """A running program; its stdout and stderr lines are collected as they come."""

    def __init__(self, args: list[str], cwd: Path, **popen: Any) -> None:
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            **popen,
        )
        self.pid = self.proc.pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._open = 2  # streams not yet at end of file
        self._changed = threading.Condition()
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    def _read(self, stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def _wake(self, seconds: float) -> None:
        with self._changed:
            self._changed.wait(seconds)

    def wait_for(
        self, pattern: str, *, stream: str = "out", after: int = 0, timeout: float = TIMEOUT
    ) -> re.Match[str]:
        """The first line (from index ``after``) of stdout/stderr matching ``pattern``.

        Fails at once when the program's output has ended without such a line.
        """
        lines = self.out if stream == "out" else self.err
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            with self._changed:
                ended = self._open == 0
                for line in lines[after:]:
                    match = regex.search(line)
                    if match:
                        return match
            if ended:
                raise _OutputEnded(
                    self._report(f"std{stream} ended with no line matching {pattern!r}")
                )
            return None

        try:
            return wait_until(found, timeout, wake=self._wake)
        except _OutputEnded:
            raise
        except AssertionError:
            raise AssertionError(
                self._report(f"no line matching {pattern!r} on std{stream} within {timeout} s")
            ) from None

    def _report(self, headline: str) -> str:
        return (
            f"{headline} (exit {self.proc.poll()})\nstdout:\n"
            + "\n".join(self.out[-30:])
            + "\nstderr:\n"
            + "\n".join(self.err[-30:])
        )

    def stop(self) -> None:
        """SIGTERM (the program's own way to stop), then SIGKILL of its group if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m reload_server reload ARGS``, run to its end."""
    return subprocess.run(
        [PYTHON, "-m", "reload_server", "reload", *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )


def http_get(url: str) -> str:
    """The body of a GET of ``url`` (an example's HTTP endpoint), stripped."""
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.read().decode().strip()


def discovery_pids(root: Path) -> set[int]:
    """The pids of the discovery entries under ``root``: the processes that serve there."""
    directory = root / ".reload_server"
    if not directory.is_dir():
        return set()
    return {int(p.stem) for p in directory.glob("*.json") if p.stem.isdigit()}
