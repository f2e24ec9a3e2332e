"""Running reloads inside programs of every shape, without an editor.

- ``runners``: where a reload runs (a thread, the app's event loop, ``poll()``).
- ``runner_kind``: telling ``runner=`` values apart without importing asyncio.
- ``debuggers``: keeping the threads that run reloads out of a debugger's reach.
- ``watcher``: reload on file-system events.
- ``ipython``: ``%load_ext reload_server``.
"""
