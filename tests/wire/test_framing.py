"""Content-Length framing: what is written reads back, however the bytes arrive."""

from __future__ import annotations

import pytest

from reload_server.wire.framing import MAX_BODY, FrameError, FrameReader, encode


def _frames(data: bytes, chunk: int | None = None) -> list[bytes]:
    """The bodies read from ``data`` fed ``chunk`` bytes at a time, then the end of stream."""
    reader = FrameReader()
    step = chunk or max(len(data), 1)
    frames = []
    for i in range(0, len(data), step):
        frames.extend(reader.feed(data[i : i + step]))
    if reader.error is not None:
        raise reader.error
    reader.close()
    return frames


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_frames_are_read_back_as_written_however_the_bytes_arrive(chunk):
    data = encode({"a": 1}) + b"\r\n" + encode({"b": "é"})
    assert _frames(data, chunk) == [b'{"a":1}', b'{"b":"\\u00e9"}']


def test_the_frames_before_a_framing_error_are_still_read():
    reader = FrameReader()
    assert reader.feed(encode({"a": 1}) + b"garbage\r\n\r\n" + encode({"b": 2})) == [b'{"a":1}']
    assert isinstance(reader.error, FrameError)
    assert reader.feed(encode({"c": 3})) == []


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1),
        b"Content-Length: abc\r\n\r\n{}",
        b"Content-Type: x\r\n\r\n{}",
        b"Content-Length: 10\r\n\r\n{}",
        b"Content-Len",
        b"garbage\r\n\r\n",
        b"X" * 9000,
    ],
    ids=[
        "oversized",
        "bad-length",
        "no-length",
        "truncated",
        "cut-header",
        "no-colon",
        "long-line",
    ],
)
def test_unreadable_frames_raise(data):
    with pytest.raises(FrameError):
        _frames(data)
