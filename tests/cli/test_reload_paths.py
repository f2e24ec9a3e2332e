"""``python -m reload_server reload FILE``: a FILE that does not exist is an error, not "nothing"."""

from __future__ import annotations

from support.apps import cli
from support.sources import GREETING, GREETING_V2


def test_a_file_that_does_not_exist_exits_2_and_says_so(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])

    result = cli("src/no/such/file.py", cwd=app.root)

    assert result.returncode == 2
    assert "file does not exist: src/no/such/file.py" in result.stderr
    assert result.stdout == ""


def test_one_missing_file_among_several_reloads_none(make_app):
    app = make_app({"greeting.py": GREETING}, ["greeting"])
    app.write("greeting.py", GREETING_V2)

    result = cli("src/greeting.py", "src/typo.py", cwd=app.root)

    assert result.returncode == 2
    assert "file does not exist: src/typo.py" in result.stderr
    assert app.eval("greeting.greet()") == "hello"
