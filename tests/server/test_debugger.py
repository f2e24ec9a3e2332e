"""Reloading an app that runs under a debugger (real debugpy, driven over DAP), and
calls that still run the code from before a reload, reported as diagnostics."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from support.apps import Proc
from support.dap import DebugClient
from support.editor import Editor
from support.paths import PYTHON
from support.sources import uri, write_source

# The app reads a line, calls work.step(line) and prints the result: each line is
# one call the test makes it do, on its main thread.
APP = """\
import sys
import work

print("ready", flush=True)
for line in sys.stdin:
    print("result", work.step(line.strip()), flush=True)
"""
WORK = """\
def step(arg):
    value = "old"
    return f"{value}:{arg}"
"""
OLD_LINE = 2  # value = "old"
# Lines added above step: it moves down, and has a name only the new code has.
WORK_V2 = """\
# a comment that moves step down

NEW_ONLY = 41

def step(arg):
    value = "new"
    extra = NEW_ONLY + 1
    return f"{value}:{arg}:{extra}"
"""
DEF_LINE_V2 = 5  # def step(arg):
NEW_LINE = 7  # extra = NEW_ONLY + 1
STALE = "step is running the code from before the reload until it returns"
AUTO_RELOAD = "debugpy autoReload is on: changes would be applied twice; turn it off in launch.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Debugged:
    """``python -m debugpy --listen PORT --wait-for-client -m reload_server --listen 0 app.py``,
    attached to by a DAP client, with an editor connected to its reload server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = str(root / "work.py")
        write_source(root / "app.py", APP, backdate_new=2.0)
        write_source(root / "work.py", WORK, backdate_new=2.0)
        self.port = free_port()
        self.proc = Proc(
            [
                PYTHON,
                "-Xfrozen_modules=off",  # else pydevd warns that it may miss breakpoints
                "-m",
                "debugpy",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--wait-for-client",
                "-m",
                "reload_server",
                "--listen",
                "0",
                "--no-discovery",
                "app.py",
            ],
            cwd=root,
        )
        self.dap = DebugClient()
        self.editor: Editor | None = None

    async def start(self, breakpoints: list[int], **attach: Any) -> Editor:
        await self.dap.connect(self.port)
        await self.dap.attach({self.work: breakpoints}, **attach)
        listening = await asyncio.to_thread(
            self.proc.wait_for, r"listening on 127\.0\.0\.1:(\d+)", stream="err"
        )
        await asyncio.to_thread(self.proc.wait_for, "^ready$")
        self.editor = Editor("debugged")
        await self.editor.connect(("127.0.0.1", int(listening.group(1))))
        return self.editor

    def call(self, arg: str) -> None:
        """Make the app call work.step(arg) on its main thread."""
        assert self.proc.proc.stdin is not None
        self.proc.proc.stdin.write(arg + "\n")
        self.proc.proc.stdin.flush()

    async def result(self, expected: str) -> None:
        await asyncio.to_thread(self.proc.wait_for, f"^result {expected}$")

    async def reload(self) -> dict[str, Any]:
        assert self.editor is not None
        return await self.editor.request("reloadPath", {"path": self.work})

    async def close(self) -> None:
        if self.editor is not None:
            await self.editor.close()
        await self.dap.close()
        self.proc.stop()


@pytest.fixture
async def debugged(tmp_path: Path):
    pytest.importorskip("debugpy")  # in the test extra: under CI a skip fails the run
    app = Debugged(tmp_path)
    yield app
    await app.close()


def stale_notes(editor: Editor, file_uri: str) -> list[Any]:
    return [d for d in editor.diagnostics.get(file_uri, []) if d.code == "stale-frame"]


async def test_a_save_reloads_while_the_app_is_paused_at_a_breakpoint(debugged):
    editor = await debugged.start(breakpoints=[OLD_LINE])
    dap = debugged.dap
    work_uri = uri(debugged.work)

    debugged.call("a")
    stopped = await dap.stopped()
    assert stopped["reason"] == "breakpoint"
    assert stopped["allThreadsStopped"] is True
    thread = stopped["threadId"]
    paused_at = len(dap.events)
    # The server's threads are hidden from the debugger: it never lists, traces or suspends them.
    threads = (await dap.request("threads"))["threads"]
    assert [t["name"] for t in threads] == ["MainThread"]

    write_source(Path(debugged.work), WORK_V2)
    outcome = await debugged.reload()

    assert outcome["status"] == "reloaded", outcome
    assert outcome["modules"] == ["work"]
    # The paused thread is still paused, where it was, in the old code.
    assert not [e for e, _ in dap.events[paused_at:] if e in ("continued", "stopped")]
    top = await dap.top_frame(thread)
    assert (top["name"], top["line"], top["source"]["path"]) == ("step", OLD_LINE, debugged.work)
    # ... which the editor is told, at the def line of the new file.
    [note] = await editor.wait_for(lambda: stale_notes(editor, work_uri), what="stale-frame note")
    assert note.severity == 3  # Information
    assert note.message == f"{STALE} (thread 'MainThread')"
    assert note.range.start.line == DEF_LINE_V2 - 1

    await dap.set_breakpoints(debugged.work, [])
    await dap.request("continue", {"threadId": thread})
    # The paused call finishes on the code it started with; the note goes when it returns.
    await debugged.result("old:a")
    await editor.wait_for(lambda: editor.diagnostics.get(work_uri) == [], what="note cleared")
    debugged.call("b")
    await debugged.result("new:b:42")


