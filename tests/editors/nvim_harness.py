"""Drive a real app (with reload_server embedded) and a real headless Neovim.

The app is a script in a temporary project that imports ``greeting`` from the
project and writes ``greeting.message()`` to ``out.txt`` every 20 ms (with the
number of the loop turn), so a test sees the app's behaviour change when the
module is reloaded.  Neovim runs with
the plugin from ``editors/nvim`` on its runtimepath (as a user would install it)
and is driven over its RPC API with pynvim.  Every wait is bounded, and waits
for an event: a test that checks that something did not happen first waits for
something that proves it would have happened by then (the app running its code
again, the reply to a later request, a status change).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from support.waits import TIMEOUT, wait_until

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "editors" / "nvim"

APP_SCRIPT = """\
import os
import sys
import time

import greeting

if os.environ.get("APP_SERVE"):
    import reload_server

    host, port = reload_server.serve(
        int(os.environ["APP_SERVE"]), discovery=not os.environ.get("APP_NO_DISCOVERY")
    )
    with open("port.txt", "w") as f:
        f.write(str(port))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out.txt")
print("app running", os.getpid(), file=sys.stderr, flush=True)
# What greeting.message() says, and how many times the loop has said it.
ticks = 0
while True:
    ticks += 1
    with open(out + ".tmp", "w") as f:
        f.write(f"{greeting.message()}\\n{ticks}")
    os.replace(out + ".tmp", out)
    time.sleep(0.02)
"""

GREETING = 'def message():\n    return "hello 1"\n'


class App:
    """A long-running Python program with the reload server embedded, in ``project``."""

    def __init__(
        self,
        project: Path,
        *,
        launcher: bool = True,
        discovery: bool = True,
        token: str | None = None,
        listen: int = 0,
    ) -> None:
        assert launcher or not token, "the token is a launcher option here"
        assert listen or discovery or not launcher, "the test would not know the port"
        self.project = project
        self.token = token
        self.listen = listen
        self.launcher = launcher
        self.discovery = discovery
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = project / "app.log"
        (project / "app.py").write_text(APP_SCRIPT)
        if not (project / "greeting.py").exists():
            (project / "greeting.py").write_text(GREETING)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def discovery_file(self) -> Path:
        return self.project / ".reload_server" / f"{self.pid}.json"

    def start(self, timeout: float = TIMEOUT) -> App:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("RELOAD_SERVER_ROOT", "RELOAD_SERVER_DISCOVERY_DIR", "PYTHONPATH")
        }
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        if self.launcher:
            argv = [sys.executable, "-m", "reload_server", "--listen", str(self.listen)]
            if self.token:
                argv += ["--token", self.token]
            if not self.discovery:
                argv.append("--no-discovery")
            argv.append("app.py")
        else:
            env["APP_SERVE"] = str(self.listen)
            if not self.discovery:
                env["APP_NO_DISCOVERY"] = "1"
            argv = [sys.executable, "app.py"]
        for stale in ("out.txt", "port.txt"):
            (self.project / stale).unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=self.project, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(self._ready, timeout, what="the app to start")
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{self.log_text()}") from None
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the app exited with {self.proc.returncode}:\n{self.log_text()}")
        if self.discovery and not self.discovery_file.exists():
            return False
        if not self.discovery and not self.listen and not (self.project / "port.txt").exists():
            return False
        return (self.project / "out.txt").exists()

    @property
    def port(self) -> int:
        if self.discovery:
            return int(json.loads(self.discovery_file.read_text())["port"])
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
        return self._said()[0]

    def fresh_behaviour(self) -> str:
        """What the app says in a loop turn that started after this call.

        Turn n+2 starts after turn n+1 has written, which is after we saw turn n:
        its ``greeting.message()`` runs whatever code the app has now.
        """
        seen = self._said()[1]
        wait_until(lambda: self._said()[1] >= seen + 2, what="the app's loop to turn twice")
        return self.behaviour()

    def wait_behaviour(self, expected: str, timeout: float = TIMEOUT) -> str:
        """Waits until the app says ``expected``; returns what it last said."""
        try:
            wait_until(
                lambda: self.behaviour() == expected, timeout, what=f"the app saying {expected!r}"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it says {self.behaviour()!r}") from None
        return self.behaviour()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGINT, timeout: float = 5.0) -> None:
        """Stops the app (SIGINT: a clean exit, SIGKILL: a crash) and waits for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)


