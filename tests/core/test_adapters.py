"""Framework adapters hear each step of a reload and can refuse an edit (core/adapters.py)."""

from __future__ import annotations

import importlib
import sys

import pytest

import reload_server
from reload_server import Adapter, ReloadError, reimport


class Recorder(Adapter):
    """An adapter that writes down what it is told, for the tests to read."""

    heard: list[str] = []
    refuse = False

    def before_run(self, modules):
        self.heard.append("before_run " + ",".join(m.__name__ for m in modules))

    def check(self, modules):
        self.heard.append("check")
        if self.refuse:
            raise ValueError("the framework cannot take this edit")

    def committed(self, modules):
        self.heard.append("committed")
        return [reload_server.Note("registry rebuilt", severity="info", kind="update")]

    def rolled_back(self, modules):
        self.heard.append("rolled_back")


@pytest.fixture
def recorder():
    Recorder.heard = []
    Recorder.refuse = False
    reload_server.register_adapter(Recorder)
    yield Recorder
    reload_server.unregister_adapter(Recorder)


def test_an_adapter_hears_each_step_of_a_good_reload_in_order(project, recorder):
    project.module("m", "X = 1\n")
    project.edit("m", "X = 2\n")
    reimport("m")
    assert recorder.heard == ["before_run m", "check", "committed"]


def test_an_adapters_notes_are_reported_with_the_result(project, recorder):
    project.module("m", "X = 1\n")
    project.edit("m", "X = 2\n")
    result = reimport("m")
    assert "registry rebuilt" in [n.message for n in result.notes]


def test_an_adapter_that_refuses_an_edit_leaves_the_old_code_running(project, recorder):
    m = project.module("m", "def f(): return 'old'\n")
    project.edit("m", "def f(): return 'new'\n")
    recorder.refuse = True
    with pytest.raises(ReloadError) as info:
        reimport("m")
    assert (info.value.phase, m.f()) == ("check", "old")
    assert "cannot take this edit" in info.value.message


def test_an_adapter_is_told_of_the_rollback_of_new_code_that_raised(project, recorder):
    project.module("m", "X = 1\n")
    project.edit("m", "raise RuntimeError('broken')\n")
    with pytest.raises(ReloadError):
        reimport("m")
    assert recorder.heard == ["before_run m", "rolled_back"]


def test_an_adapter_for_a_framework_the_program_never_imported_is_not_made(project):
    made = []

    class NeedsFramework(Adapter):
        def __init__(self):
            made.append(self)

    reload_server.register_adapter(NeedsFramework, framework="not_an_imported_framework")
    try:
        project.module("m", "X = 1\n")
        project.edit("m", "X = 2\n")
        reimport("m")
    finally:
        reload_server.unregister_adapter(NeedsFramework)
    assert made == [] and "not_an_imported_framework" not in sys.modules


def test_a_builtin_adapter_follows_its_framework_when_the_framework_is_imported_anew(project):
    from reload_server.core import adapters

    project.module("fakefw", "SEEN = []\n")
    project.module(
        "fakeadapter",
        "import fakefw\nimport reload_server\n\n"
        "class Seen(reload_server.Adapter):\n"
        "    def committed(self, modules):\n"
        "        fakefw.SEEN.append('committed')\n",
    )
    adapters.builtin({"fakefw": "fakeadapter:Seen"})
    try:
        project.module("m", "X = 1\n")
        project.edit("m", "X = 2\n")
        reimport("m")
        del sys.modules["fakefw"]
        fresh = project.module("fakefw")
        project.edit("m", "X = 3\n")
        reimport("m")
    finally:
        adapters._builtin.pop("fakefw", None)
    assert fresh.SEEN == ["committed"]


def test_a_builtin_adapter_follows_a_framework_module_imported_anew_under_the_same_package(
    project,
):
    from reload_server.core import adapters

    project.write("fakepkg/__init__.py", "")
    project.write("fakepkg/registry.py", "SEEN = []\n")
    project.module(
        "fakepkgadapter",
        "from fakepkg import registry\nimport reload_server\n\n"
        "class Seen(reload_server.Adapter):\n"
        "    def committed(self, modules):\n"
        "        registry.SEEN.append('committed')\n",
    )
    importlib.import_module("fakepkg.registry")
    adapters.builtin({"fakepkg": "fakepkgadapter:Seen"})
    try:
        project.module("m", "X = 1\n")
        project.edit("m", "X = 2\n")
        reimport("m")
        del sys.modules["fakepkg.registry"]  # the package stays
        fresh = importlib.import_module("fakepkg.registry")
        project.edit("m", "X = 3\n")
        reimport("m")
    finally:
        adapters._builtin.pop("fakepkg", None)
    assert fresh.SEEN == ["committed"]
