"""Listen addresses: parsing and loopback detection."""

from __future__ import annotations

import pytest

from reload_server.wire.addresses import is_loopback, parse_address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (8765, ("127.0.0.1", 8765)),
        ("8765", ("127.0.0.1", 8765)),
        ("0.0.0.0:1", ("0.0.0.0", 1)),
        ("[::1]:9", ("::1", 9)),
        (("localhost", 0), ("localhost", 0)),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", [70000, "host:port", True, ("h", "1")])
def test_parse_address_rejects(address):
    with pytest.raises((ValueError, TypeError)):
        parse_address(address)


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("")
