"""Engines that carry a fleet reload to other processes through their own channels.

Each module here is imported only when its engine is used (``reload_server.dask``,
``reload_server.celery``), never by ``import reload_server``, and imports its
framework itself.
"""
