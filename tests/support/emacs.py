"""Drive real Emacs (batch mode, eglot) against a real app, through the recipes of docs/editors.md.

The app is :class:`support.apps.LoopingApp`: run by the launcher in a
temporary project, it writes ``greeting.message()`` to ``out.txt`` every 20 ms,
so a test sees the app's behaviour change when the module is reloaded.  Emacs
runs ``emacs --batch -Q -l driver.el``: the driver loads eglot (Debian's
``elpa-eglot``), loads one recipe copied out of docs/editors.md, opens
``greeting.py`` and then edits and saves it step by step.  After each step it
appends a JSON line to ``events.jsonl`` and waits for the test's ``go-N``
file, so the test checks the app between steps.  Every wait on both sides is
bounded; a driver wait that runs out writes a ``timeout`` event and exits 3.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.apps import LoopingApp, child_env, greeting_source
from support.ci import missing
from support.paths import PYTHON, REPO
from support.waits import TIMEOUT, wait_until

EDITORS_DOC = REPO / "docs" / "editors.md"
# Where Debian's elpa-* packages live; `emacs -Q` does not look there by itself.
ELPA_DIRS = ("/usr/share/emacs/site-lisp/elpa",)

# A save that cannot compile: the SyntaxError is on line 4.
BROKEN = 'def message():\n    return "hello 2"\n\nvalue = (1 +* 2)\n'
BROKEN_LINE = 4


@functools.lru_cache(maxsize=1)
def _emacs_problem() -> str | None:
    """Why Emacs with eglot cannot run here, or None."""
    emacs = shutil.which("emacs")
    if emacs is None:
        return "emacs is not installed (scripts/setup-test.sh installs emacs-nox and elpa-eglot)"
    probe = f'(progn {_load_eglot()} (princ (format "eglot-ok %s" emacs-version)))'
    try:
        result = subprocess.run(
            [emacs, "--batch", "-Q", "--eval", probe],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_emacs_env(Path("/nonexistent")),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"emacs does not run: {exc}"
    if "eglot-ok" not in result.stdout:
        return (
            "emacs cannot load eglot (scripts/setup-test.sh installs elpa-eglot): "
            + (result.stderr.strip().splitlines() or ["no output"])[-1]
        )
    return None


def require_emacs() -> str:
    """The emacs program; skips the test without it, or fails it under CI (which must run it)."""
    problem = _emacs_problem()
    if problem is not None:
        missing(problem)
    emacs = shutil.which("emacs")
    assert emacs is not None
    return emacs


def _load_eglot() -> str:
    dirs = " ".join(json.dumps(d) for d in ELPA_DIRS)
    return (
        "(require 'package) "
        f"(dolist (d (list {dirs})) (add-to-list 'package-directory-list d)) "
        "(package-initialize) (require 'eglot)"
    )


def _emacs_env(home: Path) -> dict[str, str]:
    env = child_env(HOME=str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
    return env


def recipe(title: str) -> str:
    """The elisp block of docs/editors.md whose first line is ``;; reload_server: TITLE``."""
    text = EDITORS_DOC.read_text(encoding="utf-8")
    for block in re.findall(r"```elisp\n(.*?)```", text, re.S):
        if block.splitlines()[0].strip() == f";; reload_server: {title}":
            return block
    raise AssertionError(f"docs/editors.md has no elisp block titled {title!r}")


DRIVER = r"""
;;; One editing session, step by step, for tests/editors/test_emacs.py.
(require 'json)
(defun rs-event (name &rest fields)
  (write-region (concat (json-encode (append (list :event name) fields)) "\n")
                nil rs-events 'append 'silent))
(defun rs-wait (what pred)
  (let ((deadline (+ (float-time) rs-timeout)))
    (while (not (funcall pred))
      (when (> (float-time) deadline)
        (rs-event "timeout" :what what)
        (kill-emacs 3))
      (accept-process-output nil 0.05))))
(defun rs-go (step)
  (let ((go (expand-file-name (format "go-%s" step) rs-dir)))
    (rs-wait (format "the test's go for step %s" step) (lambda () (file-exists-p go)))))
;; What the command loop does after each command; batch mode has no command
;; loop, and eglot-ensure and Flymake wait for it.
(defun rs-command-done () (run-hooks 'post-command-hook))
(defun rs-save (text)
  (erase-buffer)
  (insert text)
  (save-buffer)
  (rs-command-done))
(defun rs-diagnostics ()
  (vconcat (mapcar (lambda (d)
                     (list :line (line-number-at-pos (flymake-diagnostic-beg d))
                           :text (flymake-diagnostic-text d)))
                   (flymake-diagnostics))))

(defun rs-main ()
  (require 'package)
  (dolist (d rs-elpa) (add-to-list 'package-directory-list d))
  (package-initialize)
  (require 'eglot)
  (load rs-recipe nil t)
  (find-file rs-file)
  (rs-command-done)
  (rs-wait "eglot to manage the buffer" (lambda () (bound-and-true-p eglot--managed-mode)))
  (let ((server (eglot-current-server)))
    (rs-event "attached"
              :options (eglot-initialization-options server)
              :server (plist-get (eglot--server-info server) :name)))
  (when (equal rs-mode "edit")
    (rs-save rs-v2)
    (rs-event "saved" :step 1)
    (rs-go 1)
    (rs-save rs-broken)
    (rs-wait "a Flymake diagnostic" (lambda () (flymake-diagnostics)))
    (rs-event "diagnostics" :diagnostics (rs-diagnostics))
    (rs-go 2)
    (rs-save rs-v3)
    (rs-wait "the diagnostic to clear" (lambda () (null (flymake-diagnostics))))
    (rs-event "cleared")
    (rs-go 3))
  (eglot-shutdown (eglot-current-server))
  (rs-event "done")
  (kill-emacs 0))

(condition-case err
    (rs-main)
  (error (rs-event "error" :message (error-message-string err))
         (kill-emacs 4)))
"""


class EmacsSession:
    """``emacs --batch`` running the driver with one recipe, and its event log."""

    def __init__(
        self, emacs: str, workdir: Path, app: LoopingApp, recipe_text: str, mode: str = "edit"
    ) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.events_file = self.dir / "events.jsonl"
        self.log = self.dir / "emacs.log"
        (self.dir / "recipe.el").write_text(recipe_text)
        # The recipes start "python": make it this interpreter.
        bin_dir = self.dir / "bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "python"
        shim.write_text(f'#!/bin/sh\nexec "{PYTHON}" "$@"\n')
        shim.chmod(0o755)
        settings = {
            "rs-dir": str(self.dir),
            "rs-events": str(self.events_file),
            "rs-recipe": str(self.dir / "recipe.el"),
            "rs-file": str(app.module_path),
            "rs-mode": mode,
            "rs-v2": greeting_source(2),
            "rs-broken": BROKEN,
            "rs-v3": greeting_source(3),
        }
        prelude = "".join(f"(defvar {k} {json.dumps(v)})\n" for k, v in settings.items())
        prelude += f"(defvar rs-timeout {TIMEOUT * 2:g})\n"
        prelude += f"(defvar rs-elpa (list {' '.join(json.dumps(d) for d in ELPA_DIRS)}))\n"
        driver = self.dir / "driver.el"
        driver.write_text(prelude + DRIVER)
        env = _emacs_env(self.dir / "home")
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [emacs, "--batch", "-Q", "-l", str(driver)],
                cwd=app.project,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def events(self) -> list[dict[str, Any]]:
        try:
            lines = self.events_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def report(self) -> str:
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"emacs exit {self.proc.poll()}; events: {self.events()}\nemacs output:\n{log}"

    def wait_event(self, name: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            events = self.events()
            for event in events:
                if event["event"] == name:
                    return event
                if event["event"] in ("timeout", "error"):
                    raise AssertionError(f"Emacs gave up waiting for {name!r}: {self.report()}")
            if self.proc.poll() is not None:
                # It may have written the event just before exiting.
                for event in self.events():
                    if event["event"] == name:
                        return event
                raise AssertionError(f"Emacs exited before {name!r}: {self.report()}")
            return None

        try:
            return wait_until(found, TIMEOUT * 2, what=f"the Emacs event {name!r}")
        except AssertionError as exc:
            if "Emacs" in str(exc):
                raise
            raise AssertionError(f"{exc}: {self.report()}") from None

    def go(self, step: int) -> None:
        (self.dir / f"go-{step}").touch()

    def finish(self) -> int:
        self.wait_event("done")
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"Emacs did not exit: {self.report()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
