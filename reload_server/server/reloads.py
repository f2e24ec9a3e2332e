"""The reload jobs behind ``reloadPath`` and ``reloadStale``, free of any LSP.

Each job runs wherever the runner puts it (a worker thread, the app's loop, the
app's ``poll()``) and returns a wire-ready *ReloadOutcome* dict in app paths.
Jobs decide what to reload under the reimporter's process-wide lock, so no other
reload changes ``sys.modules`` while they look, but call ``reimport`` after
releasing it: ``reimport`` takes the lock itself and publishes its outcome to
listeners *after* releasing it, a promise an outer hold would break.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from ..core.results import ReloadError
from ..wire.outcome import outcome_dict, simple_outcome

Job = Callable[[], dict[str, Any]]


def reload_path_job(path: str, force: bool = False) -> Job:
    """A job reloading the loaded module(s) whose source is ``path`` (an absolute app path).

    Never imports anything new: a file that is no loaded module gives
    ``not_loaded``.  Without ``force``, a file unchanged since it was loaded
    gives ``unchanged``.
    """

    def job() -> dict[str, Any]:
        from ..core.staleness import is_stale
        from ..core.targets import modules_for_file
        from ..core.transaction import reimport, reload_lock

        with reload_lock:
            names = modules_for_file(path)
            # A source gone or no longer a file is no "unchanged": let the reimporter say why.
            # Cheapest first: an edited module is one stat.
            stale = force or any(is_stale(n) for n in names) or not os.path.isfile(path)
        if not names:
            return simple_outcome(
                "not_loaded",
                f"{path} is not the source of any loaded module; nothing reloaded",
                [path],
            )
        if not stale:
            return simple_outcome(
                "unchanged",
                f"{', '.join(names)} unchanged on disk since loaded; nothing reloaded",
                [path],
            )
        try:
            return outcome_dict(reimport(*names))
        except ReloadError as exc:
            return outcome_dict(exc)

    return job


def reload_stale_job(roots: Iterable[str] | None) -> Job:
    """A job reloading, in one transaction, every loaded module changed on disk under ``roots``.

    ``roots`` None means everywhere.  ``modified()`` never lists modules that
    cannot be reloaded in place (the program's ``__main__``, reload_server
    itself), so an edited main script does not fail the whole transaction.
    """
    roots = list(roots) if roots is not None else None

    def job() -> dict[str, Any]:
        from ..core.staleness import modified
        from ..core.transaction import reimport, reload_lock

        with reload_lock:
            if roots is None:
                reloadable = modified()
            else:
                reloadable = []
                for root in roots:
                    reloadable.extend(n for n in modified(root) if n not in reloadable)
        if not reloadable:
            data = simple_outcome("unchanged", "nothing changed on disk; nothing reloaded")
        else:
            try:
                data = outcome_dict(reimport(*reloadable))
            except ReloadError as exc:
                data = outcome_dict(exc)
        return data

    return job
