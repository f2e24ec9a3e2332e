"""How much the reliability tests tried, printed at the end of the run (tests/reliability/conftest.py)."""

from __future__ import annotations

COUNTS: dict[str, int] = {}


def count(kind: str, n: int = 1) -> None:
    """Add ``n`` to the tally of ``kind`` (say, "fuzz inputs")."""
    COUNTS[kind] = COUNTS.get(kind, 0) + n
