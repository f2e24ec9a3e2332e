"""What ``runner=`` may be, told apart without importing any concurrency machinery.

``serve()`` checks its argument on the caller's thread, where importing
asyncio or concurrent.futures just to refuse a typo would cost the host
milliseconds: an event loop or an executor can only exist if the app already
imported their modules.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself would cost the host milliseconds
if TYPE_CHECKING:
    from typing import Any


def kind(spec: Any) -> str:
    """``"thread"``, ``"poll"``, ``"loop"`` or ``"executor"``; ValueError/TypeError otherwise."""
    if isinstance(spec, str):
        if spec in ("thread", "poll"):
            return spec
        raise ValueError(
            f"unknown runner {spec!r}: expected 'thread', 'poll', an event loop or an executor"
        )
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(spec, asyncio.AbstractEventLoop):
        return "loop"
    futures = sys.modules.get("concurrent.futures")
    if futures is not None and isinstance(spec, futures.Executor):
        return "executor"
    raise TypeError(
        f"runner must be 'thread', 'poll', an asyncio event loop or an executor, not {type(spec).__name__}"
    )
