"""SQLAlchemy 2: sessions holding rows loaded before a reload of their model module.

Rows, sessions and queries hold the old mapper: a method or property edit must
reach them, and a schema edit a live mapper cannot take is refused with the old
code left running (reload_server/adapters/sqlalchemy.py).
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, configure_mappers

from reload_server import ReloadError, reimport

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

BASE

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    addresses: Mapped[list["Address"]] = relationship(back_populates="user")
    USER_EXTRA

    def greet(self):
        return "hello " + self.name

    @hybrid_property
    def label(self):
        return self.name + "!"

    @validates("name")
    def _check_name(self, key, value):
        return value.strip()


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped["User"] = relationship(back_populates="addresses")
MORE
"""

OWN_BASE = "class Base(DeclarativeBase):\n    pass"


def models(
    base: str = OWN_BASE, user: str = "", more: str = "", edits: dict[str, str] | None = None
) -> str:
    """The models module's source, with ``user`` added to ``User``, ``more`` at the end and ``edits``."""
    source = MODELS.replace("BASE", base).replace("USER_EXTRA", user).replace("MORE", more)
    for old, new in (edits or {}).items():
        assert old in source
        source = source.replace(old, new)
    return source


class Db:
    """The models module, an in-memory database and a session holding a row loaded before."""

    def __init__(self, project, base: str = OWN_BASE) -> None:
        self.project = project
        self.base = base
        self.m = project.module("models", models(base))
        self.engine = create_engine("sqlite://")
        self.m.Base.metadata.create_all(self.engine)
        with Session(self.engine) as s:
            s.add(self.m.User(name="ann", addresses=[self.m.Address(email="ann@x")]))
            s.commit()
        self.session = Session(self.engine)
        self.user = self.session.get(self.m.User, 1)
        assert self.user.addresses[0].email == "ann@x"

    def reload(self, **changes):
        self.project.edit("models", models(self.base, **changes))
        return reimport("models")

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()
        # Mappers left configured-or-not would meet later tests' configure_mappers().
        self.m.Base.registry.dispose(cascade=True)


@pytest.fixture
def db(project):
    db = Db(project)
    yield db
    db.close()


@pytest.fixture
def db_base_elsewhere(project):
    project.module(
        "base",
        "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n",
    )
    db = Db(project, base="from base import Base")
    yield db
    db.close()


GREET_EDIT = {"edits": {'return "hello " + self.name': 'return "hi " + self.name'}}


def test_a_row_loaded_before_a_method_edit_runs_the_new_method(db):
    db.reload(**GREET_EDIT)
    assert db.user.greet() == "hi ann"


def test_columns_of_a_row_loaded_before_a_method_edit_still_read_and_write(db):
    db.reload(**GREET_EDIT)
    db.user.name = "bob"
    db.session.commit()
    with Session(db.engine) as other:
        assert (db.user.addresses[0].email, other.get(db.m.User, 1).name) == ("ann@x", "bob")


def test_a_new_row_can_be_added_and_committed_after_a_method_edit(db):
    db.reload(**GREET_EDIT)
    db.session.add(db.m.User(name="cy", addresses=[db.m.Address(email="cy@x")]))
    db.session.commit()
    found = db.session.scalars(select(db.m.User).where(db.m.User.name == "cy")).one()
    assert (found.greet(), found.addresses[0].email) == ("hi cy", "cy@x")


def test_a_hybrid_property_edit_applies_to_rows_and_to_queries(db):
    db.reload(edits={'self.name + "!"': 'self.name + "?"'})
    assert (db.user.label, db.session.scalars(select(db.m.User.label)).one()) == ("ann?", "ann?")


def test_a_validator_edit_applies_to_rows_loaded_before(db):
    db.reload(edits={"return value.strip()": "return value.strip().title()"})
    db.user.name = "  dee "
    assert db.user.name == "Dee"


def test_an_init_a_model_defines_runs_its_new_code_after_an_edit(db):
    init = (
        "def __init__(self, **kw):\n        super().__init__(**kw)\n        self.name += 'SUFFIX'\n"
    )
    db.reload(user=init.replace("SUFFIX", "1"))
    db.reload(user=init.replace("SUFFIX", "2"))
    assert db.m.User(name="cy").name == "cy2"


def test_a_method_added_to_a_model_is_there_on_rows_loaded_before(db):
    db.reload(user="def initial(self):\n        return self.name[0]\n")
    assert db.user.initial() == "a"


def test_a_method_removed_from_a_model_is_gone_from_rows_loaded_before(db):
    db.reload(edits={"def greet(self):": "def _greet_gone(self):"})
    assert not hasattr(db.user, "greet") and db.user.name == "ann"


TAG = """
class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user = relationship("User")
"""


def test_a_model_added_to_the_module_stores_rows_related_to_old_ones(db):
    db.reload(more=TAG)
    db.m.Base.metadata.create_all(db.engine)
    db.session.add(db.m.Tag(text="vip", user=db.user))
    db.session.commit()
    tag = db.session.scalars(select(db.m.Tag)).one()
    assert (tag.user is db.user, tag.user.greet()) == (True, "hello ann")


