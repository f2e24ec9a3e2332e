"""When each module was imported, for telling an edit after import from one before.

A finder at the front of ``sys.meta_path`` notes the time an import starts and
then steps aside (it never finds anything), so it costs a dict store per import.
Modules imported before ``reload_server`` have no entry; staleness falls back
to the process start time for them.  Nothing else runs at import time: what a
module's code binds and copies is read from its file only when a reload needs it.
"""

from __future__ import annotations

import sys
import time

started_ns: dict[str, int] = {}
# When the clock was installed: the fallback for "when did this process start".
installed_ns = time.time_ns()


class _ImportClock:
    """Records the start time of every import; finds nothing itself."""

    @staticmethod
    def find_spec(name, path=None, target=None):  # noqa: ARG004 - finder protocol
        started_ns[name] = time.time_ns()
        return None

    @staticmethod
    def invalidate_caches() -> None:
        pass


def install() -> None:
    if not any(isinstance(f, _ImportClock) for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportClock())
