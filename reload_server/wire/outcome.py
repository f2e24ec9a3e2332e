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
