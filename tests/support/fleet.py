"""Real processes taking part in fleet reloads, for the coordinator's tests (tests/core/test_fleet.py).

:class:`PartProcess` starts ``programs/fleet_part.py`` and is itself a fleet
*member*: its ``prepare``/``finish`` carry the coordinator's calls over the
child's stdin and stdout.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

PROGRAM = Path(__file__).parent / "programs" / "fleet_part.py"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class PartProcess:
    """One child process with the given modules imported, as a fleet member named ``pid N``.

    ``bytecode`` has its imports write ``.pyc`` files, as they do unless told
    not to (this machine's environment tells them not to), so that its first
    reload knows the code it ran.
    """

    def __init__(self, path: Path, *modules: str, bytecode: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), str(path)])}
        if bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(PROGRAM), str(path), *modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._tags = itertools.count()
        self._waiting: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        first = json.loads(self.proc.stdout.readline() or "{}")
        if not first.get("ready"):
            raise RuntimeError(f"fleet part did not start: {first}")
        self.name = f"pid {self.proc.pid}"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self._lock:
                box = self._waiting.pop(answer.pop("tag"), None)
            if box is not None:
                box.put(answer)

    def ask(self, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        tag = next(self._tags)
        box: queue.Queue = queue.Queue()
        with self._lock:
            self._waiting[tag] = box
        self.proc.stdin.write(json.dumps({**request, "tag": tag}) + "\n")
        self.proc.stdin.flush()
        return box.get(timeout=timeout)

    def eval(self, expr: str) -> Any:
        answer = self.ask({"op": "eval", "expr": expr})
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["value"]

    # -- the fleet member protocol ------------------------------------------------

    def prepare(
        self,
        reload_id: str,
        modules: list[str],
        texts: dict[str, str],
        deadline: float,
        *,
        full: bool = False,
    ) -> dict[str, dict[str, Any]]:
        request = {"op": "prepare", "id": reload_id, "modules": modules, "texts": texts}
        request["full"] = full
        return {self.name: self.ask({**request, "deadline": deadline}, timeout=deadline * 4)}

    def finish(self, reload_id: str, commit: bool, deadline: float) -> dict[str, dict[str, Any]]:
        answer = self.ask({"op": "finish", "id": reload_id, "commit": commit}, timeout=deadline * 4)
        return {self.name: answer}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
