"""The transaction: reload modules all or nothing, and make old references run the new code.

Imports nothing else of the package and no sockets; its only threads wait on
other processes during a fleet reload.

- ``transaction``: ``reimport()`` and ``prepare()``: resolve, compile, run, check, commit or roll back.
- ``targets``: which modules a name, module or file means, and which may be reloaded.
- ``sources``: reading and compiling a module's new source; what its code binds.
- ``fleet`` / ``members`` / ``shipped``: one reload across processes (prepare, then
  commit or abort everywhere), who takes part, and source text shipped to them.
- ``statements``: which top-level statements changed, and what of a module to run again.
- ``excerpt``: the statements a reload runs, cut out of the compiled module code.
- ``bodyedit``: an edit inside one function body, its new code made without compiling the file.
- ``ordering``: the order a restart would run modules in.
- ``merge``: old functions, classes and instances take on the new code.
- ``graveyard``: functions and classes an edit removed, revived when an edit restores them.
- ``rebase``: what reference counts prove after a merge (discarded classes, replaced objects).
- ``references``: ``from m import x`` copies and the heap fallback.
- ``values``: the ``MISSING`` sentinel and the value kinds the others treat alike.
- ``uris``: the one ``file://`` URI parser.
- ``staleness`` / ``importclock``: which loaded modules changed on disk since loaded.
- ``results`` / ``events``: outcomes as values, and who hears of them.
- ``log``: the package's logger, fetched on first use.
"""
