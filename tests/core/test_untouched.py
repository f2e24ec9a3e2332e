"""A reload never changes what the edit did not change (issue 14): specification tests."""

from __future__ import annotations

import builtins
import importlib
import subprocess
import sys

from reload_server import reimport


def test_a_module_keeps_its_own_constant_equal_to_an_edited_one(project):
    project.module("m", "TIMEOUT = 5\n")
    consumer = project.module("consumer", "TIMEOUT = 5\n")
    project.edit("m", "TIMEOUT = 10\n")
    reimport("m")
    assert consumer.TIMEOUT == 5


def test_an_imported_name_the_importer_rebound_to_an_equal_value_stays(project):
    project.module("m", "TIMEOUT = 7\n")
    consumer = project.module("consumer", "from m import TIMEOUT\nTIMEOUT = 7\n")
    project.edit("m", "TIMEOUT = 10\n")
    reimport("m")
    assert consumer.TIMEOUT == 7


def test_an_aliased_copy_of_a_small_value_follows_the_edit(project):
    project.module("m", "LIMIT = 5\n")
    consumer = project.module("consumer", "from m import LIMIT as max_items\n")
    project.edit("m", "LIMIT = 10\n")
    reimport("m")
    assert consumer.max_items == 10


def test_a_look_alike_value_under_the_same_name_in_a_module_that_never_imported_it_stays(project):
    project.module("m", "NAME = 'svc'\n")
    other = project.module("other", "import m\nNAME = 'svc'\n")
    project.edit("m", "NAME = 'api'\n")
    reimport("m")
    assert other.NAME == "svc"


def test_shadowing_a_builtin_leaves_the_builtin_and_other_modules_alone(project):
    original = builtins.issubclass
    user = project.module("user", "check = issubclass\n")
    src = "_issubclass = issubclass\ndef issubclass(a, b):\n    return _issubclass(a, b)\n"
    project.module("shadow", src)
    project.edit("shadow", src + "# edited\n")
    try:
        reimport("shadow")
        assert builtins.issubclass is original
        assert user.check is original
    finally:
        builtins.issubclass = original


def test_a_lazy_import_global_reset_by_the_reload_leaves_the_submodule_elsewhere(project):
    project.package("pkg")
    project.module("pkg.parser", "X = 1\n")
    src = (
        "parser = None\n"
        "def get():\n    global parser\n    from . import parser\n    return parser\n"
    )
    lazy = project.module("pkg.lazy", src)
    real = lazy.get()
    holder = project.module("holder", "import pkg.parser\nP = pkg.parser\n")
    project.edit("pkg.lazy", src + "# edited\n")
    reimport("pkg.lazy")
    import pkg

    assert pkg.parser is real
    assert holder.P is real


def test_a_top_level_name_declared_global_in_a_function_survives(project):
    src = "_cache = None\ndef get():\n    global _cache\n    return _cache\n"
    m = project.module("m", src)
    project.edit("m", src + "# edited\n")
    reimport("m")
    assert "_cache" in vars(m) and m._cache is None


def test_an_attribute_set_on_the_module_from_outside_survives(project):
    m = project.module("m", "def f(): return 1\n")
    client = object()
    m.client = client
    m.FEATURE_X = True
    project.edit("m", "def f(): return 2\n")
    reimport("m")
    assert m.client is client and m.FEATURE_X is True


def test_a_name_the_module_binds_dynamically_survives(project):
    src = "for _n in ('a', 'b'):\n    globals()[_n] = _n.upper()\n"
    m = project.module("m", src)
    project.edit("m", src + "# edited\n")
    reimport("m")
    assert (m.a, m.b) == ("A", "B")


def test_an_unchanged_class_with_a_metaclass_of_the_same_module_stays_the_same_class(project):
    src = "class Meta(type):\n    pass\nclass K(metaclass=Meta):\n    def f(self): return 1\n"
    m = project.module("m", src)
    old = m.K
    held = (old,)
    project.edit("m", src + "# edited\n")
    result = reimport("m")
    assert m.K is old and held[0] is m.K
    assert [n for n in result.notes if n.kind == "fallback"] == []


def test_an_importer_edited_since_it_was_loaded_keeps_only_same_name_copies_exact(project):
    # Its file no longer says what it runs: a copy under the same name still
    # follows; an alias (which the new file may not have) is left alone.
    project.module("m", "LIMIT = 5\n")
    consumer = project.module("consumer", "from m import LIMIT\nfrom m import LIMIT as cap\n")
    project.edit("consumer", "from m import LIMIT\nfrom m import LIMIT as cap\n# edited\n")
    project.edit("m", "LIMIT = 10\n")
    reimport("m")
    assert consumer.LIMIT == 10
    assert consumer.cap == 5


