"""A reload's outcome on the wire: the *ReloadOutcome* object of docs/protocol.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.events import Outcome
from ..core.results import ReloadError, ReloadResult


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    """The wire ReloadOutcome for a reimporter outcome: its ``to_dict()`` plus ``message``."""
    data = outcome.to_dict()
    if isinstance(outcome, ReloadResult):
        text = str(outcome)
        data["message"] = text.splitlines()[0] if text else "nothing to reload"
    elif isinstance(outcome, ReloadError):
        # Name what failed: the note alone ("SyntaxError: …") does not say which module.
        what = ", ".join(outcome.modules) or "reload"
        data["message"] = f"{what} not reloaded: {outcome.message}"
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