def test_a_method_edit_applies_when_the_base_is_defined_in_another_module(db_base_elsewhere):
    db = db_base_elsewhere
    db.reload(**GREET_EDIT)
    db.session.add(db.m.User(name="cy"))
    db.session.commit()
    assert [u.greet() for u in db.session.scalars(select(db.m.User))] == ["hi ann", "hi cy"]


def test_a_model_added_beside_a_base_in_another_module_stores_rows(db_base_elsewhere):
    db = db_base_elsewhere
    db.reload(more=TAG)
    db.m.Base.metadata.create_all(db.engine)
    db.session.add(db.m.Tag(text="vip", user=db.user))
    db.session.commit()
    assert db.session.scalars(select(db.m.Tag)).one().user is db.user


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ({"user": "nickname: Mapped[str] = mapped_column(default='')"}, "column 'nickname' added"),
        ({"edits": {"email: Mapped[str]": "pass"}}, "column 'email' removed"),
        ({"edits": {"String(30)": "String(50)"}}, "column 'name' of table 'users' changed"),
        (
            {"edits": {'back_populates="user")': "back_populates='user', lazy='joined')"}},
            "relationship 'addresses' of models.User changed",
        ),
        (
            {"edits": {'@validates("name")': '@validates("name", "id")'}},
            "@validates covers in models.User changed",
        ),
    ],
    ids=["column added", "column removed", "column retyped", "relationship changed", "validates"],
)
def test_a_schema_edit_a_live_mapper_cannot_take_is_refused_saying_what(db, edit, says):
    with pytest.raises(ReloadError) as info:
        db.reload(**edit)
    assert (info.value.phase, says in info.value.message) == ("check", True)


def test_queries_and_the_old_methods_keep_working_after_a_refused_column_edit(db):
    with pytest.raises(ReloadError):
        db.reload(user="nickname: Mapped[str] = mapped_column(default='')", **GREET_EDIT)
    db.session.add(db.m.User(name="cy"))
    db.session.commit()
    names = [u.greet() for u in db.session.scalars(select(db.m.User).order_by(db.m.User.id))]
    assert names == ["hello ann", "hello cy"]


def test_a_relationship_by_string_resolves_to_the_old_model_after_a_rollback(db_base_elsewhere):
    db = db_base_elsewhere
    with pytest.raises(ReloadError):
        db.reload(more="raise RuntimeError('broken after the models were mapped')")
    later = db.project.module(
        "later",
        "from sqlalchemy import ForeignKey\n"
        "from sqlalchemy.orm import Mapped, mapped_column, relationship\n"
        "from base import Base\n"
        "class Badge(Base):\n"
        "    __tablename__ = 'badges'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'))\n"
        "    user = relationship('User')\n",
    )
    configure_mappers()
    assert later.Badge.user.property.mapper.class_ is db.m.User


def test_mappers_still_configure_after_a_rolled_back_run_that_remade_the_base(db):
    with pytest.raises(ReloadError):
        db.reload(edits={"class Address(Base):": "raise RuntimeError\nclass Address(Base):"})
    configure_mappers()  # a half-made new User, whose "Address" never came, would fail here
    assert db.session.scalars(select(db.m.Address)).one().user is db.user


def test_the_metadata_holds_the_old_tables_after_a_rollback(db_base_elsewhere):
    db = db_base_elsewhere
    tables = dict(db.m.Base.metadata.tables)
    with pytest.raises(ReloadError):
        db.reload(more="raise RuntimeError('broken after the models were mapped')")
    assert dict(db.m.Base.metadata.tables) == tables


PERSON = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "person"}
"""

ADMIN = """
from people import Person

class Admin(Person):
    __mapper_args__ = {"polymorphic_identity": "admin"}

    def power(self):
        return "GREETING"
"""


# The re-run maps the new subclass under the same identity first, which SQLAlchemy warns of.
@pytest.mark.filterwarnings("ignore:Reassigning polymorphic association")
def test_a_subclass_of_a_model_in_another_module_still_loads_as_the_old_class(project):
    people = project.module("people", PERSON)
    admins = project.module("admins", ADMIN.replace("GREETING", "some"))
    engine = create_engine("sqlite://")
    people.Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(admins.Admin())
        s.commit()
    project.edit("admins", ADMIN.replace("GREETING", "all"))
    reimport("admins")
    with Session(engine) as s:
        loaded = s.scalars(select(people.Person)).one()
        assert (type(loaded) is admins.Admin, loaded.power()) == (True, "all")
    engine.dispose()
    people.Base.registry.dispose(cascade=True)


def test_a_class_that_becomes_mapped_is_refused(project):
    source = PERSON + "\nclass Plain:\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
    people = project.module("people", source.replace("class Plain:", "class Plain:  # not yet"))
    project.edit(
        "people", source.replace("class Plain:", "class Plain(Base):\n    __tablename__ = 'plain'")
    )
    with pytest.raises(ReloadError) as info:
        reimport("people")
    assert "people.Plain became a mapped class" in info.value.message
    people.Base.registry.dispose(cascade=True)
