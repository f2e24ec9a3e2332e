"""Where things are: the repository, its examples, the test programs, this interpreter."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
# Programs the tests run as apps (support/programs/); never imported by the tests.
PROGRAMS = Path(__file__).resolve().parent / "programs"
PYTHON = sys.executable
