"""%load_ext reload_server in a real IPython shell."""

from __future__ import annotations

import pytest


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "reload_server")
    yield sh
    sh.run_line_magic("unload_ext", "reload_server")
    InteractiveShell.clear_instance()


def test_cell_sees_a_module_edited_since_the_last_cell(project, shell):
    project.module("m", "def f(): return 1\n")
    shell.run_cell("import m\nheld = m.f")
    project.edit("m", "def f(): return 2\n")
    shell.run_cell("result = (m.f(), held())")
    assert shell.user_ns["result"] == (2, 2)


def test_broken_edit_leaves_the_old_code_and_says_where(project, shell, capsys):
    project.module("m", "def f(): return 1\n")
    shell.run_cell("import m")
    path = project.edit("m", "def f(): return 2\nraise RuntimeError('half done')\n")
    shell.run_cell("result = m.f()")
    assert shell.user_ns["result"] == 1
    err = capsys.readouterr().err
    assert "RuntimeError: half done" in err
    assert f"{path}:2" in err


def test_reimport_magic_reloads_by_name(project, shell):
    project.module("m", "def f(): return 1\n")
    shell.run_cell("import m")
    shell.run_line_magic("reimport", "off")
    project.edit("m", "def f(): return 2\n")
    shell.run_cell("before = m.f()")
    shell.run_line_magic("reimport", "m")
    shell.run_cell("after = m.f()")
    assert (shell.user_ns["before"], shell.user_ns["after"]) == (1, 2)
