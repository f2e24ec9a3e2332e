"""Reloads with other threads running, and finding stale modules."""

from __future__ import annotations

import threading

import pytest

import reload_server
from reload_server import ReloadError, reimport

SRC = """
class K:
    def f(self): return {v}
    def g(self): return helper() - {v}
    def extra_{v}(self): return {v}
def helper(): return {v} * 2
def call(): return K().f() + K().g()
"""


def test_thread_calling_into_module_during_reloads_never_fails(project):
    m = project.module("m", SRC.format(v=0))
    obj, call = m.K(), m.call
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                assert 0 <= obj.f() < 40
                assert 0 <= call() < 80
                # Methods in both versions are never missing, even mid-update.
                assert hasattr(obj, "f") and hasattr(obj, "g")
            except BaseException as e:  # noqa: BLE001 - any failure is the finding
                errors.append(e)
                return

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        for v in range(1, 40):
            project.edit("m", SRC.format(v=v))
            reimport("m")
    finally:
        stop.set()
        worker.join(10)
    assert errors == []
    assert obj.f() == 39


def test_reloads_from_two_threads_are_serialised(project):
    project.module("m", "def f(): return 0\n")
    failures: list[BaseException] = []

    def reload_many():
        for _ in range(15):
            try:
                reimport("m")
            except BaseException as e:  # noqa: BLE001
                failures.append(e)

    threads = [threading.Thread(target=reload_many) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []


def test_modified_lists_modules_changed_on_disk_under_a_path(project):
    project.module("a", "X = 1\n")
    project.module("b", "X = 1\n")
    assert reload_server.modified(project.root) == []
    project.edit("a", "X = 2\n")
    assert reload_server.modified(project.root) == ["a"]
    assert reload_server.modified(project.path("a.py")) == ["a"]
    assert reload_server.modified(project.path("b.py")) == []


def test_modified_is_empty_again_after_reimport(project):
    project.module("a", "X = 1\n")
    project.edit("a", "X = 2\n")
    reimport(*reload_server.modified(project.root))
    assert reload_server.modified(project.root) == []


def test_modified_does_not_count_a_failed_reload_as_done(project):
    project.module("a", "X = 1\n")
    project.edit("a", "X = (\n")
    with pytest.raises(ReloadError):
        reimport("a")
    assert reload_server.modified(project.root) == ["a"]


def test_modified_checks_a_module_replaced_under_the_same_name_against_its_own_file(project):
    import importlib.util
    import sys

    project.module("a", "X = 1\n")
    assert reload_server.modified(project.root) == []
    # Same name, same place in sys.modules, another file: no import, no new key.
    other = project.write("elsewhere/a.py", "X = 'other'\n")
    spec = importlib.util.spec_from_file_location("a", other)
    replacement = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replacement)
    sys.modules["a"] = replacement
    assert reload_server.modified(project.root) == []
    project.edit("elsewhere/a", "X = 'edited'\n")
    assert reload_server.modified(project.root) == ["a"]


def test_modified_sees_an_edit_to_a_module_imported_after_the_previous_check(project):
    project.module("a", "X = 1\n")
    assert reload_server.modified(project.root) == []
    project.module("b", "X = 1\n")
    assert reload_server.modified(project.root) == []
    project.edit("b", "X = 2\n")
    assert reload_server.modified(project.root) == ["b"]


def test_a_file_is_found_for_a_module_that_replaced_another_under_its_name(project):
    import importlib.util
    import sys

    from reload_server.core.targets import modules_for_file

    project.module("a", "X = 1\n")
    assert modules_for_file(project.path("a.py")) == ["a"]
    other = project.write("elsewhere/a.py", "X = 'other'\n")
    spec = importlib.util.spec_from_file_location("a", other)
    replacement = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replacement)
    sys.modules["a"] = replacement
    assert modules_for_file(other) == ["a"]
    assert modules_for_file(project.path("a.py")) == []
