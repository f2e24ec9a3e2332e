"""A reload follows every reference the program holds (issue 14, items 7-9): specification tests."""

from __future__ import annotations

from reload_server import reimport
from reload_server.core.results import INFO, WARNING

ADDER = "def make_adder(n):\n    def add(x):\n        return n + x\n    return add\n"

KEYED_REGISTRY = (
    "REGISTRY = {}\n"
    "def register(name):\n"
    "    def deco(obj):\n"
    "        REGISTRY[name] = obj\n"
    "        return obj\n"
    "    return deco\n"
)

LIST_REGISTRY = "HANDLERS = []\ndef register(f):\n    HANDLERS.append(f)\n    return f\n"


def _closure_search_notes(result) -> list:
    return [n for n in result.notes if n.severity == INFO and "live closures" in n.message]


# -- item 7: closures made before the reload ---------------------------------


def test_a_closure_made_before_the_reload_runs_the_edited_inner_body(project):
    m = project.module("m", ADDER)
    add5 = m.make_adder(5)
    project.edit("m", ADDER.replace("n + x", "n + x + 100"))
    reimport("m")
    assert add5(1) == 106


def test_a_closure_returned_by_a_closure_runs_the_edited_body(project):
    src = (
        "def outer(a):\n"
        "    def middle(b):\n"
        "        def inner(c):\n"
        "            return a + b + c\n"
        "        return inner\n"
        "    return middle\n"
    )
    m = project.module("m", src)
    inner = m.outer(1)(2)
    project.edit("m", src.replace("a + b + c", "a * b * c"))
    reimport("m")
    assert inner(10) == 20


def test_a_method_closure_made_before_the_reload_runs_the_edited_body(project):
    src = (
        "class Button:\n"
        "    def __init__(self, label):\n"
        "        self.label = label\n"
        "    def on_click(self):\n"
        "        def clicked():\n"
        "            return 'clicked ' + self.label\n"
        "        return clicked\n"
    )
    m = project.module("m", src)
    callback = m.Button("ok").on_click()
    project.edit("m", src.replace("'clicked '", "'pressed '"))
    reimport("m")
    assert callback() == "pressed ok"


def test_a_search_for_live_closures_is_noted(project):
    m = project.module("m", ADDER)
    add5 = m.make_adder(5)
    project.edit("m", ADDER.replace("n + x", "n + x + 100"))
    result = reimport("m")
    assert add5 is not None
    assert len(_closure_search_notes(result)) == 1


def test_an_ordinary_edit_searches_the_heap_for_nothing(project):
    src = (
        "import enum, functools\n"
        "def logged(f):\n"
        "    @functools.wraps(f)\n"
        "    def wrapper(*a):\n"
        "        return f(*a)\n"
        "    return wrapper\n"
        "@logged\n"
        "def greet(name):\n"
        "    return 'hi ' + name\n"
        "class Base:\n"
        "    def who(self):\n"
        "        return 'base'\n"
        "class Child(Base):\n"
        "    def who(self):\n"
        "        return super().who() + '!'\n"
        "class Color(enum.Enum):\n"
        "    RED = 1\n"
        "ADD = make = None\n"
    )
    m = project.module("m", ADDER + src)
    held = (m.greet, m.Child(), m.Color.RED, m.make_adder)
    project.edit("m", "# a line more\n" + ADDER + src.replace("'hi '", "'hello '"))
    result = reimport("m")
    assert held[0]("x") == "hello x"
    assert [n.message for n in result.notes if n.kind == "fallback"] == []


def test_a_live_closure_whose_free_variables_changed_keeps_its_code_and_is_named(project):
    m = project.module("m", ADDER)
    add5 = m.make_adder(5)
    edited = "def make_adder(n, k=0):\n    def add(x):\n        return n + x + k\n    return add\n"
    project.edit("m", edited)
    result = reimport("m")
    assert add5(1) == 6
    warnings = [n.message for n in result.notes if n.severity == WARNING]
    assert any("make_adder.<locals>.add" in w for w in warnings)


# -- item 8: discarded new objects a registry kept -----------------------------


def test_a_keyed_registry_holds_the_surviving_function(project):
    reg = project.module("reg", KEYED_REGISTRY)
    src = "from reg import register\n@register('csv')\ndef export_csv():\n    return 1\n"
    m = project.module("m", src)
    project.edit("m", src.replace("return 1", "return 2"))
    reimport("m")
    assert reg.REGISTRY["csv"] is m.export_csv


def test_a_defaultdict_registry_holds_the_surviving_function(project):
    reg = project.module(
        "reg",
        "import collections\n"
        "REGISTRY = collections.defaultdict(lambda: None)\n"
        "def register(f):\n"
        "    REGISTRY[f.__name__] = f\n"
        "    return f\n",
    )
    src = "from reg import register\n@register\ndef export_json():\n    return 1\n"
    m = project.module("m", src)
    project.edit("m", src.replace("return 1", "return 2"))
    reimport("m")
    assert reg.REGISTRY["export_json"] is m.export_json


