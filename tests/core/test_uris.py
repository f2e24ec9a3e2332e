"""``file://`` URIs ↔ paths: the one parser core, server and client share."""

from __future__ import annotations

import pytest

from reload_server.core.uris import path_to_uri, uri_to_path


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("file:///home/me/a%20b.py", "/home/me/a b.py"),
        ("file:///C:/Users/me/app.py", "C:/Users/me/app.py"),
        ("file:///c%3A/Users/me/app.py", "c:/Users/me/app.py"),
    ],
)
def test_uri_to_path(uri, path):
    assert uri_to_path(uri) == path


def test_path_to_uri_round_trips():
    assert uri_to_path(path_to_uri("/srv/app/x y#.py")) == "/srv/app/x y#.py"
