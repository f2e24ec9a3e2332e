"""``python -m reload_server``: the launcher, or one of the subcommands.

    python -m reload_server [--listen [HOST:]PORT] [options] (FILE | -m MODULE) [args...]
    python -m reload_server reload [options] (FILE... | --stale)
    python -m reload_server connect [HOST:PORT] [--token TOKEN]

The first runs a program with the reload server embedded (:mod:`.launcher`);
``reload`` asks running servers to reload (:mod:`.reload`); ``connect`` is a
stdio bridge for editors (:mod:`.connect`).  This module only chooses: each is
imported when chosen, so none pays for another's imports.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _reload(argv: list[str]) -> int:
    from .reload import reload_command

    return reload_command(argv)


def _connect(argv: list[str]) -> int:
    from .connect import main as connect

    return connect(argv)


# A first argument that names a subcommand; anything else starts the launcher.
SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {"reload": _reload, "connect": _connect}


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    from .launcher import launch

    return launch(argv)
