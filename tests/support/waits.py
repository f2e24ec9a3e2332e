"""The one way tests wait: for an event or a condition, never for a fixed time."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Generous by default: these machines are shared and may be loaded; a wait that
# is met returns at once, so only a failing test pays the full timeout.
TIMEOUT = float(os.environ.get("RELOAD_SERVER_TEST_TIMEOUT", "30"))


def wait_until(
    predicate: Callable[[], T],
    timeout: float = TIMEOUT,
    what: str | Callable[[], str] = "",
    interval: float = 0.02,
    wake: Callable[[float], Any] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that.

    Between checks it sleeps ``interval`` seconds, or, given ``wake``, calls
    ``wake(seconds)``: a blocking call that returns as soon as something the
    predicate looks at may have changed (say, a new output line), or after that
    many seconds.  Raises ``AssertionError`` naming ``what`` when ``timeout``
    seconds pass first; ``predicate`` may raise one itself to give up early
    (say, when no new output can come).  ``what`` may be a function, called
    only then, so that the message shows the state at the timeout (what the
    screen reads, say) rather than at the call.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"not within {timeout:g} s: {_said(what) or predicate}")
        if wake is not None:
            wake(min(remaining, 0.2))
        else:
            time.sleep(min(remaining, interval))


def _said(what: str | Callable[[], str]) -> str:
    return what() if callable(what) else what


async def wait_until_async(
    predicate: Callable[[], T],
    timeout: float = TIMEOUT,
    what: str = "",
    wake: Callable[[], Awaitable[Any]] | None = None,
    interval: float = 0.02,
) -> T:
    """The same on an event loop: re-checks after ``wake()`` (say, the next
    notification) or every ``interval`` seconds, whichever comes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"not within {timeout:g} s: {what or predicate}")
        step = min(remaining, 0.2 if wake is not None else interval)
        try:
            if wake is not None:
                await asyncio.wait_for(wake(), step)
            else:
                await asyncio.sleep(step)
        except asyncio.TimeoutError:
            pass
