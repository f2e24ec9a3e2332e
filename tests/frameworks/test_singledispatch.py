"""functools.singledispatch: a reloaded dispatcher keeps other modules' registrations (adapters/functools.py)."""

from __future__ import annotations

from reload_server import reimport
from reload_server.core.transaction import prepare

DISPATCH = """
from functools import singledispatch

@singledispatch
def show(x):
    return "default"

@show.register
def _(x: int):
    return "int"
"""

OTHER = """
from disp import show

@show.register
def _(x: str):
    return "str from other"
"""


def test_a_reloaded_dispatcher_keeps_what_another_module_registered(project):
    held = project.module("disp", DISPATCH).show
    project.module("other", OTHER)
    project.edit("disp", DISPATCH.replace('"default"', '"DEFAULT"'))
    reimport("disp")
    assert (held("a"), held(None)) == ("str from other", "DEFAULT")


def test_a_reloaded_dispatcher_takes_the_modules_edited_registration(project):
    held = project.module("disp", DISPATCH).show
    project.module("other", OTHER)
    project.edit("disp", DISPATCH.replace('"int"', '"INT"'))
    reimport("disp")
    assert held(1) == "INT"


def test_a_reloaded_dispatcher_forgets_a_registration_the_module_removed(project):
    held = project.module("disp", DISPATCH).show
    project.module("other", OTHER)
    project.edit("disp", DISPATCH.split("@show.register")[0])
    reimport("disp")
    assert (held(1), held("a")) == ("default", "str from other")


def test_a_registration_another_module_made_for_a_type_the_module_also_registers_still_wins(
    project,
):
    held = project.module("disp", DISPATCH).show
    project.module("other", OTHER.replace("x: str", "x: int").replace("str from", "int from"))
    project.edit("disp", DISPATCH.replace('"default"', '"DEFAULT"'))
    reimport("disp")
    assert held(1) == "int from other"


def test_a_registration_moved_to_another_type_no_longer_serves_the_old_type(project):
    held = project.module("disp", DISPATCH).show
    project.edit("disp", DISPATCH.replace("x: int", "x: float"))
    reimport("disp")
    assert (held(1), held(1.5)) == ("default", "int")


def test_an_aborted_reload_keeps_a_registration_the_module_removed(project):
    held = project.module("disp", DISPATCH).show
    project.edit("disp", DISPATCH.split("@show.register")[0])
    # A fleet reload another process failed to prepare: aborted after every check passed.
    prepare("disp").abort("another process refused it")
    assert held(1) == "int"
