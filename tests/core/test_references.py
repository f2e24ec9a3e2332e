"""After a reload, references held anywhere run the new code."""

from __future__ import annotations

import functools
import pickle

from reload_server import reimport


def test_function_held_in_a_list_runs_new_code(project):
    m = project.module("m", "def f(): return 1\n")
    held = [m.f]
    project.edit("m", "def f(): return 2\n")
    reimport("m")
    assert held[0]() == 2


def test_function_held_in_a_dict_set_and_tuple_runs_new_code(project):
    m = project.module("m", "def f(): return 1\n")
    d, s, t = {"cb": m.f}, {m.f}, (m.f,)
    project.edit("m", "def f(): return 2\n")
    reimport("m")
    assert (d["cb"](), next(iter(s))(), t[0]()) == (2, 2, 2)


def test_partial_of_function_runs_new_code(project):
    m = project.module("m", "def add(a, b): return a + b\n")
    p = functools.partial(m.add, 10)
    project.edit("m", "def add(a, b): return a * b\n")
    reimport("m")
    assert p(3) == 30


def test_default_argument_in_another_module_runs_new_code(project):
    project.module("m", "def f(): return 1\n")
    user = project.module("user", "import m\ndef call(cb=m.f): return cb()\n")
    project.edit("m", "def f(): return 2\n")
    reimport("m")
    assert user.call() == 2


def test_from_import_copy_of_function_runs_new_code(project):
    project.module("m", "def f(): return 1\n")
    user = project.module("user", "from m import f\n")
    project.edit("m", "def f(): return 2\n")
    reimport("m")
    assert user.f() == 2


def test_bound_method_held_elsewhere_runs_new_code(project):
    m = project.module("m", "class K:\n    def f(self): return 1\n")
    bound = m.K().f
    project.edit("m", "class K:\n    def f(self): return 2\n")
    reimport("m")
    assert bound() == 2


def test_closure_made_by_a_factory_runs_new_code(project):
    m = project.module(
        "m",
        """
        def make(n):
            def inner(): return n + 1
            return inner
        handler = make(10)
        """,
    )
    held = m.handler
    project.edit(
        "m",
        """
        def make(n):
            def inner(): return n + 2
            return inner
        handler = make(10)
        """,
    )
    reimport("m")
    assert held() == 12


def test_function_decorated_with_wraps_runs_new_code(project):
    project.module(
        "deco",
        """
        import functools
        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*a): return ("logged", fn(*a))
            return wrapper
        """,
    )
    m = project.module("m", "from deco import logged\n@logged\ndef f(): return 1\n")
    held = m.f
    project.edit("m", "from deco import logged\n@logged\ndef f(): return 2\n")
    reimport("m")
    assert held() == ("logged", 2)
    assert held.__wrapped__() == 2


def test_decorator_arguments_are_updated(project):
    project.module(
        "deco",
        """
        def tag(label):
            def wrap(fn):
                def inner(): return (label, fn())
                return inner
            return wrap
        """,
    )
    m = project.module("m", "from deco import tag\n@tag('a')\ndef f(): return 1\n")
    held = m.f
    project.edit("m", "from deco import tag\n@tag('b')\ndef f(): return 1\n")
    reimport("m")
    assert held() == ("b", 1)


def test_lru_cache_held_elsewhere_runs_new_code_with_cache_cleared(project):
    m = project.module("m", "import functools\n@functools.lru_cache\ndef sq(x): return x * x\n")
    held = m.sq
    assert held(3) == 9
    project.edit("m", "import functools\n@functools.lru_cache\ndef sq(x): return x * x + 1\n")
    reimport("m")
    assert held(3) == 10


def test_existing_instance_sees_changed_method(project):
    m = project.module("m", "class K:\n    def f(self): return 1\n")
    obj = m.K()
    project.edit("m", "class K:\n    def f(self): return 2\n")
    reimport("m")
    assert obj.f() == 2


def test_existing_instance_sees_added_method(project):
    m = project.module("m", "class K:\n    pass\n")
    obj = m.K()
    project.edit("m", "class K:\n    def g(self): return 'new'\n")
    reimport("m")
    assert obj.g() == "new"


