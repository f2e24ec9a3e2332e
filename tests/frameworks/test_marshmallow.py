"""marshmallow: held schema classes and the class registry follow a reload (adapters/marshmallow.py)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError, class_registry
from marshmallow.exceptions import RegistryError

from reload_server import ReloadError, reimport

SCHEMAS = """
from marshmallow import Schema, fields

class Pet(Schema):
    name = fields.Str()

class Owner(Schema):
    name = fields.Str()
    pet = fields.Nested("Pet")

class Toy(Schema):
    name = fields.Str()
"""

WITH_AGE = SCHEMAS.replace(
    "class Pet(Schema):\n    name = fields.Str()",
    "class Pet(Schema):\n    name = fields.Str()\n    age = fields.Int()",
)


@pytest.fixture(autouse=True)
def registry():
    """Each test starts from the registry as it was: the classes of other tests' modules leave."""
    saved = {k: list(v) for k, v in class_registry._registry.items()}
    yield class_registry._registry
    class_registry._registry.clear()
    class_registry._registry.update(saved)


def test_a_held_schema_class_loads_an_added_field(project):
    held = project.module("sch", SCHEMAS).Pet
    project.edit("sch", WITH_AGE)
    reimport("sch")
    assert held().load({"name": "rex", "age": 3}) == {"name": "rex", "age": 3}


def test_a_nested_schema_named_by_string_resolves_to_the_edited_class(project):
    held = project.module("sch", SCHEMAS).Owner
    project.edit("sch", WITH_AGE)
    reimport("sch")
    loaded = held().load({"name": "ann", "pet": {"name": "rex", "age": 3}})
    assert loaded["pet"] == {"name": "rex", "age": 3}


def test_the_registry_names_one_class_for_a_reloaded_schema(project):
    m = project.module("sch", SCHEMAS)
    project.edit("sch", WITH_AGE)
    reimport("sch")
    assert class_registry.get_class("Pet") is m.Pet


def test_a_schema_the_module_no_longer_defines_leaves_the_registry(project):
    project.module("sch", SCHEMAS)
    project.edit("sch", SCHEMAS.split("class Toy")[0])
    reimport("sch")
    with pytest.raises(RegistryError):
        class_registry.get_class("sch.Toy")


def test_a_failed_edit_leaves_the_held_schema_as_it_was(project):
    held = project.module("sch", SCHEMAS).Pet
    project.edit("sch", WITH_AGE + "\nraise RuntimeError('no')\n")
    with pytest.raises(ReloadError):
        reimport("sch")
    with pytest.raises(ValidationError):
        held().load({"name": "rex", "age": 3})
