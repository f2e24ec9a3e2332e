"""The "reload_server" logger, fetched on first use.

Modules that run on the host's thread at ``serve()`` use this instead of
``logging.getLogger`` at import: importing logging costs the host milliseconds,
and most of these modules only log when something goes wrong.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself would cost the host milliseconds
if TYPE_CHECKING:
    from typing import Any


class LazyLogger:
    def __getattr__(self, name: str) -> Any:
        import logging

        return getattr(logging.getLogger("reload_server"), name)


log = LazyLogger()
