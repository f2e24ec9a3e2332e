"""typer: a Typer app held from before a reload serves the new commands (adapters/typer.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from reload_server import ReloadError, reimport

APP = """
import typer

app = typer.Typer()

@app.command()
def hello(name: str = "world"):
    print(f"hello {name}")

@app.command()
def bye():
    print("bye")

@app.command()
def ping():
    print("pong")
"""

MAIN = """
import typer

app = typer.Typer()

@app.command()
def root():
    print("root")
"""

EXTRA = """
from main import app

@app.command()
def hi(name: str = "a"):
    print(f"hi {name}")

@app.command()
def gone():
    print("gone")
"""


def run(app, *args: str) -> str:
    return CliRunner().invoke(app, list(args)).output


def serves(app, command: str) -> bool:
    """Whether ``app`` has ``command`` (typer prints its usage errors where the runner may not see them)."""
    return CliRunner().invoke(app, [command, "--help"]).exit_code == 0


def test_a_held_app_runs_an_edited_command_body(project):
    held = project.module("tapp", APP).app
    project.edit("tapp", APP.replace('f"hello {name}"', 'f"hi {name}"'))
    reimport("tapp")
    assert run(held, "hello") == "hi world\n"


def test_a_held_app_uses_a_changed_default(project):
    held = project.module("tapp", APP).app
    project.edit("tapp", APP.replace('name: str = "world"', 'name: str = "there"'))
    reimport("tapp")
    assert run(held, "hello") == "hello there\n"


def test_a_held_app_serves_an_added_command(project):
    held = project.module("tapp", APP).app
    project.edit("tapp", APP + '\n@app.command()\ndef new():\n    print("new")\n')
    reimport("tapp")
    assert run(held, "new") == "new\n"


def test_a_held_app_no_longer_serves_a_removed_command(project):
    held = project.module("tapp", APP).app
    project.edit("tapp", APP.replace('@app.command()\ndef bye():\n    print("bye")\n', ""))
    reimport("tapp")
    assert not serves(held, "bye")


def test_an_app_of_another_module_lists_a_reloaded_command_once(project):
    app = project.module("main", MAIN).app
    project.module("extra", EXTRA)
    project.edit("extra", EXTRA.replace('"a"', '"b"'))
    reimport("extra")
    assert [c.callback.__name__ for c in app.registered_commands] == ["root", "hi", "gone"]


def test_an_app_of_another_module_runs_a_reloaded_commands_new_default(project):
    app = project.module("main", MAIN).app
    project.module("extra", EXTRA)
    project.edit("extra", EXTRA.replace('"a"', '"b"'))
    reimport("extra")
    assert run(app, "hi") == "hi b\n"


def test_an_app_of_another_module_drops_a_command_the_reloaded_module_removed(project):
    app = project.module("main", MAIN).app
    project.module("extra", EXTRA)
    project.edit("extra", EXTRA.split("@app.command()\ndef gone")[0])
    reimport("extra")
    assert (serves(app, "gone"), run(app, "root")) == (False, "root\n")


def test_a_failed_edit_leaves_the_held_app_as_it_was(project):
    held = project.module("tapp", APP).app
    project.edit("tapp", APP + '\n@app.command()\ndef new():\n    print("new")\n\n1 / 0\n')
    with pytest.raises(ReloadError):
        reimport("tapp")
    assert (serves(held, "new"), run(held, "bye")) == (False, "bye\n")


def test_a_failed_edit_leaves_an_app_of_another_module_as_it_was(project):
    main = project.module("main", MAIN)
    project.module("extra", EXTRA)
    project.edit("extra", EXTRA + '\n@app.command()\ndef new():\n    print("new")\n\n1 / 0\n')
    with pytest.raises(ReloadError):
        reimport("extra")
    assert (serves(main.app, "new"), run(main.app, "hi")) == (False, "hi a\n")
