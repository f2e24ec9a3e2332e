"""Shared test support, one module per kind of thing a test needs.

- :mod:`support.waits`: THE way to wait (``wait_until``, ``wait_until_async``, ``TIMEOUT``).
- :mod:`support.paths`: where the repository, its examples and the test programs are.
- :mod:`support.sources`: writing and editing source files as an editor saves them.
- :mod:`support.apps`: every way a test starts a real app process (the editor
  tests' app that says what its code says in a loop, :class:`~support.apps.LoopingApp`, too).
- :mod:`support.ci`: whether this is a CI run, and failing (CI) or skipping for a missing tool.
- :mod:`support.editor`: the pygls test editor (a real LSP client over TCP).
- :mod:`support.raw`: the raw-socket client, for bytes no real client would send.
- :mod:`support.dap`: a Debug Adapter Protocol client, to drive a real debugpy.
- :mod:`support.probes`: questions to a running app: is its module intact, is its server alive.
- :mod:`support.tally`: how much the reliability tests tried, printed at the end of a run.
- :mod:`support.emacs`: real Emacs (eglot) driven against a real app (the editor tests').
- ``support/programs/``: the programs those apps run (scripts, not imported).
"""
