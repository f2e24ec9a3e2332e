"""Reload every worker of a Celery app, all or nothing: ``reload_server.celery.install(app)``.

See docs/distributed.md.  The implementation is :mod:`reload_server.engines.celery`;
importing this module imports Celery, which ``import reload_server`` never does.
"""

from __future__ import annotations

from .engines.celery import CeleryWorkers, install, reimport

__all__ = ["CeleryWorkers", "install", "reimport"]
