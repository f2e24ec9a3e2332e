"""Real Emacs (batch mode, eglot) drives a real app through the recipes of docs/editors.md.

Under CI these tests must run: without emacs or eglot they fail, they do not skip.
"""

from __future__ import annotations

import pytest
from support.apps import LoopingApp
from support.emacs import BROKEN_LINE, EmacsSession, recipe, require_emacs

RECIPES = ["eglot over TCP", "eglot with the bridge"]


@pytest.fixture
def emacs() -> str:
    return require_emacs()


@pytest.fixture
def app(tmp_path):
    app = LoopingApp(tmp_path / "proj").start()
    yield app
    app.stop()


def with_port(text: str, port: int) -> str:
    """A recipe as written in the docs (port 8765), for the app's real port."""
    assert "8765" in text
    return text.replace("8765", str(port))


@pytest.mark.parametrize("title", RECIPES)
def test_saves_reload_the_app_and_a_broken_save_is_a_flymake_diagnostic(
    title, emacs, app, tmp_path
):
    text = recipe(title)
    if "8765" in text:
        text = with_port(text, app.port)
    session = EmacsSession(emacs, tmp_path / "emacs", app, text)
    try:
        attached = session.wait_event("attached")
        assert attached["options"] == {"reloadOnSave": True}
        assert attached["server"] == "reload_server"

        session.wait_event("saved")
        app.wait_behaviour("hello 2")
        session.go(1)

        diagnostics = session.wait_event("diagnostics")["diagnostics"]
        assert [d["line"] for d in diagnostics] == [BROKEN_LINE], diagnostics
        assert "SyntaxError" in diagnostics[0]["text"]
        assert app.fresh_behaviour() == "hello 2"
        session.go(2)

        session.wait_event("cleared")
        app.wait_behaviour("hello 3")
        session.go(3)
        assert session.finish() == 0
    finally:
        session.kill()


def test_the_host_port_form_drops_initialization_options(emacs, app, tmp_path):
    """The trap docs/editors.md warns about: eglot's ("host" port ...) form
    hands everything after the port to open-network-stream."""
    text = with_port(recipe("eglot over TCP, the form that drops initializationOptions"), app.port)
    session = EmacsSession(emacs, tmp_path / "emacs", app, text, mode="attach")
    try:
        attached = session.wait_event("attached")
        assert attached["server"] == "reload_server"
        assert attached["options"] == {}
        assert session.finish() == 0
    finally:
        session.kill()
