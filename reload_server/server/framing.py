"""The LSP base protocol's framing: ``Content-Length`` headers, then a JSON body.

pygls's own reader (``pygls.io_.run_async``) drops unparsable bodies silently and
has no size limit; inside someone else's process we want a hard limit and a
JSON-RPC error for a body that is not JSON, so the server reads frames itself
and hands parsed messages to the pygls protocol.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

MAX_BODY = 16 * 1024 * 1024
MAX_HEADER_LINE = 8 * 1024
MAX_HEADERS = 32


class FrameError(Exception):
    """The stream cannot be read as LSP frames any more; the connection must close."""


def encode(message: Any) -> bytes:
    """One framed message (ASCII JSON, so ``Content-Length`` counts bytes correctly)."""
    body = json.dumps(message, separators=(",", ":")).encode("ascii")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_BODY) -> bytes | None:
    """The next message body, or None at a clean end of stream (between frames).

    Raises :class:`FrameError` for a bad or oversized header, or a stream that
    ends inside a frame.
    """
    # Imported here so the command-line client, which only needs encode(), starts fast.
    import asyncio

    length: int | None = None
    count = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial and count == 0:
                return None
            raise FrameError("connection closed inside a message header") from None
        except asyncio.LimitOverrunError:
            raise FrameError("header line too long") from None
        count += 1
        if len(line) > MAX_HEADER_LINE or count > MAX_HEADERS:
            raise FrameError("header too long")
        line = line.rstrip(b"\r\n")
        if not line:
            if length is None:
                if count == 1:
                    # Tolerate stray blank lines between messages.
                    count = 0
                    continue
                raise FrameError("message header without Content-Length")
            break
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
            if length > limit:
                raise FrameError(f"Content-Length {length} is over the limit of {limit} bytes")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise FrameError("connection closed inside a message body") from None
