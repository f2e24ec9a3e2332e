"""Text a fleet ships and the file on disk are the same source whatever their line endings."""

from __future__ import annotations

import importlib
import sys

import pytest

from reload_server import modified
from reload_server.core import shipped
from reload_server.core.transaction import prepare

NEW = "def f():\n    return 'new'\n"


@pytest.fixture
def fresh_shipped(monkeypatch):
    monkeypatch.setattr(shipped, "_texts", {})
    yield
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, shipped.ShippedFinder)]


def test_a_module_reloaded_from_shipped_text_its_crlf_file_holds_is_not_stale(project):
    m = project.module("m", "def f():\n    return 'old'\n")
    path = project.edit("m", NEW)
    path.write_bytes(NEW.replace("\n", "\r\n").encode())

    prepare("m", texts={"m": NEW}).commit()

    assert (m.f(), modified(project.root)) == ("new", [])


def test_a_module_reloaded_from_shipped_text_its_file_lacks_stays_stale(project):
    project.module("m", "def f():\n    return 'old'\n")
    project.edit("m", "def f():\n    return 'disk'\n")

    prepare("m", texts={"m": NEW}).commit()

    assert modified(project.root) == ["m"]


def test_a_later_import_uses_the_usual_loader_when_the_crlf_file_holds_the_shipped_text(
    project, fresh_shipped
):
    project.write("late.py", "X = 1\n").write_bytes(NEW.replace("\n", "\r\n").encode())
    shipped.remember({"late": NEW})

    late = importlib.import_module("late")

    assert (late.f(), type(late.__loader__)) == ("new", importlib.machinery.SourceFileLoader)


def test_a_later_import_reads_the_shipped_text_when_the_file_differs(project, fresh_shipped):
    project.write("late.py", "def f():\n    return 'disk'\n")
    shipped.remember({"late": NEW})

    late = importlib.import_module("late")

    assert (late.f(), type(late.__loader__)) == ("new", shipped.ShippedLoader)
