"""Reload a Dask cluster's workers with this process, all or nothing.

``install(client)`` once, and every later reload in this process reaches every
worker; ``reimport(client, *modules)`` does one such reload explicitly.  See
docs/distributed.md.  Importing this module imports ``distributed``;
``import reload_server`` never does.
"""

from __future__ import annotations

from .engines.dask import DaskMember, ReloadPlugin, install, reimport, uninstall

__all__ = ["DaskMember", "ReloadPlugin", "install", "reimport", "uninstall"]