INIT_LUA = """\
vim.opt.runtimepath:prepend({plugin_dir})
vim.opt.swapfile = false
-- The python ftplugin asks has('python3'), which starts Python to probe the
-- provider (seconds); the plugin does not use providers.
vim.g.loaded_python3_provider = 0
vim.opt.shortmess:append("F")
-- Record what the plugin tells the user.
_G.test_notes = {{}}
vim.notify = function(msg, level, opts)
  table.insert(_G.test_notes, {{ msg = msg, level = level or vim.log.levels.INFO }})
end
-- Record what tells a test that something has been handled, so that it can
-- wait for that instead of for a while:
-- the server's log lines (one per reload, and for saves that reloaded nothing);
_G.test_logs = {{}}
local log_message = vim.lsp.handlers["window/logMessage"]
vim.lsp.handlers["window/logMessage"] = function(err, result, ctx, config)
  table.insert(_G.test_logs, result.message)
  return log_message(err, result, ctx, config)
end
-- the replies to requests, once their handlers have run (they were scheduled
-- before this autocommand ran);
_G.test_replies = {{}}
vim.api.nvim_create_autocmd("LspRequest", {{
  callback = function(ev)
    local request = ev.data.request
    if request.type == "complete" then
      vim.schedule(function()
        table.insert(_G.test_replies, request.method)
      end)
    end
  end,
}})
-- and the statusline string each time the plugin says it changed.
_G.test_statuses = {{}}
vim.api.nvim_create_autocmd("User", {{
  pattern = "ReloadServerStatus",
  callback = function()
    table.insert(_G.test_statuses, require("reload_server").status())
  end,
}})
{setup}
"""


def init_lua(setup: dict[str, Any] | None) -> str:
    """An init.lua that installs the plugin by runtimepath and calls setup(opts)."""
    if setup is None:
        call = ""
    else:
        call = f"assert(require('reload_server').setup(vim.json.decode({json.dumps(json.dumps(setup))})))"
        # On a loaded machine the app's server may take longer than the plugin's
        # 5 s to answer `initialize`: give it as long as every other wait here.
        call += f"\nrequire('reload_server.connect').init_timeout_ms = {int(TIMEOUT * 1000)}"
    return INIT_LUA.format(plugin_dir=json.dumps(str(PLUGIN_DIR)), setup=call)