def test_importing_reload_server_adds_no_audit_hook():
    code = (
        "import sys\n"
        "added = []\n"
        "sys.addaudithook = lambda hook: added.append(hook)\n"
        "import reload_server, reload_server.core.importclock as c\n"
        "c.install()\n"
        "reload_server.reimport\n"
        "print(len(added))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_a_copy_in_a_module_imported_after_the_first_reload_follows_the_next(project):
    project.module("m", "registry = {'v': 1}\n")
    project.edit("m", "registry = {'v': 2}\n")
    reimport("m")
    late = project.module("late", "from m import registry\n")
    project.edit("m", "registry = {'v': 3}\n")
    reimport("m")
    assert late.registry == {"v": 3}


def test_a_copy_in_a_module_imported_again_under_its_name_follows_the_next_reload(project):
    project.module("m", "registry = {'v': 1}\n")
    project.module("user", "x = 1\n")
    project.edit("m", "registry = {'v': 2}\n")
    reimport("m")
    del sys.modules["user"]
    project.edit("user", "from m import registry\n")
    user = project.module("user")
    project.edit("m", "registry = {'v': 3}\n")
    reimport("m")
    assert user.registry == {"v": 3}


LAZY = """
touched = []


class Lazy:
    # Like Django's settings: reading __class__ or any attribute sets it up.
    @property
    def __class__(self):
        touched.append("__class__:" + "".join(__import__("traceback").format_stack(limit=4)[:-1]))
        return Lazy

    def __getattr__(self, name):
        touched.append(name)
        raise AttributeError(name)


settings = Lazy()
"""


def test_a_lazy_object_the_module_refers_to_is_not_set_up_by_a_reload(project):
    lazylib = project.module("lazylib", LAZY)
    project.module("user", "from lazylib import settings\nCONFIG = {'v': 1}\n")
    project.edit("user", "from lazylib import settings\nCONFIG = {'v': 2}\n")
    reimport("user")
    assert lazylib.touched == []


def test_an_aliased_copy_of_a_replaced_dict_follows_every_reload(project):
    project.module("m", "def f():\n    return 1\nCONFIG = {'v': 1}\n")
    user = project.module("user", "from m import f, CONFIG as settings\n")
    for v in (2, 3, 4):
        project.edit("m", f"def f():\n    return 1\nCONFIG = {{'v': {v}}}\n")
        reimport("m")
    assert user.settings == {"v": 4}


def test_a_copy_of_a_small_value_follows_every_reload(project):
    project.module("m", "LIMIT = 5\n")
    consumer = project.module("consumer", "from m import LIMIT\nOWN = 6\n")
    for limit in (6, 7, 5):
        project.edit("m", f"LIMIT = {limit}\n")
        reimport("m")
    assert (consumer.LIMIT, consumer.OWN) == (5, 6)


def test_a_module_s_own_value_equal_to_each_new_version_stays_its_own(project):
    project.module("m", "LIMIT = 5\n")
    consumer = project.module("consumer", "A = 5\nB = 6\n")
    for limit in (6, 7):
        project.edit("m", f"LIMIT = {limit}\n")
        reimport("m")
    assert (consumer.A, consumer.B) == (5, 6)


def test_a_copy_made_by_a_module_the_reload_imports_follows_the_next_reload(project):
    project.write("late.py", "from m import CONFIG\n")
    project.module("m", "CONFIG = {'v': 1}\n")
    project.edit("m", "CONFIG = {'v': 2}\nimport late\n")
    reimport("m")
    late = sys.modules["late"]
    project.edit("m", "CONFIG = {'v': 3}\nimport late\n")
    reimport("m")
    assert late.CONFIG == {"v": 3}


def test_a_copy_in_a_module_imported_before_a_module_importlib_reloaded_follows(project):
    # importlib.reload moves the module it reloads to the end of sys.modules,
    # after the modules imported since.
    project.module("m", "registry = {'v': 1}\n")
    other = project.module("other", "x = 1\n")
    project.edit("m", "registry = {'v': 2}\n")
    reimport("m")
    late = project.module("late", "from m import registry\n")
    importlib.reload(other)
    project.edit("m", "registry = {'v': 3}\n")
    reimport("m")
    assert late.registry == {"v": 3}


def test_a_copy_in_a_module_imported_before_a_reloaded_one_follows_when_others_were_removed(
    project,
):
    project.module("m", "registry = {'v': 1}\n")
    other = project.module("other", "x = 1\n")
    project.module("gone1", "x = 1\n")
    project.module("gone2", "x = 1\n")
    project.edit("m", "registry = {'v': 2}\n")
    reimport("m")
    late = project.module("late", "from m import registry\n")
    importlib.reload(other)
    del sys.modules["gone1"], sys.modules["gone2"]
    project.edit("m", "registry = {'v': 3}\n")
    reimport("m")
    assert late.registry == {"v": 3}


def test_a_copy_of_a_value_an_earlier_reload_left_alone_follows_the_reload_that_replaces_it(
    project,
):
    project.module("m", "A = {'v': 1}\nB = {'v': 1}\n")
    consumer = project.module("consumer", "from m import B\n")
    project.edit("m", "A = {'v': 2}\nB = {'v': 1}\n")
    reimport("m")
    project.edit("m", "A = {'v': 2}\nB = {'v': 3}\n")
    reimport("m")
    assert consumer.B == {"v": 3}


def test_copies_of_two_names_that_shared_one_object_each_follow_their_own_name(project):
    project.module("m", "A = B = {'v': 1}\n")
    consumer = project.module("consumer", "from m import A, B\n")
    project.edit("m", "A = {'v': 2}\nB = {'v': 3}\n")
    reimport("m")
    assert (consumer.A, consumer.B) == ({"v": 2}, {"v": 3})
