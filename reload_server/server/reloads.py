"""The reload jobs behind ``reloadPath``, ``reloadStale`` and a fleet reload's parts, free of any LSP.

Each job runs wherever the runner puts it (a worker thread, the app's loop, the
app's ``poll()``) and returns a wire-ready *ReloadOutcome* dict in app paths.
Jobs decide what to reload under the reimporter's process-wide lock, so no other
reload changes ``sys.modules`` while they look, but call ``reimport`` after
releasing it: ``reimport`` takes the lock itself and publishes its outcome to
listeners *after* releasing it, a promise an outer hold would break.

With sibling processes (members, see :mod:`.fanout`), the ``reloadPath`` and
``reloadStale`` jobs coordinate a fleet reload: prepared here and in every
sibling, then committed everywhere or nowhere.  :func:`part_job` is a
sibling's side of it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core import report
from ..core.results import ReloadError, result_from_dict
from ..wire.outcome import fleet_outcome, outcome_dict, simple_outcome

Job = Callable[[], dict[str, Any]]


def reload_path_job(path: str, force: bool = False, others: Sequence[Any] = ()) -> Job:
    """A job reloading the loaded module(s) whose source is ``path`` (an absolute app path).

    Never imports anything new: a file that is no loaded module gives
    ``not_loaded``.  Without ``force``, a file unchanged since it was loaded
    gives ``unchanged``; with it, the module's whole body runs again (what
    forcing the reload of an unchanged file asks for).  With ``others`` (fleet members), the reload is
    theirs too, all or nothing, even when there is nothing to reload here.
    """

    def job() -> dict[str, Any]:
        from ..core.staleness import is_stale
        from ..core.targets import modules_for_file
        from ..core.transaction import reload_lock

        with reload_lock:
            names = modules_for_file(path)
            # A source gone or no longer a file is no "unchanged": let the reimporter say why.
            # Cheapest first: an edited module is one stat.
            stale = force or any(is_stale(n) for n in names) or not os.path.isfile(path)
        skipped = None
        if not names:
            skipped = simple_outcome(
                "not_loaded",
                f"{path} is not the source of any loaded module; nothing reloaded",
                [path],
            )
        elif not stale:
            skipped = simple_outcome(
                "unchanged",
                f"{', '.join(names)} unchanged on disk since loaded; nothing reloaded",
                [path],
            )
        return _reload([] if skipped else names, others, skipped, full=force)

    return job


def reload_stale_job(roots: Iterable[str] | None, others: Sequence[Any] = ()) -> Job:
    """A job reloading, in one transaction, every loaded module changed on disk under ``roots``.

    ``roots`` None means everywhere.  ``modified()`` never lists modules that
    cannot be reloaded in place (the program's ``__main__``, reload_server
    itself), so an edited main script does not fail the whole transaction.
    """
    roots = list(roots) if roots is not None else None

    def job() -> dict[str, Any]:
        from ..core.transaction import reload_lock

        with reload_lock:
            reloadable = _modified(roots)
        skipped = None
        if not reloadable:
            skipped = simple_outcome("unchanged", "nothing changed on disk; nothing reloaded")
        return _reload(reloadable, others, skipped)

    return job


def _modified(roots: list[str] | None) -> list[str]:
    from ..core.staleness import modified

    if roots is None:
        return modified()
    found: list[str] = []
    for root in roots:
        found.extend(n for n in modified(root) if n not in found)
    return found


def _reload(
    names: list[str], others: Sequence[Any], skipped: dict[str, Any] | None, full: bool = False
) -> dict[str, Any]:
    from ..core import members
    from ..core.fleet import reimport_across
    from ..core.transaction import reimport

    if not others:
        if skipped is not None:
            return skipped
        try:
            return outcome_dict(reimport(*names, full=full))
        except ReloadError as exc:
            return outcome_dict(exc)
    try:
        # Members joined through core.fleet.join (a Dask client, say) take part as well.
        result = reimport_across(names, [*others, *members.current()], full=full)
    except ReloadError as exc:
        return fleet_outcome(exc)
    return fleet_outcome(result, skipped)


def part_job(
    reload_id: str,
    modules: list[str],
    selection: dict[str, Any],
    expires: float,
    cancelled: Callable[[], bool],
) -> Job:
    """A sibling's part of a fleet reload another process coordinates (``reloadServer/prepare``).

    Reloads the coordinator's ``modules`` loaded here and what ``selection``
    names in this process's terms (see :class:`.fanout.Sibling`), skipping,
    unless forced, modules unchanged on disk since this process loaded them.
    Prepares them, then holds this thread (the app's reload thread) until
    the decision or ``expires`` (a ``time.monotonic()`` value), and returns the
    final outcome as the core made it (see :func:`part_answer`).  ``cancelled()`` true (the coordinator aborted before this
    job started) means nothing is prepared.
    """

    def job() -> dict[str, Any]:
        from ..core import fleet
        from ..core.transaction import reload_lock

        remaining = expires - time.monotonic()
        if cancelled() or remaining <= 0:
            why = "aborted" if cancelled() else "the deadline passed"
            return {
                "status": "failed",
                "phase": "abort" if cancelled() else "deadline",
                "message": f"{fleet.local_name()}: {why} before this process could prepare",
                "modules": [],
                "notes": [],
            }
        with reload_lock:
            names = _part_targets(modules, selection)
        # As in a single process, a forced reload runs whole.
        full = bool(selection.get("full") or selection.get("force"))
        return fleet.hold(reload_id, names, {}, remaining, full)

    return job


def _part_targets(modules: list[str], selection: dict[str, Any]) -> list[str]:
    from ..core.staleness import is_stale
    from ..core.targets import modules_for_file

    force = bool(selection.get("force"))
    names = [m for m in modules if m in sys.modules]
    path = selection.get("path")
    if path is not None:
        names.extend(n for n in modules_for_file(path) if n not in names)
    stale = selection.get("stale")
    if isinstance(stale, dict):
        names.extend(n for n in _modified(stale.get("roots")) if n not in names)
    # A module this process already runs from its file (it reloaded it on its own) stays.
    return names if force else [n for n in names if is_stale(n)]


def part_answer(raw: dict[str, Any], final: bool) -> dict[str, Any]:
    """A participant's outcome dict (``core.fleet``'s) as sent back to the coordinator.

    ``"prepared"`` goes as it is.  Else the process's headline becomes the
    ``message``; a *final* outcome (``reloadServer/finish``) is a whole wire
    ReloadOutcome, while a failed *prepare* keeps its notes as the core made
    them: the coordinator tells them, once, in its own outcome.
    """
    if raw.get("status") == "prepared":
        return raw
    outcome = result_from_dict(raw)
    if final:
        return outcome_dict(outcome)
    return {**raw, "message": report.headline(outcome)}
