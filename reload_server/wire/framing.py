"""The LSP base protocol's framing: ``Content-Length`` headers, then a JSON body.

pygls's own reader (``pygls.io_.run_async``) drops unparsable bodies silently and
has no size limit; inside someone else's process we want a hard limit and a
JSON-RPC error for a body that is not JSON, so the server reads frames itself
and hands parsed messages to the pygls protocol.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY = 16 * 1024 * 1024
MAX_HEADER_LINE = 8 * 1024
MAX_HEADERS = 32


class FrameError(Exception):
    """The stream cannot be read as LSP frames any more; the connection must close."""


def encode(message: Any) -> bytes:
    """One framed message (ASCII JSON, so ``Content-Length`` counts bytes correctly)."""
    body = json.dumps(message, separators=(",", ":")).encode("ascii")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class FrameReader:
    """Splits the bytes of one connection into message bodies, as they arrive.

    Incremental and synchronous, so a connection's ``data_received`` handles
    every complete message at once, in the same turn of the event loop.
    """

    def __init__(self, limit: int = MAX_BODY) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._length: int | None = None  # Content-Length read so far in this header
        self._lines = 0  # header lines read so far in this header
        self._body: int | None = None  # the body length, once the header ended
        # Why the stream cannot be read any further, once it cannot.
        self.error: FrameError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """The bodies completed by ``data``.  After a framing error, those read before it,
        and :attr:`error` is set: nothing more is read."""
        if self.error is not None:
            return []
        self._buffer += data
        bodies: list[bytes] = []
        try:
            while self._step(bodies):
                pass
        except FrameError as exc:
            self.error = exc
            self._buffer.clear()
        return bodies

    def close(self) -> None:
        """The stream ended: raises :class:`FrameError` if it ended inside a message."""
        if self.error is not None:
            return
        if self._body is not None:
            raise FrameError("connection closed inside a message body")
        if self._lines or self._buffer.strip(b"\r\n"):
            raise FrameError("connection closed inside a message header")

    def _step(self, bodies: list[bytes]) -> bool:
        """Consume one header line or one body; False when more bytes are needed."""
        buffer = self._buffer
        if self._body is not None:
            if len(buffer) < self._body:
                return False
            bodies.append(bytes(buffer[: self._body]))
            del buffer[: self._body]
            self._body = self._length = None
            self._lines = 0
            return True
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > MAX_HEADER_LINE:
                raise FrameError("header line too long")
            return False
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        self._lines += 1
        if len(line) > MAX_HEADER_LINE or self._lines > MAX_HEADERS:
            raise FrameError("header too long")
        line = line.rstrip(b"\r\n")
        if not line:
            if self._length is None:
                if self._lines == 1:
                    self._lines = 0  # tolerate stray blank lines between messages
                    return True
                raise FrameError("message header without Content-Length")
            self._body = self._length
            return True
        name, sep, value = line.partition(b":")
        if not sep:
            raise FrameError(f"malformed header line {line[:80]!r}")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise FrameError(f"bad Content-Length {value[:40]!r}") from None
            if length < 0:
                raise FrameError("negative Content-Length")
            if length > self._limit:
                raise FrameError(
                    f"Content-Length {length} is over the limit of {self._limit} bytes"
                )
            self._length = length
        return True
