"""Programs of several processes: forked children serve on their own, and one reload
reaches every process of the project in two phases, all or nothing, reported per process."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from support.apps import FORKING_APP, Proc, child_env, cli, discovery_pids
from support.paths import PYTHON
from support.sources import edit
from support.waits import TIMEOUT, wait_until

from reload_server.wire import discovery
from reload_server.wire.client import LspClient

M_V1 = "import os\n\nVALUE = 1\n"


@pytest.fixture
def family(tmp_path):
    """``family(n)``: support/programs/forking_app.py with n forked children; ``{pid: port}`` of every process."""
    started: list[Proc] = []

    def start(children: int = 2) -> tuple[Proc, dict[int, int]]:
        (tmp_path / "m.py").write_text(M_V1)
        proc = Proc([PYTHON, str(FORKING_APP), str(children)], tmp_path)
        started.append(proc)
        for k in range(children + 1):
            proc.wait_for(r"^ready \d+ \d+$", after=k)
        ports = {}
        for line in proc.out:
            _, pid, port = line.split()
            ports[int(pid)] = int(port)
        assert len(ports) == children + 1, proc.err
        wait_until(lambda: discovery_pids(tmp_path) == set(ports), what="every discovery entry")
        return proc, ports

    yield start
    for proc in started:
        proc.stop()


def _with_timeout(script: str) -> str:
    """``script`` with its waits (``__TIMEOUT__``) bounded as the test's own are."""
    return script.replace("__TIMEOUT__", repr(TIMEOUT))


