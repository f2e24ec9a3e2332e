"""Classes a reload cannot update in place are followed as far as Python allows (issue 14, 12-15)."""

from __future__ import annotations

from reload_server import reimport
from reload_server.core.results import WARNING

WEEKDAY_BASE = """\
class weekday:
    __slots__ = {slots}

    def __init__(self, weekday, n=None):
        self.weekday = weekday
        self.n = n

    def __call__(self, n):
        return self if n == self.n else self.__class__(self.weekday, n)

    def __repr__(self):
        name = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[self.weekday]
        return name if not self.n else "%s(%+d)" % (name, self.n)
"""

WEEKDAY_RULES = """\
from weekdays_base import weekday as weekdaybase


class weekday(weekdaybase):
    __slots__ = []

    def __init__(self, wkday, n=None):
        if n == 0:
            raise ValueError("Can't create weekday with n==0")
        super().__init__(wkday, n)


MO, TU, WE, TH, FR, SA, SU = weekdays = tuple(weekday(x) for x in range(7))
"""


def test_an_instance_left_of_a_subclass_whose_base_changed_slots_still_calls_super(project):
    project.module("weekdays_base", WEEKDAY_BASE.format(slots='["weekday", "n"]'))
    rules = project.module("weekdays_rules", WEEKDAY_RULES)
    schedule = (rules.TU,)  # a rule built at start-up, in a holder no pass can rewrite
    project.edit("weekdays_base", WEEKDAY_BASE.format(slots='["weekday", "n", "extra"]'))
    project.edit("weekdays_rules", WEEKDAY_RULES + "# edited\n")
    reimport("weekdays_base", "weekdays_rules")
    assert repr(schedule[0](1)) == "TU(+1)"


def test_an_instance_of_a_discarded_class_that_cannot_be_rebased_still_calls_super(project):
    src = (
        "class Day:\n"
        "    __slots__ = ('n',)\n"
        "    def __init__(self, n):\n"
        "        super().__init__()\n"
        "        self.n = n\n"
        "    def __call__(self, n):\n"
        "        return self.__class__(n)\n"
        "class Rule:\n"
        "    def __init__(self, days):\n"
        "        self.days = days\n"
        "DEFAULT = Rule([Day(1)])\n"
    )
    m = project.module("m", src)
    project.edit("m", src + "# edited\n")
    reimport("m")
    assert m.DEFAULT.days[0](2).n == 2


def test_a_subclass_elsewhere_runs_the_methods_of_a_base_that_became_an_abc(project):
    project.module("base", "class Base:\n    def hello(self):\n        return 'old'\n")
    sub = project.module("sub", "import base\nclass Sub(base.Base):\n    pass\n")
    made = sub.Sub()
    project.edit(
        "base",
        "import abc\nclass Base(abc.ABC):\n    def hello(self):\n        return 'new'\n",
    )
    reimport("base")
    assert made.hello() == "new"


def test_an_instance_of_a_subclass_passes_isinstance_against_a_base_that_became_an_abc(project):
    project.module("base", "class Base:\n    pass\n")
    sub = project.module("sub", "import base\nclass Sub(base.Base):\n    pass\n")
    made = sub.Sub()
    project.edit("base", "import abc\nclass Base(abc.ABC):\n    pass\n")
    reimport("base")
    import base

    assert isinstance(made, base.Base)


def test_a_subclass_that_cannot_follow_its_replaced_base_is_named_in_a_warning(project):
    project.module("base", "class Base:\n    __slots__ = ('a',)\n")
    project.module("sub", "import base\nclass Sub(base.Base):\n    __slots__ = ()\n")
    project.edit("base", "class Base:\n    __slots__ = ('a', 'b')\n")
    result = reimport("base")
    warned = [n.message for n in result.notes if n.severity == WARNING]
    assert any("sub.Sub" in message for message in warned)


PROTOCOL = """\
from typing import Protocol, runtime_checkable


@runtime_checkable
class Closer(Protocol):
    def close(self): ...
{extra}

class File:
    def close(self):
        pass
"""


def test_a_runtime_checkable_protocol_that_gained_a_method_checks_the_new_definition(project):
    m = project.module("m", PROTOCOL.format(extra=""))
    assert isinstance(m.File(), m.Closer)
    project.edit("m", PROTOCOL.format(extra="    def flush(self): ..."))
    reimport("m")
    assert not isinstance(m.File(), m.Closer)


def test_a_protocol_elsewhere_based_on_a_protocol_that_gained_a_method_checks_it_too(project):
    project.module("m", PROTOCOL.format(extra=""))
    sub = project.module(
        "sub",
        "from typing import Protocol, runtime_checkable\n"
        "import m\n"
        "@runtime_checkable\n"
        "class Stream(m.Closer, Protocol):\n"
        "    def read(self): ...\n"
        "class Reader:\n"
        "    def close(self): pass\n"
        "    def read(self): pass\n",
    )
    assert isinstance(sub.Reader(), sub.Stream)
    project.edit("m", PROTOCOL.format(extra="    def flush(self): ..."))
    reimport("m")
    assert not isinstance(sub.Reader(), sub.Stream)


ABC_SOURCE = """\
import abc


class Sink(abc.ABC):
    @classmethod
    def __subclasshook__(cls, other):
        found = all(any(n in k.__dict__ for k in other.__mro__) for n in {names})
        return True if found else NotImplemented


class Stream(Sink):
    pass


class Writer:
    def write(self):
        pass
"""


def test_an_abc_whose_subclass_hook_changed_answers_for_the_new_definition(project):
    m = project.module("m", ABC_SOURCE.format(names="('write',)"))
    m.Sink.register(int)
    assert isinstance(m.Writer(), m.Sink)
    project.edit("m", ABC_SOURCE.format(names="('write', 'flush')"))
    reimport("m")
    # Classes registered with the ABC stay registered: only the cached answers go.
    assert not isinstance(m.Writer(), m.Sink) and isinstance(1, m.Sink)


def test_a_subclass_of_a_changed_abc_answers_for_the_new_definition(project):
    m = project.module("m", ABC_SOURCE.format(names="('write',)"))
    assert isinstance(m.Writer(), m.Stream)
    project.edit("m", ABC_SOURCE.format(names="('write', 'flush')"))
    reimport("m")
    assert not isinstance(m.Writer(), m.Stream)


NAMED = "from typing import NamedTuple\n\nclass Point(NamedTuple):\n    x: int\n    y: int\n"


def test_a_named_tuple_made_before_a_field_was_added_still_reprs(project):
    m = project.module("m", NAMED)
    held = [m.Point(1, 2)]
    project.edit("m", NAMED + "    z: int = 0\n")
    reimport("m")
    assert repr(held[0]) == "Point(x=1, y=2)"


def test_a_named_tuple_made_before_a_field_was_added_still_replaces_a_field(project):
    m = project.module("m", NAMED)
    held = [m.Point(1, 2)]
    project.edit("m", NAMED + "    z: int = 0\n")
    reimport("m")
    assert held[0]._replace(x=5) == (5, 2)


COLLECTIONS_NAMED = "import collections\n\nPoint = collections.namedtuple('Point', {fields})\n"


def test_a_collections_namedtuple_made_before_a_field_was_added_still_reprs(project):
    m = project.module("m", COLLECTIONS_NAMED.format(fields="'x y'"))
    held = [m.Point(1, 2)]
    project.edit("m", COLLECTIONS_NAMED.format(fields="'x y z'"))
    reimport("m")
    assert repr(held[0]) == "Point(x=1, y=2)" and m.Point(1, 2, 3).z == 3
