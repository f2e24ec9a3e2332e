"""Whether this run is a CI run, and what a test does when a tool it needs is missing.

The rule is defined here once: ``tests/conftest.py`` holds a CI run to the
whole, unskipped suite with :func:`in_ci`, and the editor tests, which need
programs a developer may not have (Neovim, Emacs, Node, code-server,
Chromium), go through :func:`missing`.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """``CI`` is set to anything but ``""``, ``0``, ``false`` or ``no``: the environment alone decides."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(problem: str) -> NoReturn:
    """A tool the test needs is not here: FAIL under CI (which must run every test), skip elsewhere."""
    if in_ci():
        pytest.fail(f"CI must run this test: {problem}", pytrace=False)
    pytest.skip(problem)