def test_removed_method_is_gone_from_old_instance(project):
    m = project.module("m", "class K:\n    def f(self): return 1\n    def g(self): return 2\n")
    obj = m.K()
    project.edit("m", "class K:\n    def f(self): return 1\n")
    reimport("m")
    assert not hasattr(obj, "g")


def test_property_classmethod_and_staticmethod_are_updated(project):
    src = """
    class K:
        @property
        def p(self): return {v}
        @classmethod
        def c(cls): return {v}
        @staticmethod
        def s(): return {v}
    """
    m = project.module("m", src.format(v=1))
    obj = m.K()
    held_c, held_s = m.K.c, m.K.s
    project.edit("m", src.format(v=2))
    reimport("m")
    assert (obj.p, obj.c(), obj.s(), held_c(), held_s()) == (2, 2, 2, 2, 2)


def test_isinstance_of_old_instance_stays_true(project):
    m = project.module("m", "class K:\n    x = 1\n")
    obj = m.K()
    project.edit("m", "class K:\n    x = 2\n")
    reimport("m")
    assert isinstance(obj, m.K)
    assert obj.x == 2


def test_old_instance_pickles_and_unpickles(project):
    m = project.module(
        "m", "class K:\n    def __init__(self): self.v = 5\n    def f(self): return 1\n"
    )
    obj = m.K()
    project.edit(
        "m", "class K:\n    def __init__(self): self.v = 5\n    def f(self): return self.v * 2\n"
    )
    reimport("m")
    copy = pickle.loads(pickle.dumps(obj))
    assert type(copy) is m.K
    assert copy.f() == 10


def test_subclass_in_another_module_sees_new_base_method(project):
    project.module("base", "class Base:\n    def who(self): return 'old'\n")
    child = project.module("child", "from base import Base\nclass Child(Base):\n    pass\n")
    obj = child.Child()
    project.edit("base", "class Base:\n    def who(self): return 'new'\n")
    reimport("base")
    assert obj.who() == "new"


def test_super_in_a_changed_method_works_for_old_instances(project):
    src = """
    class Base:
        def who(self): return "base"
    class K(Base):
        def who(self): return {body}
    """
    m = project.module("m", src.format(body="'k'"))
    obj = m.K()
    project.edit("m", src.format(body="'k+' + super().who()"))
    reimport("m")
    assert obj.who() == "k+base"


def test_super_in_an_edited_method_that_already_used_it(project):
    src = """
    class Base:
        def who(self): return "base"
    class K(Base):
        def who(self): return super().who() + {suffix!r}
    """
    m = project.module("m", src.format(suffix="1"))
    obj, bound = m.K(), m.K().who
    project.edit("m", src.format(suffix="2"))
    result = reimport("m")
    assert (obj.who(), bound()) == ("base2", "base2")
    assert not [n for n in result.notes if n.kind == "fallback"]


def test_nested_class_is_updated_in_place(project):
    m = project.module("m", "class Outer:\n    class Inner:\n        def f(self): return 1\n")
    inner = m.Outer.Inner()
    project.edit("m", "class Outer:\n    class Inner:\n        def f(self): return 2\n")
    reimport("m")
    assert inner.f() == 2
    assert type(inner) is m.Outer.Inner


def test_methods_defined_via_metaclass_made_class_are_updated(project):
    src = """
    REGISTRY = []
    class Meta(type):
        def __new__(mcs, name, bases, ns):
            cls = super().__new__(mcs, name, bases, ns)
            cls.made_by = "Meta"
            return cls
    class K(metaclass=Meta):
        def f(self): return {v}
    """
    m = project.module("m", src.format(v=1))
    obj = m.K()
    project.edit("m", src.format(v=2))
    reimport("m")
    assert obj.f() == 2
    assert type(obj) is m.K


def test_function_attribute_naming_the_function_itself_reloads(project):
    src = "def f(): return {v}\nf.me = f\n"
    m = project.module("m", src.format(v=1))
    held = m.f
    project.edit("m", src.format(v=2))
    reimport("m")
    assert held() == 2
    assert m.f.me is m.f
