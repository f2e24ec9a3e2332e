"""Which modules a target means, and the rules for what can never be reloaded."""

from __future__ import annotations

import sys

import pytest

import reload_server
from reload_server import ReloadError, reimport
from reload_server.core import staleness, targets, transaction
from reload_server.core.uris import path_to_uri


def test_a_file_uri_finds_the_module_whose_source_it_names(project):
    project.write("some dir/m.py", "X = 1\n")
    sys.path.insert(0, str(project.path("some dir")))
    try:
        project.module("m")
        uri = path_to_uri(str(project.path("some dir/m.py")))
        assert "%20" in uri
        assert targets.modules_for_file(uri) == ["m"]
    finally:
        sys.path.remove(str(project.path("some dir")))


def test_a_windows_file_uri_is_read_with_its_drive_letter(project):
    with pytest.raises(ReloadError) as info:
        reimport("file:///C:/work/not_loaded.py")
    assert (
        info.value.notes[0].message
        == "C:/work/not_loaded.py is not the source of any loaded module"
    )


@pytest.mark.parametrize("name", ["__main__", "__mp_main__", "reload_server", "reload_server.core"])
def test_the_modules_never_reloaded_are_refused_by_name_and_never_listed_as_modified(name):
    assert targets.never_reloaded(name) is not None
    module = sys.modules.get(name) or sys.modules["reload_server"]
    assert targets.refusal(name, module) == targets.never_reloaded(name)


@pytest.mark.parametrize("name", ["reload_serverx", "main", "m.__main__"])
def test_other_names_are_not_ruled_out(name):
    assert targets.never_reloaded(name) is None


def test_modified_never_lists_reload_server_itself(project):
    own = sys.modules["reload_server.core.values"]
    staleness._baseline["reload_server.core.values"] = (own.__file__, -1, -1)
    staleness._forget_candidates()
    try:
        assert "reload_server.core.values" not in reload_server.modified()
    finally:
        del staleness._baseline["reload_server.core.values"]
        staleness._forget_candidates()


def test_the_file_a_reload_compiles_is_the_one_staleness_and_paths_use(project):
    m = project.module("m", "X = 1\n")
    assert targets.source_file(m) == m.__file__
    assert targets.modules_for_file(targets.source_file(m)) == ["m"]
    assert targets.source_file(sys) is None


def test_the_star_import_cache_keeps_one_entry_per_package_file(project):
    project.write("pkg/sub.py", "def f(): return 0\n")
    pkg = project.package("pkg", "from .sub import *\n")
    sizes = []
    for k in range(1, 5):
        # Each edit of the package gives its file a new mtime: a new cache key, once.
        project.edit("pkg", f"from .sub import *\nVERSION = {k}\n", package=True)
        project.edit("pkg.sub", f"def f(): return {k}\n")
        reimport("pkg.sub")
        assert pkg.f() == k
        sizes.append(len(transaction._star_cache))
    assert sizes == [sizes[0]] * 4
    assert transaction._star_cache[targets.source_file(pkg)][1] == ("pkg.sub",)


class _Mirror:
    """A loader that makes a module of another module's names, as ``tlz`` does of ``toolz``."""

    def __init__(self, of):
        self.of = of

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__dict__.update({k: v for k, v in vars(self.of).items() if not k.startswith("__")})
        module.__file__ = self.of.__file__


def _mirror(name, of):
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.ModuleSpec(name, _Mirror(of))
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_module_a_loader_made_of_another_module_s_names_is_refused(project):
    a = project.module("a", "X = 1\n")
    _mirror("mirror", a)
    with pytest.raises(ReloadError) as e:
        reimport("mirror")
    assert e.value.phase == "resolve"


def test_a_path_reloads_the_module_it_is_the_source_of_not_a_mirror_naming_it(project):
    a = project.module("a", "X = 1\n")
    mirror = _mirror("mirror", a)
    project.edit("a", "X = 2\n")
    result = reimport(a.__file__)
    assert (result.modules, a.X, mirror.X) == (("a",), 2, 1)
