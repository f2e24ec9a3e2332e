"""click: the command and group objects held from before a reload run the new code (adapters/click.py)."""

from __future__ import annotations

import py_compile

import pytest
from click.testing import CliRunner

from reload_server import ReloadError, reimport

COMMANDS = """
import click

@click.group()
def cli():
    pass

@cli.command()
@click.option("--name", default="world")
def hello(name):
    click.echo(f"hello {name}")

@cli.command()
def bye():
    click.echo("bye")
"""


def run(command, *args: str) -> str:
    result = CliRunner().invoke(command, list(args))
    return result.output


def test_a_held_command_runs_its_edited_body(project):
    held = project.module("cmds", COMMANDS).hello
    project.edit("cmds", COMMANDS.replace('f"hello {name}"', 'f"hi {name}"'))
    reimport("cmds")
    assert run(held) == "hi world\n"


def test_a_held_command_takes_an_added_option(project):
    held = project.module("cmds", COMMANDS).hello
    project.edit(
        "cmds",
        COMMANDS.replace(
            '@click.option("--name", default="world")\ndef hello(name):\n'
            '    click.echo(f"hello {name}")',
            '@click.option("--name", default="world")\n@click.option("--loud", is_flag=True)\n'
            'def hello(name, loud):\n    click.echo(f"hello {name}" + ("!" if loud else ""))',
        ),
    )
    reimport("cmds")
    assert run(held, "--loud") == "hello world!\n"


def test_a_held_command_uses_a_changed_default(project):
    held = project.module("cmds", COMMANDS).hello
    project.edit("cmds", COMMANDS.replace('default="world"', 'default="there"'))
    reimport("cmds")
    assert run(held) == "hello there\n"


def test_a_held_command_shows_its_new_help(project):
    held = project.module("cmds", COMMANDS).hello
    project.edit(
        "cmds", COMMANDS.replace("def hello(name):\n", 'def hello(name):\n    """Greets."""\n')
    )
    reimport("cmds")
    assert "Greets." in run(held, "--help")


def test_a_held_group_serves_an_added_subcommand(project):
    held = project.module("cmds", COMMANDS).cli
    project.edit("cmds", COMMANDS + '\n@cli.command()\ndef new():\n    click.echo("new")\n')
    reimport("cmds")
    assert run(held, "new") == "new\n"


def test_a_held_group_no_longer_serves_a_removed_subcommand(project):
    held = project.module("cmds", COMMANDS).cli
    project.edit("cmds", COMMANDS.split("@cli.command()\ndef bye")[0])
    reimport("cmds")
    assert "No such command 'bye'" in run(held, "bye")


def test_a_group_of_another_module_drops_a_subcommand_the_reloaded_module_removed(project):
    app = project.module("app", "import click\n\n@click.group()\ndef cli():\n    pass\n")
    extra = """
from app import cli
import click

@cli.command()
def hi():
    click.echo("hi")

@cli.command()
def gone():
    click.echo("gone")
"""
    project.module("extra", extra)
    # Which names the imported version bound is read from its .pyc (this suite
    # runs with PYTHONDONTWRITEBYTECODE, so it is written here).
    py_compile.compile(
        str(project.path("extra.py")), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
    )
    held = app.cli
    project.edit("extra", extra.split("@cli.command()\ndef gone")[0])
    reimport("extra")
    assert ("No such command 'gone'" in run(held, "gone"), run(held, "hi")) == (True, "hi\n")


def test_a_failed_edit_leaves_the_held_command_as_it_was(project):
    held = project.module("cmds", COMMANDS).cli
    project.edit(
        "cmds",
        COMMANDS.replace('default="world"', 'default="there"') + "\nraise RuntimeError('no')\n",
    )
    with pytest.raises(ReloadError):
        reimport("cmds")
    assert (run(held, "hello"), run(held, "bye")) == ("hello world\n", "bye\n")


def test_a_failed_edit_leaves_a_group_of_another_module_as_it_was(project):
    app = project.module("app", "import click\n\n@click.group()\ndef cli():\n    pass\n")
    extra = 'from app import cli\nimport click\n\n@cli.command()\ndef hi():\n    click.echo("hi")\n'
    project.module("extra", extra)
    project.edit("extra", extra.replace('"hi"', '"hey"') + "\nraise RuntimeError('no')\n")
    with pytest.raises(ReloadError):
        reimport("extra")
    assert run(app.cli, "hi") == "hi\n"
