"""A reload's outcome on the wire: the *ReloadOutcome* object of docs/protocol.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core import report
from ..core.events import Outcome


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    """The wire ReloadOutcome for a reimporter outcome: its ``to_dict()`` with its words.

    The notes' messages as the user reads them, and ``message``, its one human
    line; both from :mod:`reload_server.core.report`, where every such text is made.
    """
    data = outcome.to_dict()
    data["notes"] = report.note_dicts(outcome)
    data["message"] = report.headline(outcome)
    return data


def simple_outcome(status: str, message: str, files: Iterable[str] = ()) -> dict[str, Any]:
    """A ReloadOutcome for a request that never reached the reimporter."""
    return {
        "status": status,
        "modules": [],
        "files": list(files),
        "durationMs": 0.0,
        "message": message,
        "notes": [],
    }


def fleet_outcome(outcome: Outcome, local: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wire ReloadOutcome of a fleet reload (docs/protocol.md, "Many processes").

    ``outcome`` is the coordinator's ReloadResult or ReloadError, whose
    ``processes`` name every process, this one first; ``local`` is this
    process's own outcome when it had nothing to reload (``unchanged``,
    ``not_loaded``), which then speaks for it.  ``status`` is ``failed`` when
    the reload failed (in every process: nothing changed anywhere),
    ``reloaded`` when any process reloaded, else this process's; ``message``
    ends with a tally of the processes.
    """
    data = outcome_dict(outcome)
    items = data.get("processes", [])
    if len(items) < 2:
        # Every other process exited meanwhile: a single process's outcome, as documented.
        data.pop("processes", None)
        return local if local is not None else data
    if local is not None:
        items[0] = {**items[0], "status": local["status"], "message": local["message"]}
    if not outcome.ok:
        # Already "pid N: <that process's headline>": the process that failed speaks.
        data["message"] = outcome.message  # type: ignore[attr-defined]
        data["message"] += f" ({len(items)} processes: none reloaded)"
        return data
    reloaded = [item for item in items if item["status"] == "reloaded"]
    if reloaded:
        modules: list[str] = []
        for item in reloaded:
            modules.extend(m for m in item["modules"] if m not in modules)
        data["status"] = "reloaded"
        data["modules"] = modules
        data["message"] = f"reloaded {', '.join(modules)} in {outcome.duration * 1000:.1f} ms"
    elif local is not None:
        data.update(status=local["status"], message=local["message"], files=local["files"])
    data["message"] += f" ({len(items)} processes: {report.tally(items)})"
    return data