async def test_a_breakpoint_in_a_reloaded_file_stops_in_the_new_code(debugged):
    await debugged.start(breakpoints=[])
    dap = debugged.dap
    debugged.call("a")
    await debugged.result("old:a")

    write_source(Path(debugged.work), WORK_V2)
    assert (await debugged.reload())["status"] == "reloaded"

    [breakpoint] = await dap.set_breakpoints(debugged.work, [NEW_LINE])
    assert breakpoint["verified"] is True
    assert breakpoint["line"] == NEW_LINE
    before = len(dap.events)
    debugged.call("c")
    stopped = await dap.stopped(after=before)
    top = await dap.top_frame(stopped["threadId"])
    assert (top["name"], top["line"], top["source"]["path"]) == ("step", NEW_LINE, debugged.work)
    # Names only the new code has are there to evaluate.
    assert await dap.evaluate("value", top["id"]) == "'new'"
    assert await dap.evaluate("NEW_ONLY + 1", top["id"]) == "42"

    await dap.request("continue", {"threadId": stopped["threadId"]})
    await debugged.result("new:c:42")


async def test_debugpys_own_auto_reload_is_reported_once(debugged):
    editor = await debugged.start(breakpoints=[], autoReload={"enable": True})
    # The server looked when it started: the app's log says it once.
    await asyncio.to_thread(debugged.proc.wait_for, f"reload server: {AUTO_RELOAD}", stream="err")

    def warnings() -> list[Any]:
        return [m for m in editor.logs if AUTO_RELOAD in m.message]

    write_source(Path(debugged.work), WORK_V2)
    await debugged.reload()
    [warning] = await editor.wait_for(warnings, what="the autoReload warning")
    assert warning.type == 2  # Warning

    # pydevd reloads work.py too, on its own schedule: only what the server says is checked.
    write_source(Path(debugged.work), WORK)
    await debugged.reload()
    assert len(warnings()) == 1
    assert sum(AUTO_RELOAD in line for line in debugged.proc.err) == 1


# -- without a debugger -----------------------------------------------------------------

LOOPER = """\
def idle(event):
    event.wait()


def spin(event):
    event.wait()
    return "old"
"""
# spin moves down and changes; idle is untouched (same code, same lines).
LOOPER_V2 = """\
def idle(event):
    event.wait()


# spin moved down


def unrelated():
    pass


def spin(event):
    event.wait()
    return "new"
"""
SPIN_DEF_V2 = 12
LOOPER_BROKEN = LOOPER_V2 + "def broken(:\n"
LOOPER_V3 = LOOPER_V2.replace('"new"', '"newer"')


async def test_a_call_running_old_code_is_reported_until_it_returns(make_app, connect):
    app = make_app(modules={"looper.py": LOOPER}, imports=["looper"])
    editor = await connect(app)
    looper_uri = uri(app.path("looper.py"))
    await app.aexec(
        "import threading\n"
        "release = threading.Event()\n"
        "spinner = threading.Thread(target=looper.spin, args=(release,), name='spinner')\n"
        "idler = threading.Thread(target=looper.idle, args=(release,), name='idler')\n"
        "spinner.start(); idler.start()\n"
    )

    app.write("looper.py", LOOPER_V2)
    assert (await editor.request("reloadPath", {"path": app.path("looper.py")}))[
        "status"
    ] == "reloaded"

    [note] = await editor.wait_for(lambda: stale_notes(editor, looper_uri), what="stale note")
    assert note.message == (
        "spin is running the code from before the reload until it returns (thread 'spinner')"
    )
    assert note.severity == 3
    assert note.range.start.line == SPIN_DEF_V2 - 1
    assert note.source == "reload_server"

    # A failed reload's error and the note are shown together, neither replacing the other.
    app.write("looper.py", LOOPER_BROKEN)
    outcome = await editor.request("reloadPath", {"path": app.path("looper.py")})
    assert outcome["status"] == "failed"
    shown = await editor.wait_for(
        lambda: (
            [d.severity for d in editor.diagnostics.get(looper_uri, [])] == [1, 3]
            and editor.diagnostics[looper_uri]
        ),
        what="error and note together",
    )
    assert shown[1].message == note.message

    # The fix clears the error; the call still runs the first version.
    app.write("looper.py", LOOPER_V3)
    assert (await editor.request("reloadPath", {"path": app.path("looper.py")}))[
        "status"
    ] == "reloaded"
    await editor.wait_for(
        lambda: [d.message for d in editor.diagnostics.get(looper_uri, [])] == [note.message],
        what="only the note",
    )

    await app.aexec("release.set(); spinner.join(); idler.join()")
    await editor.wait_for(lambda: editor.diagnostics.get(looper_uri) == [], what="note cleared")
    assert await app.aeval("looper.spin(release)") == "newer"


async def test_an_editor_that_connects_later_sees_the_running_old_code(make_app, connect):
    app = make_app(modules={"looper.py": LOOPER}, imports=["looper"])
    first = await connect(app)
    await app.aexec(
        "import threading\n"
        "release = threading.Event()\n"
        "spinner = threading.Thread(target=looper.spin, args=(release,), name='spinner')\n"
        "spinner.start()\n"
    )
    app.write("looper.py", LOOPER_V2)
    assert (await first.request("reloadPath", {"path": app.path("looper.py")}))[
        "status"
    ] == "reloaded"

    late = await connect(app, name="late")
    looper_uri = uri(app.path("looper.py"))
    [note] = await late.wait_for(lambda: stale_notes(late, looper_uri), what="stale note")
    assert note.range.start.line == SPIN_DEF_V2 - 1
    await app.aexec("release.set(); spinner.join()")
    await late.wait_for(lambda: late.diagnostics.get(looper_uri) == [], what="note cleared")
