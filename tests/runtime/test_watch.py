"""watch(): changed files reload on their own, no editor involved."""

from __future__ import annotations

import os
import queue
import time

import pytest

import reload_server
from reload_server import ReloadError


@pytest.fixture
def watching(project):
    outcomes: queue.Queue = queue.Queue()
    stops = []

    def start(path=None, **kw):
        stops.append(reload_server.watch(path or project.root, on_reload=outcomes.put, **kw))
        return outcomes

    yield start
    for stop in stops:
        stop()


def _next(outcomes: queue.Queue, timeout: float = 15.0):
    return outcomes.get(timeout=timeout)


def test_saving_a_loaded_module_reloads_it(project, watching):
    m = project.module("m", "def f(): return 1\n")
    outcomes = watching()
    project.edit("m", "def f(): return 2\n")
    outcome = _next(outcomes)
    assert outcome.modules == ("m",)
    assert m.f() == 2


def test_write_to_temp_then_rename_is_seen(project, watching):
    m = project.module("m", "def f(): return 1\n")
    outcomes = watching()
    tmp = project.path("m.py.swp")
    tmp.write_text("def f(): return 3\n")
    os.replace(tmp, project.path("m.py"))
    _next(outcomes)
    assert m.f() == 3


def test_broken_save_is_rolled_back_and_reported(project, watching):
    m = project.module("m", "def f(): return 1\n")
    outcomes = watching()
    project.edit("m", "def f(): return 2\nraise ValueError('nope')\n")
    outcome = _next(outcomes)
    assert isinstance(outcome, ReloadError)
    assert outcome.notes[0].line == 2
    assert m.f() == 1


def test_files_that_are_not_loaded_are_ignored(project, watching):
    project.module("m", "def f(): return 1\n")
    outcomes = watching()
    project.write("never_imported.py", "X = 1\n")
    project.edit("m", "def f(): return 2\n")
    outcome = _next(outcomes)
    assert outcome.modules == ("m",)
    assert "never_imported" not in __import__("sys").modules


def test_changes_saved_together_reload_in_one_transaction(project, watching):
    a = project.module("a", "def f(): return 'a1'\n")
    b = project.module("b", "def f(): return 'b1'\n")
    outcomes = watching()
    project.edit("a", "def f(): return 'a2'\n")
    project.edit("b", "def f(): return 'b2'\n")
    seen = set()
    deadline = time.monotonic() + 15
    while seen != {"a", "b"} and time.monotonic() < deadline:
        seen.update(_next(outcomes).modules)
    assert (a.f(), b.f()) == ("a2", "b2")


def test_watch_refuses_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        reload_server.watch(tmp_path / "nope")


def test_watch_raises_when_the_watches_cannot_be_made(tmp_path, monkeypatch):
    from reload_server.runtime import watcher

    def refuse(paths):
        raise OSError("inotify watch limit reached")

    monkeypatch.setattr(watcher, "_open_notify", refuse)
    with pytest.raises(RuntimeError, match="inotify watch limit reached"):
        reload_server.watch(tmp_path)
