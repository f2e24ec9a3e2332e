"""The server's own JSON-RPC errors, raised by request handlers and sent to the client."""

from __future__ import annotations

from pygls.exceptions import JsonRpcException

from ..wire.codes import PATH_NOT_ALLOWED, UNAUTHORIZED


class Unauthorized(JsonRpcException):
    """``initialize`` without the server's token: the connection closes after the reply."""

    CODE = UNAUTHORIZED
    MESSAGE = "Unauthorized"


class PathNotAllowed(JsonRpcException):
    """A path outside the roots given to ``serve()``."""

    CODE = PATH_NOT_ALLOWED
    MESSAGE = "PathNotAllowed"