def test_a_class_registered_by_init_subclass_passes_isinstance_for_old_instances(project):
    reg = project.module(
        "reg",
        "REGISTRY = {}\n"
        "class Exporter:\n"
        "    def __init_subclass__(cls, **kw):\n"
        "        super().__init_subclass__(**kw)\n"
        "        REGISTRY[cls.__name__] = cls\n",
    )
    src = (
        "from reg import Exporter\nclass Csv(Exporter):\n    def ext(self):\n        return 'csv'\n"
    )
    m = project.module("m", src)
    made_before = m.Csv()
    project.edit("m", src.replace("'csv'", "'CSV'"))
    reimport("m")
    assert isinstance(made_before, reg.REGISTRY["Csv"])


def test_a_list_registry_holds_the_survivor_once(project):
    reg = project.module("reg", LIST_REGISTRY)
    src = "from reg import register\n@register\ndef on_save():\n    return 1\n"
    m = project.module("m", src)
    project.edit("m", src.replace("return 1", "return 2"))
    reimport("m")
    assert reg.HANDLERS == [m.on_save]


def test_removing_the_function_from_a_list_registry_by_identity_empties_it(project):
    reg = project.module("reg", LIST_REGISTRY)
    src = "from reg import register\n@register\ndef on_save():\n    return 1\n"
    m = project.module("m", src)
    project.edit("m", src.replace("return 1", "return 2"))
    reimport("m")
    reg.HANDLERS.remove(m.on_save)
    assert reg.HANDLERS == []


def test_a_list_registry_of_pairs_holds_each_pair_once(project):
    reg = project.module(
        "reg",
        "HANDLERS = []\n"
        "def on(event):\n"
        "    def deco(f):\n"
        "        HANDLERS.append((event, f))\n"
        "        return f\n"
        "    return deco\n",
    )
    src = "from reg import on\n@on('save')\ndef saved():\n    return 1\n"
    m = project.module("m", src)
    project.edit("m", src.replace("return 1", "return 2"))
    reimport("m")
    assert reg.HANDLERS == [("save", m.saved)]


def test_a_set_of_subscribers_holds_the_survivor_alone(project):
    reg = project.module(
        "reg", "SUBSCRIBERS = set()\ndef subscribe(f):\n    SUBSCRIBERS.add(f)\n    return f\n"
    )
    src = "from reg import subscribe\n@subscribe\ndef notify():\n    return 1\n"
    m = project.module("m", src)
    project.edit("m", src.replace("return 1", "return 2"))
    reimport("m")
    assert reg.SUBSCRIBERS == {m.notify}


def test_a_module_table_of_its_own_functions_holds_the_survivors(project):
    src = "def upper(s):\n    return s.upper()\nFILTERS = {'upper': upper}\n"
    m = project.module("m", src)
    project.edit("m", src.replace("s.upper()", "s.upper() + '!'"))
    reimport("m")
    assert m.FILTERS["upper"] is m.upper


def test_a_default_argument_tuple_names_the_surviving_class(project):
    src = "class Null:\n    pass\ndef skip(x, ignore=(Null,)):\n    return isinstance(x, ignore)\n"
    m = project.module("m", src)
    made_before = m.Null()
    project.edit("m", src.replace("pass", "kind = 'null'"))
    reimport("m")
    assert m.skip(made_before)


def test_a_module_tuple_of_enum_members_holds_the_surviving_members(project):
    src = "import enum\nclass Color(enum.Enum):\n    RED = 1\n    BLUE = 2\nWARM = (Color.RED,)\n"
    m = project.module("m", src)
    project.edit("m", src.replace("BLUE = 2", "BLUE = 3"))
    reimport("m")
    assert m.WARM[0] is m.Color.RED


# -- item 9: handlers a decorator registered and did not return ----------------

ON_REGISTRY = (
    "HANDLERS = {}\n"
    "def on(event):\n"
    "    def deco(f):\n"
    "        HANDLERS.setdefault(event, []).append(f)\n"
    "    return deco\n"
)

TWO_HANDLERS = (
    "from reg import on\n"
    "@on('a')\n"
    "def handler():\n"
    "    return 'a1'\n"
    "@on('b')\n"
    "def handler():\n"
    "    return 'b1'\n"
)


def test_handlers_a_decorator_did_not_return_run_the_new_code(project):
    reg = project.module("reg", ON_REGISTRY)
    project.module("m", TWO_HANDLERS)
    project.edit("m", TWO_HANDLERS.replace("'a1'", "'a2'").replace("'b1'", "'b2'"))
    reimport("m")
    assert [[f() for f in reg.HANDLERS[e]] for e in ("a", "b")] == [["a2"], ["b2"]]


def test_handlers_a_decorator_did_not_return_keep_their_identity(project):
    reg = project.module("reg", ON_REGISTRY)
    project.module("m", TWO_HANDLERS)
    before = {e: list(fs) for e, fs in reg.HANDLERS.items()}
    project.edit("m", TWO_HANDLERS.replace("'a1'", "'a2'"))
    reimport("m")
    assert reg.HANDLERS == before


def test_unnamed_handlers_whose_number_changed_are_named_in_a_warning(project):
    reg = project.module("reg", ON_REGISTRY)
    project.module("m", TWO_HANDLERS)
    project.edit("m", TWO_HANDLERS + "@on('c')\ndef handler():\n    return 'c1'\n")
    # Only a whole run makes new handlers of the unchanged statements too.
    result = reimport("m", full=True)
    warnings = [n.message for n in result.notes if n.severity == WARNING]
    assert reg.HANDLERS["c"][0]() == "c1"
    assert any(w.startswith("handler: 2 old and 3 new") for w in warnings)