class Nvim:
    """A headless Neovim with the plugin, driven over RPC."""

    def __init__(self, session: Any) -> None:
        self.api = session

    def lua(self, code: str, *args: Any) -> Any:
        return self.api.exec_lua(textwrap.dedent(code), *args)

    def wait(self, condition: str, timeout_ms: int = int(TIMEOUT * 1000)) -> bool:
        """Runs Neovim's event loop until the Lua expression ``condition`` is true (bounded)."""
        return bool(
            self.lua(
                f"return vim.wait({timeout_ms}, function() return ({condition}) and true or false end, 20)"
            )
        )

    def edit(self, path: Path) -> int:
        self.api.command(f"edit {path}")
        return self.api.current.buffer.number

    def set_lines(self, text: str) -> None:
        self.api.current.buffer[:] = text.rstrip("\n").split("\n")

    def write(self) -> None:
        self.api.command("write")

    def notes(self) -> list[dict[str, Any]]:
        return self.lua("return _G.test_notes")

    def wait_note(
        self, needle: str, timeout_ms: int = int(TIMEOUT * 1000)
    ) -> dict[str, Any] | None:
        """The first notification containing ``needle``, waiting for it (bounded)."""
        find = f"n.msg:find({json.dumps(needle)}, 1, true) ~= nil"
        self.wait(f"vim.iter(_G.test_notes):any(function(n) return {find} end)", timeout_ms)
        return next((n for n in self.notes() if needle in n["msg"]), None)

    def attached(self, buf: int = 0) -> bool:
        return bool(
            self.lua(
                """
                local c = vim.lsp.get_clients({ bufnr = ... , name = "reload_server" })[1]
                return c ~= nil and c.initialized == true
                """,
                buf,
            )
        )

    def wait_attached(self, buf: int = 0, timeout_ms: int = int(TIMEOUT * 1000)) -> bool:
        clients = f"vim.lsp.get_clients({{ bufnr = {buf}, name = 'reload_server' }})"
        return self.wait(
            f"(function() local c = {clients}[1] return c ~= nil and c.initialized == true end)()",
            timeout_ms,
        )

    def logs(self) -> list[str]:
        """The server's ``window/logMessage`` lines so far."""
        return self.lua("return _G.test_logs")

    @staticmethod
    def _replies(method: str) -> str:
        return f"#vim.tbl_filter(function(m) return m == {json.dumps(method)} end, _G.test_replies)"

    def replies(self, method: str) -> int:
        """How many replies to ``method`` requests have been handled."""
        return self.lua(f"return {self._replies(method)}")

    def wait_replies(self, method: str, count: int) -> None:
        """Waits until ``count`` replies to ``method`` requests have been handled."""
        handled = self.wait(f"{self._replies(method)} >= {count}")
        assert handled, f"replies so far: {self.lua('return _G.test_replies')}"

    def round_trip(self, buf: int = 0) -> None:
        """A request to the server through the buffer's connection, and its reply.

        The server reads a connection's messages in order, so when the reply is
        here, whatever was sent before (a save, say) has been dealt with.  The
        method is one the server does not have: it answers with an error at once.
        """
        method = "reloadServer/testRoundTrip"
        before = self.replies(method)
        self.lua(
            """
            local c = vim.lsp.get_clients({ bufnr = ..., name = "reload_server" })[1]
            assert(c and c:request("reloadServer/testRoundTrip", {}, function() end))
            """,
            buf,
        )
        self.wait_replies(method, before + 1)

    def statuses(self) -> list[str]:
        """The statusline strings the plugin announced so far (``User ReloadServerStatus``)."""
        return self.lua("return _G.test_statuses")

    def wait_attempt(self, since: int) -> None:
        """Waits until a connection attempt made after the first ``since`` statuses
        is over: the status went to "reload: connecting", and the last is "reload: off"."""
        over = self.wait(
            f"""(function()
              local s = _G.test_statuses
              return s[#s] == "reload: off"
                and vim.list_contains(vim.list_slice(s, {since} + 1), "reload: connecting")
            end)()"""
        )
        assert over, f"no connection attempt ended; statuses since: {self.statuses()[since:]}"

    def diagnostics(self, buf: int = 0) -> list[dict[str, Any]]:
        return self.lua(
            """
            local out = {}
            for _, d in ipairs(vim.diagnostic.get(...)) do
              out[#out + 1] = { lnum = d.lnum, col = d.col, message = d.message,
                                severity = d.severity, source = d.source }
            end
            return out
            """,
            buf,
        )

    def status(self) -> str:
        return self.lua("return require('reload_server').status()")

    def info(self) -> str:
        """What :ReloadInfo shows."""
        return self.api.api.exec2("ReloadInfo", {"output": True})["output"]


def find_nvim() -> str | None:
    """The nvim to test with: $RELOAD_SERVER_TEST_NVIM, the venv's, or the one on PATH (>= 0.11)."""
    candidates = [
        os.environ.get("RELOAD_SERVER_TEST_NVIM"),
        str(Path(sys.executable).parent / "nvim"),
        shutil.which("nvim"),
    ]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [
                    candidate,
                    "--headless",
                    "-u",
                    "NONE",
                    "-i",
                    "NONE",
                    "--clean",
                    "-es",
                    "+lua io.stdout:write(vim.fn.has('nvim-0.11'))",
                    "+qa!",
                ],
                capture_output=True,
                text=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip().endswith("1"):
            return candidate
    return None
