"""The launcher's switches: parsed up to the program, whose own arguments are left alone."""

from __future__ import annotations

import pytest

from reload_server.cli.launcher import parse_launch


def usage_error(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        parse_launch(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


def test_parsing_stops_at_the_program():
    opts = parse_launch(["--listen", "0", "app.py", "--listen", "9", "-m", "x", "--watch"])

    assert (opts.listen, opts.program) == ("0", "app.py")
    assert opts.args == ["--listen", "9", "-m", "x", "--watch"]
    assert opts.watch is None


def test_dash_m_takes_the_module_and_leaves_the_rest_to_it():
    opts = parse_launch(["--no-discovery", "-m", "pkg", "-m", "other", "--token", "t"])

    assert (opts.module, opts.program, opts.discovery) == ("pkg", None, False)
    assert opts.args == ["-m", "other", "--token", "t"]


def test_double_dash_makes_the_next_argument_the_program():
    opts = parse_launch(["--", "-odd-name.py", "a"])

    assert (opts.program, opts.args) == ("-odd-name.py", ["a"])


def test_switch_equals_value_is_the_same_as_two_arguments():
    assert vars(parse_launch(["--listen=1:2", "--token=t", "--root=r", "a.py"])) == vars(
        parse_launch(["--listen", "1:2", "--token", "t", "--root", "r", "a.py"])
    )


def test_roots_and_watches_add_up():
    opts = parse_launch(["--root", "a", "--root", "b", "--watch=x", "--watch=y", "app.py"])

    assert (opts.roots, opts.watch) == (["a", "b"], ["x", "y"])


def test_watch_takes_a_directory_only_when_a_program_follows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "app").mkdir()

    assert parse_launch(["--watch", "src", "app.py"]).watch == ["src"]
    # A file, or a directory that must be the program: --watch takes the default.
    assert parse_launch(["--watch", "app.py", "x"]).watch == []
    last = parse_launch(["--watch", "app"])
    assert (last.watch, last.program) == ([], "app")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--listen"], "--listen needs a value"),
        (["-m"], "-m needs a value"),
        (["--"], "no program after --"),
        (["--frobnicate", "app.py"], "unknown option --frobnicate"),
        (["--frobnicate=1", "app.py"], "unknown option --frobnicate"),
        (["--no-discovery"], "no program to run: give a script or -m MODULE"),
    ],
)
def test_usage_errors_exit_2_with_the_usage(argv, message, capsys):
    assert usage_error(*argv, capsys=capsys) == f"python -m reload_server: error: {message}"


def test_help_exits_0_and_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as info:
        parse_launch(["--allow-remote", "--help", "app.py"])

    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m reload_server")