def _run_script(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a Python program in its own process; it must succeed."""
    result = subprocess.run(
        [PYTHON, "-c", _with_timeout(script)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )
    assert result.returncode == 0, result.stderr
    return result


def _statuses(output: str) -> dict[int, str]:
    return {int(pid): status for pid, status in re.findall(r"^pid (\d+): (\w+)", output, re.M)}


def _by_pid(processes: list[dict]) -> dict[int, dict]:
    """A ReloadOutcome's ``processes`` items by pid (their names are ``pid N``)."""
    return {int(item["process"].removeprefix("pid ")): item for item in processes}


def test_a_forked_child_serves_on_its_own_port_as_its_own_process(family):
    parent, ports = family(1)
    assert len(set(ports.values())) == 2
    for pid, port in ports.items():
        with LspClient("127.0.0.1", port, timeout=TIMEOUT) as client:
            result = client.initialize()
        assert result["capabilities"]["experimental"]["reloadServer"]["app"]["pid"] == pid


def test_a_multiprocessing_fork_child_serves_and_removes_its_entry_when_it_ends(tmp_path):
    script = textwrap.dedent(
        """
        import json, multiprocessing, os
        import reload_server
        from reload_server.server import control

        def child(q):
            q.put([os.getpid(), control.address()[1], os.path.exists(control.discovery_file())])

        if __name__ == "__main__":
            reload_server.serve(0)
            ctx = multiprocessing.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            pid, port, existed = q.get(timeout=__TIMEOUT__)
            p.join(__TIMEOUT__)
            print(json.dumps({"parent": [os.getpid(), control.address()[1]], "child": [pid, port],
                              "child_entry_existed": existed,
                              "entries_after": sorted(os.listdir(".reload_server"))}))
        """
    )
    result = _run_script(script, tmp_path)
    report = json.loads(result.stdout)
    assert report["child"][1] != report["parent"][1]
    assert report["child_entry_existed"] is True
    assert report["entries_after"] == [".gitignore", f"{report['parent'][0]}.json"]


def test_a_fork_right_after_serve_waits_for_the_server_start_even_with_logging_imported_since(
    tmp_path,
):
    # logging imported after serve() registers its fork hook after ours, so its
    # hook (which takes logging's lock, needed by the server's imports) runs first.
    script = textwrap.dedent(
        """
        import json, os, sys
        assert "logging" not in sys.modules
        import reload_server
        from reload_server.server import control
        control.FORK_WAIT = 30.0
        reload_server.serve(0, discovery=False)
        import logging
        pid = os.fork()
        if pid == 0:
            os._exit(0 if control.address() is not None else 3)
        started_when_forked = control._running.started.is_set()
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"started_when_forked": started_when_forked,
                          "child_exit": os.waitstatus_to_exitcode(status)}))
        """
    )
    result = _run_script(script, tmp_path)
    assert json.loads(result.stdout) == {"started_when_forked": True, "child_exit": 0}


def test_a_subprocess_with_preexec_fn_starts_no_server_before_exec(tmp_path):
    script = textwrap.dedent(
        """
        import os, subprocess, sys
        import reload_server
        reload_server.serve(0)
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                               preexec_fn=lambda: None, capture_output=True, text=True)
        print(child.stdout.strip(), sorted(os.listdir(".reload_server")))
        """
    )
    result = _run_script(script, tmp_path)
    child_pid, entries = result.stdout.split(" ", 1)
    assert f"{child_pid}.json" not in entries


def test_cli_reload_failing_in_one_process_reloads_none_exits_1_and_names_it(family, tmp_path):
    parent, ports = family(2)
    victim = max(ports)
    edit(
        tmp_path / "m.py",
        "VALUE = 1\n",
        f"VALUE = 2\nif os.getpid() == {victim}:\n    raise RuntimeError('not here')\n",
    )

    result = cli("m.py", cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert _statuses(result.stdout) == {pid: "reload" for pid in ports}  # "reload failed: …"
    assert f"pid {victim}: reload failed: m not reloaded: RuntimeError: not here" in result.stdout
    siblings = set(ports) - {victim, parent.pid}
    for pid in siblings:
        assert f"pid {pid}: reload failed: m not reloaded: pid {pid}: aborted" in result.stdout
    # The parent coordinated: it rolled back for the victim's reason.
    assert f"pid {parent.pid}: reload failed: pid {victim}: m not reloaded" in result.stdout
    assert "(3 processes: none reloaded)" in result.stdout


def test_cli_reload_after_a_failed_one_reloads_every_process(family, tmp_path):
    parent, ports = family(2)
    victim = max(ports)
    edit(
        tmp_path / "m.py",
        "VALUE = 1\n",
        f"VALUE = 2\nif os.getpid() == {victim}:\n    raise RuntimeError('not here')\n",
    )
    assert cli("m.py", cwd=tmp_path).returncode == 1

    edit(tmp_path / "m.py", "raise RuntimeError('not here')", "pass")
    result = cli("m.py", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    # Every process still had the old code (the failed reload changed none), so all reload now.
    assert _statuses(result.stdout) == {pid: "reloaded" for pid in ports}
    assert "(3 processes: 3 reloaded)" in result.stdout


def test_cli_pid_reloads_only_that_process(family, tmp_path):
    parent, ports = family(2)
    chosen = min(pid for pid in ports if pid != parent.pid)
    edit(tmp_path / "m.py", "VALUE = 1", "VALUE = 2")

    only = cli("--pid", str(chosen), "m.py", cwd=tmp_path)
    everyone = cli("m.py", cwd=tmp_path)

    assert only.returncode == 0, only.stderr
    assert only.stdout.startswith("reloaded m in ")
    assert _statuses(everyone.stdout) == {
        pid: "nothing" if pid == chosen else "reloaded" for pid in ports
    }  # "pid N: nothing to reload" for the one already reloaded


def test_a_forwarded_request_reloads_only_the_process_it_reaches(family, tmp_path):
    parent, ports = family(2)
    edit(tmp_path / "m.py", "VALUE = 1", "VALUE = 2")
    entry = next(e for e in discovery.find(tmp_path) if e.pid == parent.pid)

    with LspClient(entry.host, entry.port, timeout=TIMEOUT) as client:
        client.initialize()
        forwarded = client.request(
            "reloadPath", {"path": str(tmp_path / "m.py"), "forwarded": True}
        )
        fanned = client.request("reloadPath", {"path": str(tmp_path / "m.py")})

    assert forwarded["status"] == "reloaded"
    assert "processes" not in forwarded
    assert {pid: p["status"] for pid, p in _by_pid(fanned["processes"]).items()} == {
        pid: "unchanged" if pid == parent.pid else "reloaded" for pid in ports
    }
    assert fanned["status"] == "reloaded"
    assert fanned["message"].endswith("(3 processes: 1 unchanged, 2 reloaded)")


def test_an_editors_request_fails_everywhere_when_one_sibling_fails_and_names_it(family, tmp_path):
    parent, ports = family(2)
    victim = max(pid for pid in ports if pid != parent.pid)
    edit(
        tmp_path / "m.py",
        "VALUE = 1\n",
        f"VALUE = 2\nif os.getpid() == {victim}:\n    raise RuntimeError('not here')\n",
    )

    with LspClient("127.0.0.1", ports[parent.pid], timeout=TIMEOUT) as editor:
        editor.initialize()
        result = editor.request("reloadPath", {"path": str(tmp_path / "m.py")})

    assert result["status"] == "failed"
    assert result["message"].startswith(f"pid {victim}: m not reloaded: RuntimeError: not here")
    assert result["notes"][0]["line"] == 5  # the raise, in the failing process
    assert result["notes"][0]["message"].startswith(f"[pid {victim}] RuntimeError: not here")
    assert result["processes"][0]["process"] == f"pid {parent.pid}"
    # Prepared in the others, then rolled back there: no process runs the new code.
    assert {pid: p["status"] for pid, p in _by_pid(result["processes"]).items()} == {
        pid: "failed" for pid in ports
    }


def test_a_save_in_an_editor_reloads_every_process_and_logs_the_others(family, tmp_path):
    parent, ports = family(2)
    path = tmp_path / "m.py"
    with LspClient("127.0.0.1", ports[parent.pid], timeout=TIMEOUT) as editor:
        editor.initialize({"reloadOnSave": True})
        edit(path, "VALUE = 1", "VALUE = 2")
        editor.notify("textDocument/didSave", {"textDocument": {"uri": path.as_uri()}})
        logged: list[str] = []
        others = {pid for pid in ports if pid != parent.pid}
        while not all(
            any(line.startswith(f"reload_server: pid {p}:") for line in logged) for p in others
        ):
            message = editor.receive()
            if message.get("method") == "window/logMessage":
                logged.append(message["params"]["message"])

    assert "reload_server: reloaded m in " in logged[0], logged
    for pid in others:
        assert any(
            line.startswith(f"reload_server: pid {pid}: reloaded m in ") for line in logged
        ), logged


def test_a_spawned_child_inherits_no_server(tmp_path):
    script = textwrap.dedent(
        """
        import multiprocessing, os
        import reload_server
        from reload_server.server import control

        def child(q):
            q.put(control.address())

        if __name__ == "__main__":
            reload_server.serve(0)
            ctx = multiprocessing.get_context("spawn")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(q.get(timeout=__TIMEOUT__), len(os.listdir(".reload_server")) - 1)
            p.join(__TIMEOUT__)
        """
    )
    (tmp_path / "spawner.py").write_text(_with_timeout(script))
    result = subprocess.run(
        [PYTHON, "spawner.py"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "1"]


def test_a_process_that_hangs_in_prepare_fails_the_reload_at_the_deadline_and_none_changes(
    family, tmp_path
):
    parent, ports = family(2)
    victim = max(pid for pid in ports if pid != parent.pid)
    hang = tmp_path / f"hang-{victim}"
    hang.touch()
    edit(
        tmp_path / "m.py",
        "VALUE = 1\n",
        "import time\n\nVALUE = 2\nwhile os.path.exists(f'hang-{os.getpid()}'):\n"
        "    time.sleep(0.05)\n",
    )

    with LspClient("127.0.0.1", ports[parent.pid], timeout=TIMEOUT * 3) as editor:
        editor.initialize()
        result = editor.request("reloadPath", {"path": str(tmp_path / "m.py")})
    hang.unlink()

    assert result["status"] == "failed"
    assert result["phase"] == "deadline"
    assert result["message"].startswith(f"pid {victim}: pid {victim} did not prepare within")
    # Nothing was committed anywhere: every process still has the edit to reload.
    again = cli("m.py", cwd=tmp_path)
    assert _statuses(again.stdout) == {pid: "reloaded" for pid in ports}, again.stdout
