"""The transactional reimporter: all targets reload, or none does.

Phases, each finishing before the next starts:

1. resolve the targets (:mod:`.targets`);
2. read and compile every target's new source (:mod:`.sources`): a SyntaxError
   stops here and nothing has changed;
3. order them as a restart would run them (:mod:`.ordering`);
4. call ``__unimport__()`` on the old modules;
5. run what changed of each module (:mod:`.statements`: edited bodies put into the
   live functions, changed statements and those that depend on them), or its
   whole new code as :func:`importlib.reload`
   does — so state kept with ``try: cache except NameError`` survives — after
   taking a shallow snapshot of that namespace; then the optional
   ``__reload_check__(module)`` hook.  Any exception (``SystemExit`` and
   ``KeyboardInterrupt`` included) restores every namespace from its snapshot,
   gives functions edited in place their old code back, restores
   parent-package attributes, and drops modules the attempt imported
   for the first time: the old code keeps running, untouched;
6. commit, in the steps ``_Transaction._commit`` lists (each a method of
   ``_Commit``): per module its ``__reimported__(old)`` hook, the merge of new
   objects into old ones (:mod:`.merge`), a name an earlier edit removed into
   the object it removed (:mod:`.graveyard`), of new functions no name holds
   into their old selves (:mod:`.unnamed`) and the removal of names the new
   source no longer binds; then closures made before get the new nested code
   (:mod:`.closures`), discarded new objects still held are replaced by their
   survivors (:mod:`.survivors`) and the classes among them that could not be
   are rebased (:mod:`.rebase`), ``from m import x`` copies rebound
   (:mod:`.references`), re-exports pushed into packages that ``import *``
   from a target, replaced objects searched for on the heap, and the new
   sources recorded as loaded.

Reloads are serialised by :data:`reload_lock`.  Other threads keep running;
frames already executing finish on the code they started with.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from abc import ABCMeta
from types import CodeType, FunctionType, ModuleType

from . import adapters, graveyard, members, staleness, targets
from .closures import update_live_closures
from .events import publish
from .merge import _LRU_WRAPPER, Merger, clear_abc_caches
from .ordering import order
from .rebase import rebase_discarded, still_held
from .references import Replacement, rebind_copies, rebind_module_globals, replace_everywhere
from .results import ERROR, INFO, WARNING, Frame, Note, ReloadError, ReloadResult
from .sources import (
    CompileFailed,
    Source,
    load,
    previous_bound,
    previous_code,
    remember,
    running_version,
    star_names,
)
from .survivors import replace_held
from .unnamed import merge_unnamed
from .values import ATOMIC, MISSING

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .statements import Plan

#: Whether a module runs only what changed (docs/reimport.md, "Exactly when a
#: statement runs again") unless it asks for ``__reload__ = "full"``; when False,
#: a module still can ask for it with ``__reload__ = "changed"``.
#: Off by default until every framework adapter is verified with it.
CHANGED_ONLY = True

#: Held for the whole of every reload: one at a time, process-wide.
reload_lock = threading.RLock()
# A fork while another thread reloads would leave the child's lock held forever.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reload_lock._at_fork_reinit)

# Names the import system, not the source, puts in a module's namespace.
_SYSTEM_NAMES = frozenset(
    {
        "__name__",
        "__file__",
        "__cached__",
        "__loader__",
        "__package__",
        "__path__",
        "__spec__",
        "__builtins__",
        "__doc__",
        "__annotations__",
        "__dict__",
        "__warningregistry__",
    }
)


def reimport(*modules: str | ModuleType | os.PathLike[str], full: bool = False) -> ReloadResult:
    """Reload modules in place, all or nothing.

    Each argument is a module name (``"myapp.handlers"``), a module object, or
    the path of a loaded module's source file.  The new code of every target is
    compiled first, then executed in dependency order; if anything fails, every
    target is restored exactly as it was and :class:`ReloadError` is raised with
    notes saying where.  On success, old references run the new code: functions
    held anywhere, existing instances, subclasses in other modules and
    ``from m import x`` copies.  Returns a :class:`ReloadResult`.

    Only the top-level statements that changed run again (and those that read
    or rebind what they bind); an edited function body is put into the live
    function in place.  ``full=True`` runs every target's whole module body
    again, as :func:`importlib.reload` does (a module can ask for that itself
    with ``__reload__ = "full"`` at top level).

    When other processes take part in this process's reloads (a Dask cluster
    after ``reload_server.dask.install``), the reload is theirs too: prepared
    everywhere, then committed everywhere or nowhere (:mod:`.fleet`).
    """
    spread = members.spreader()
    if spread is not None:
        return spread(modules, full=full)
    prepared = prepare(*modules, full=full)
    return prepared.commit()


def prepare(
    *modules: str | ModuleType | os.PathLike[str],
    texts: Mapping[str, str] | None = None,
    full: bool = False,
) -> Prepared:
    """Run a reload up to its commit and hold it there: the first half of :func:`reimport`.

    Resolves, compiles, calls ``__unimport__``, runs the new code and the
    ``__reload_check__`` hooks, holding :data:`reload_lock`; nothing is
    committed.  The caller must then call :meth:`Prepared.commit` or
    :meth:`Prepared.abort`, on the same thread.  A failure raises
    :class:`ReloadError` with everything already rolled back and the lock
    released.  ``texts`` maps module names to source text to compile instead
    of the file on disk (a fleet reload ships its coordinator's source).
    ``full`` runs each target's whole module body, not only what changed.
    """
    started = time.perf_counter()
    reload_lock.acquire()
    transaction = _Transaction(started, texts or {}, full)
    try:
        transaction.prepare(modules)
    except BaseException as e:
        reload_lock.release()
        if isinstance(e, ReloadError):
            e.duration = time.perf_counter() - started
            publish(e)
        raise
    return Prepared(transaction)


class Prepared:
    """A reload whose new code ran and passed its checks, neither committed nor rolled back.

    Holds :data:`reload_lock` until :meth:`commit` or :meth:`abort`, exactly
    one of which must be called, on the thread that prepared it.
    """

    def __init__(self, transaction: _Transaction) -> None:
        self._transaction: _Transaction | None = transaction
        #: The modules the reload runs, in the order their new code ran.
        self.modules: tuple[str, ...] = tuple(s.name for s in transaction.sources)

    def commit(self) -> ReloadResult:
        """Make the prepared code the running code (the commit phase); returns the result."""
        transaction = self._take()
        try:
            result: ReloadResult | ReloadError = transaction.commit()
        except ReloadError as e:
            result = e
        finally:
            reload_lock.release()
        publish(result)
        if isinstance(result, ReloadError):
            raise result
        return result

    def abort(self, reason: str, notes: tuple[Note, ...] = ()) -> ReloadError:
        """Roll the prepared reload back, as a failed reload is; returns (does not raise) the error.

        ``reason`` says why (another process failed to prepare); ``notes`` are
        added to the error's.
        """
        transaction = self._take()
        try:
            error = transaction.abort(reason, notes)
        finally:
            reload_lock.release()
        publish(error)
        return error

    def _take(self) -> _Transaction:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            raise RuntimeError("this reload was already committed or aborted")
        return transaction


class _Transaction:
    def __init__(self, started: float, texts: Mapping[str, str], full: bool = False) -> None:
        self.started = started
        self.texts = texts
        self.full = full
        self.notes: list[Note] = []
        self.sources: list[Source] = []
        self.snapshots: list[dict] = []
        self.undo: _Undo | None = None
        self.unimported: list[Source] = []
        self.adapters: list[adapters.Adapter] = []

    def prepare(self, requested: tuple) -> None:
        names = targets.resolve(requested)
        if not names:
            return
        sources = self._compile(names)
        self.sources = order(sources)
        self._unimport(self.sources)
        self.snapshots = self._execute(self.sources)

    def commit(self) -> ReloadResult:
        if self.sources:
            try:
                self._commit(self.sources, self.snapshots)
                modules = [s.module for s in self.sources]
                for adapter in self.adapters:
                    self.notes.extend(adapter.committed(modules) or ())
            except BaseException as e:  # noqa: BLE001 - never an unreported half-commit
                raise self._commit_failed(e) from None
            finally:
                adapters.forget_retired()
        return ReloadResult(
            tuple(s.name for s in self.sources),
            tuple(s.file for s in self.sources),
            tuple(self.notes),
            time.perf_counter() - self.started,
        )

    def _commit_failed(self, error: BaseException) -> ReloadError:
        """The error for a commit step that raised: said plainly, since it cannot be undone.

        The steps before it already updated old objects in place, so the
        program may run part of the new code: the message says to restart.
        """
        note = _exception_note(None, error, "commit", "the commit failed partway")
        message = (
            f"{note.message}; some old objects may already run the new code "
            "(restart the program to be sure)"
        )
        return ReloadError(
            message,
            phase="commit",
            modules=tuple(s.name for s in self.sources),
            files=tuple(s.file for s in self.sources),
            notes=(*self.notes, note.replace(message=message)),
            duration=time.perf_counter() - self.started,
        )

    def _tell_rolled_back(self) -> tuple[Note, ...]:
        """Let the adapters put back what they took away; a failing one is a warning note."""
        notes = []
        modules = [s.module for s in self.sources]
        for adapter in self.adapters:
            try:
                adapter.rolled_back(modules)
            except Exception as e:  # noqa: BLE001 - the rollback itself is done; report
                note = _exception_note(None, e, "hook", f"{type(adapter).__name__}.rolled_back")
                notes.append(note.replace(severity=WARNING))
        self.adapters = []
        adapters.forget_retired()
        return tuple(notes)

    def _roll_back(self) -> tuple[Note, ...]:
        """Undo what the run changed, if it ran; then tell the adapters and let the old
        modules whose ``__unimport__`` ran restart.  Returns the notes that produced."""
        if self.undo is not None:
            self.undo.run()
        return self._tell_rolled_back() + _restart_unimported(self.unimported)

    def abort(self, reason: str, notes: tuple[Note, ...]) -> ReloadError:
        sources = self.sources
        restarted = self._roll_back()
        return ReloadError(
            reason,
            phase="abort",
            modules=tuple(s.name for s in sources),
            files=tuple(s.file for s in sources),
            notes=tuple(notes) + restarted,
            duration=time.perf_counter() - self.started,
            rolled_back=bool(sources),
        )

    # -- phase 2 --------------------------------------------------------------

    def _compile(self, names: list[str]) -> list[Source]:
        sources: list[Source] = []
        failures: list[Note] = []
        for name in names:
            module = sys.modules[name]
            file = targets.source_file(module)
            try:
                source = load(name, module, file, self.texts.get(name), self._deriver(name, file))
            except CompileFailed as e:
                failures.append(e.note)
                continue
            source.before = previous_bound(source)
            sources.append(source)
        if failures:
            raise ReloadError(
                failures[0].message
                if len(failures) == 1
                else f"{len(failures)} modules do not compile",
                phase="compile",
                modules=tuple(names),
                files=tuple(targets.source_file(sys.modules[n]) for n in names),
                notes=tuple(failures),
            )
        return sources

    def _deriver(self, name: str, file: str | None) -> Callable[[bytes], CodeType | None] | None:
        """What makes the new code of an edit inside one function from the code the module
        runs (:mod:`.bodyedit`), when only what changed will run; else None."""
        module = sys.modules[name]
        if file is None or not self._changed_only(module):
            return None
        running = running_version(name, module, file)
        if running is None:
            return None
        old, old_data = running
        from . import bodyedit  # with .statements: dis costs the host's import milliseconds

        return lambda data: bodyedit.derive(file, old, old_data, data)

    # -- phase 4 --------------------------------------------------------------

    def _unimport(self, sources: list[Source]) -> None:
        for s in sources:
            hook = s.module.__dict__.get("__unimport__")
            if not callable(hook):
                continue
            try:
                hook()
            except BaseException as e:  # noqa: BLE001 - a hook must not take the reloader down
                note = _exception_note(s, e, "hook", f"__unimport__ of {s.name} raised")
                restarted = self._roll_back()
                # No new code ran: nothing was rolled back, whatever hooks restarted.
                raise ReloadError(
                    note.message,
                    phase="hook",
                    modules=tuple(x.name for x in sources),
                    files=tuple(x.file for x in sources),
                    notes=(note, *restarted),
                ) from None
            self.unimported.append(s)

    # -- phase 5 --------------------------------------------------------------

    def _execute(self, sources: list[Source]) -> list[dict]:
        undo = self.undo = _Undo(sources)
        modules = [s.module for s in sources]
        current: Source | None = None
        phase = "import"
        try:
            adapters.forget_retired()
            self.adapters = adapters.start()
            for adapter in self.adapters:
                adapter.before_run(modules)
            # What each run rebinds, for the ``from m import`` of the targets after it.
            # A target that has not run yet holds the values its importers already
            # have: nothing of it is rebound until it runs.
            nothing: frozenset[str] = frozenset()
            reloaded: dict[str, frozenset[str] | None] = dict.fromkeys(
                (s.name for s in sources), nothing
            )
            for s in sources:
                current = s
                ns = s.module.__dict__
                undo.snapshots.append(dict(ns))
                s.plan = self._plan(s, reloaded)
                adapters.note_retired(s.module, s.plan.retired if s.plan is not None else None)
                reloaded[s.name] = None if s.plan is None else s.plan.rebound
                if s.plan is None:
                    _rebind_deleted_submodules(s)
                    if s.derived:  # all of it runs: exactly as compiled from its bytes
                        s.code = compile(s.data, s.file, "exec", dont_inherit=True)
                        s.derived = False
                    exec(s.code, ns)
                    continue
                for function, code in s.plan.recode:
                    undo.recoded.append((function, function.__code__, function.__doc__))
                    _recode(function, code)
                for cls, doc in s.plan.docs:
                    undo.docs.append((cls, cls.__dict__.get("__doc__")))
                    cls.__doc__ = doc
                ns.update(s.plan.binds)
                _forget_answers(s.plan.stale)
                if s.plan.code is not None:
                    exec(s.plan.code, ns)
            phase = "check"
            for s in sources:
                current = s
                check = s.module.__dict__.get("__reload_check__")
                if callable(check):
                    check(s.module)
            current = None
            for adapter in self.adapters:
                adapter.check(modules)
        except BaseException as e:  # noqa: BLE001 - rolled back and reported, whatever it was
            note = _exception_note(current, e, phase)
            restarted = self._roll_back()
            raise ReloadError(
                note.message,
                phase=phase,
                modules=tuple(x.name for x in sources),
                files=tuple(x.file for x in sources),
                notes=(note, *restarted),
                rolled_back=True,
            ) from None
        finally:
            del current
        return undo.snapshots

    def _changed_only(self, module: ModuleType) -> bool:
        """Whether this reload runs only what changed of ``module`` (else all of it)."""
        if self.full:
            return False
        return CHANGED_ONLY or module.__dict__.get("__reload__") == "changed"

    def _plan(self, s: Source, reloaded: dict[str, frozenset[str] | None]) -> Plan | None:
        """What to run of ``s``: a :class:`.statements.Plan`, or None to run all of it."""
        if not self._changed_only(s.module):
            return None
        if s in self.unimported:
            # Its ``__unimport__`` stopped what its top level starts: that must run again.
            return None
        if "__reimported__" in s.bound:
            # The hook is given the old namespace to carry state into a body that
            # ran anew, and may decline the merge of the new objects it made.
            return None
        from . import statements

        old, sure = previous_code(s)
        if s.derived and sure:
            from . import bodyedit

            quick = bodyedit.plan(s.code, old, s.module.__dict__, reloaded)
            if quick is not None:
                return quick
        why = None
        if old is None:
            why = "the code it ran before is unknown (no .pyc of it, no earlier reload)"
        else:
            try:
                from . import shape

                # Only bodies, docstrings and constants changed: nothing needs running.
                same_shape = shape.plan(s.code, old, s.module.__dict__, reloaded, not sure)
                if same_shape is not None:
                    return same_shape
                return statements.plan(
                    s.file,
                    s.code,
                    s.data,
                    old,
                    s.module.__dict__,
                    _package_of(s),
                    reloaded,
                    not sure,
                )
            except statements.Unknown as e:
                why = f"the .pyc of its previous version does not match the running {e}"
            except statements.Whole as e:
                why = str(e)
            except Exception as e:  # noqa: BLE001 - running all of it is always correct
                why = f"what changed could not be told ({type(e).__name__}: {e})"
        self.notes.append(
            Note(
                f"{s.name}: ran the whole module: {why}",
                severity=INFO,
                module=s.name,
                kind="rerun",  # no file: not a diagnostic in the editor, the file is fine
            )
        )
        return None

    # -- phase 6 --------------------------------------------------------------

    def _commit(self, sources: list[Source], snapshots: list[dict]) -> None:
        """Make the new code the running code, in these steps and this order."""
        commit = _Commit(sources, snapshots, self.notes)
        commit.merge_modules()
        commit.finish_merge()
        commit.update_live_closures()
        commit.replace_held_new_objects()
        commit.rebase_discarded()
        commit.rebind_from_import_copies()
        commit.rebind_in_parent_packages()
        commit.push_reexports()
        commit.heap_fallback()
        commit.record_baselines()
        commit.forget_cached_lines()


class _Undo:
    """What restores the modules a run changed: their namespaces, parents' names, new imports."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.snapshots: list[dict] = []
        self.parents = _parent_bindings(sources)
        # A dict copy: cheaper than a set of the names with thousands of modules loaded.
        self.before = sys.modules.copy()
        #: ``(function, old code, old docstring)`` of each function edited in place.
        self.recoded: list[tuple[FunctionType, CodeType, object]] = []
        #: ``(class, old docstring)`` of each class whose docstring was set in place.
        self.docs: list[tuple[type, object]] = []

    def run(self) -> None:
        for function, code, doc in reversed(self.recoded):
            function.__code__ = code
            function.__doc__ = doc
        self.recoded.clear()
        for cls, doc in reversed(self.docs):
            cls.__doc__ = doc
        self.docs.clear()
        _rollback(self.sources[: len(self.snapshots)], self.snapshots, self.parents, self.before)


def _restart_unimported(unimported: list[Source]) -> tuple[Note, ...]:
    """After a rollback, let each old module whose ``__unimport__`` ran restart what it stopped.

    Calls its ``__reimport_aborted__()``; a module without one gets a warning
    note, since whatever its ``__unimport__`` stopped stays stopped.
    """
    notes: list[Note] = []
    for s in unimported:
        hook = s.module.__dict__.get("__reimport_aborted__")
        if not callable(hook):
            notes.append(
                Note(
                    f"{s.name}: __unimport__ ran and the reload was rolled back; "
                    "define __reimport_aborted__() to restart what it stopped",
                    severity=WARNING,
                    module=s.name,
                    file=s.file,
                    kind="hook",
                )
            )
            continue
        try:
            hook()
        except BaseException as e:  # noqa: BLE001 - reported; the rollback itself is done
            note = _exception_note(s, e, "hook", f"__reimport_aborted__ of {s.name} raised")
            notes.append(note.replace(severity=WARNING))
    unimported.clear()
    return tuple(notes)


class _Commit:
    """The commit phase of one transaction: each method is one step, run once.

    What a step leaves for later ones is kept here until the commit ends:
    ``replacements`` and ``transient`` must still hold their objects when the
    heap fallback counts references, as they did when the commit was one method.
    """

    def __init__(self, sources: list[Source], snapshots: list[dict], notes: list[Note]) -> None:
        self.sources = sources
        self.snapshots = snapshots
        self.notes = notes
        self.merger = Merger({s.name for s in sources}, notes)
        # Targets whose __reimported__ returned False: old references keep the old code.
        self.skipped: set[str] = set()
        self.replacements: dict[str, dict[str, Replacement]] = {}
        self.transient: dict[int, Replacement] = {}

    def merge_modules(self) -> None:
        """Per target, in order: its ``__reimported__`` hook, then merge it and drop removed names.

        One module at a time, so a target's hook sees the targets before it merged.
        """
        for s in self.sources:
            if s.plan is not None:
                # Closures made before from a function edited in place get its new nested code.
                self.merger.recoded.extend(s.plan.swapped)
        for s, snap in zip(self.sources, self.snapshots):
            if self.run_reimported_hook(s, snap):
                ns = s.module.__dict__
                # A name an earlier edit removed merges into the object it removed.
                self.merge_namespace(ns, graveyard.with_removed(s.module, ns, snap))
                merge_unnamed(s, self.merger, self.notes)
                self.drop_removed_names(s, ns, snap)
                graveyard.settle(s.module, ns, snap)

    def run_reimported_hook(self, s: Source, snap: dict) -> bool:
        """Call ``__reimported__(old)``; False if it declined the merge (returned False)."""
        if _call_reimported(s, snap, self.notes) is not False:
            return True
        self.notes.append(
            Note(
                f"{s.name}: __reimported__ returned False; old references keep the old code",
                severity=INFO,
                module=s.name,
                kind="hook",
            )
        )
        self.skipped.add(s.name)
        return False

    def merge_namespace(self, ns: dict, snap: dict) -> None:
        """Merge every new top-level object into its old one (:mod:`.merge`).

        A method of its own so that ``items`` and the loop variables are gone
        before :func:`.rebase.rebase_discarded` counts references to the new
        classes.  Definitions first, aliases after, so ``alias = func`` maps to
        func's survivor.
        """
        merger = self.merger
        get = snap.get
        # A name still holding its old object (a function edited in place) has nothing to merge.
        items = [(key, new) for key, new in ns.items() if get(key, MISSING) is not new]
        for key, new in items:
            if _qualname(new) == key:
                _merge_name(ns, snap, key, new, merger)
        for key, new in items:
            if _qualname(new) != key:
                _merge_name(ns, snap, key, new, merger)

    def drop_removed_names(self, s: Source, ns: dict, snap: dict) -> None:
        """Delete the names the previous source bound and the new one no longer binds.

        Only those: a name set on the module from outside, or bound dynamically
        (``globals()[name] = …``), was never the source's to remove.  When the
        previous source is unknown (first reload, no ``.pyc`` of it), only the
        module's own functions and classes count as bound by it.
        """
        bound = set(s.bound) | _stored_by_hook(ns.get("__reimported__"))
        for star in s.star_imports:
            bound |= star_names(star)
        before = s.before
        prefix = s.name + "."
        for key, old in snap.items():
            if key in bound or key in _SYSTEM_NAMES or key.startswith("__"):
                continue
            if before is not None:
                if key not in before:
                    continue
            elif not _defined_by(old, s.name, key):
                continue
            if ns.get(key, MISSING) is not old:
                continue  # rebound while the new code ran: it is the new code's
            if isinstance(old, ModuleType) and old.__name__ == prefix + key:
                continue  # a submodule, bound by the import system
            del ns[key]

    def finish_merge(self) -> None:
        """Point defaults, closure cells and bases of kept objects at the survivors."""
        self.merger.finish()

    def update_live_closures(self) -> None:
        """Closures made before the reload from edited nested functions run the new code."""
        update_live_closures(self.merger.recoded, self.notes)
        self.merger.recoded.clear()

    def replace_held_new_objects(self) -> None:
        """Where something kept a discarded new object (a registry, a table), put its survivor."""
        replace_held(self.merger.canon, self.merger.discarded, self.notes)

    def rebase_discarded(self) -> None:
        """Base the discarded new classes something still holds on their survivors."""
        for message in rebase_discarded(self.merger.discarded):
            self.notes.append(Note(message, severity=WARNING, kind="fallback"))

    def rebind_from_import_copies(self) -> None:
        """Rebind ``from m import X`` copies, anywhere, of module-level values that changed identity."""
        for s, snap in zip(self.sources, self.snapshots):
            if s.name not in self.skipped:
                found = _record_replacements(s.module.__dict__, snap)
                if found:
                    self.replacements[s.name] = found
        rebind_copies(self.replacements)

    def rebind_in_parent_packages(self) -> None:
        """Rebind the targets' packages' names for new objects that were merged into old ones.

        Only those packages can hold them by name: the targets' own namespaces
        were merged already.
        """
        parents = _parents(self.sources)
        if not parents:
            return
        self.transient = {
            key: Replacement(new, keep, None)
            for key, (new, keep) in self.merger.canon.items()
            if keep is not new
        }
        rebind_module_globals(self.transient, only=parents)

    def push_reexports(self) -> None:
        """Give packages that ``from .sub import *`` a target the target's new names."""
        _push_reexports(self.sources)

    def heap_fallback(self) -> None:
        """Search the heap for references to the replaced objects something still holds."""
        held = still_held(self.merger.replaced, self.snapshots)
        if not held:
            return
        for old, _new, why in held.values():
            name = getattr(old, "__qualname__", type(old).__name__)
            self.notes.append(
                Note(
                    f"{name}: replaced, not updated in place: {why}",
                    severity=WARNING,
                    kind="fallback",
                )
            )
        t0 = time.perf_counter()
        merger = self.merger
        left_behind: dict[int, list[str]] = {}
        changed = replace_everywhere(
            {k: (v[0], v[1]) for k, v in held.items()}, merger.instances_stay, left_behind
        )
        for key, what in left_behind.items():
            old, new, _why = held[key]
            follows = key in merger.followable
            if follows:
                merger.follow(old, new)
            self.notes.append(_left_behind_note(old, new, what, follows))
        self.notes.append(
            Note(
                f"heap fallback updated {changed} references to {len(held)} replaced objects "
                f"in {(time.perf_counter() - t0) * 1000:.1f} ms",
                severity=INFO,
                kind="fallback",
            )
        )

    def record_baselines(self) -> None:
        """Remember each target's source as loaded now, for :mod:`.staleness` and the next reload."""
        for s in self.sources:
            staleness.record(s.name, s.file, s.stat)
            remember(s)

    def forget_cached_lines(self) -> None:
        """Tracebacks must show the new source's lines, not lines cached from the old."""
        for s in self.sources:
            _forget_cached_lines(s.file)


def _left_behind_note(old: type, new: type, what: list[str], follows: bool) -> Note:
    """Say which subclasses and instances still have a replaced class, and what they run."""
    if not follows:
        outcome = "they keep its old code"
    elif isinstance(new, ABCMeta):
        outcome = "it takes the new class's attributes and counts as a subclass of it"
    else:
        outcome = "it takes the new class's attributes"
    return Note(
        f"{old.__module__}.{old.__qualname__}: the old class stays for {', '.join(what)}; {outcome}",
        severity=WARNING,
        kind="fallback",
    )


def _stored_by_hook(hook: object) -> set[str]:
    """The globals a ``__reimported__`` hook assigns (``global counter; counter = old.counter``).

    It ran before the removal of names the new source no longer binds, and
    what it migrated must stay even when the new top level never binds it.
    """
    code = getattr(hook, "__code__", None) if type(hook) is FunctionType else None
    if code is None:
        return set()
    import dis  # only for modules that define the hook

    return {i.argval for i in dis.get_instructions(code) if i.opname == "STORE_GLOBAL"}


def _qualname(value: object) -> str | None:
    """``value.__qualname__`` if it is a definition's, read without running any of its code.

    A plain ``getattr`` would call a class's ``__getattr__``: a lazy object
    (Django's ``settings``) would set itself up, or raise, in the middle of
    the commit.  Functions and classes have it on their type; wrappers
    (``functools.wraps``, ``lru_cache``) in their own ``__dict__``.
    """
    if issubclass(type(value), (FunctionType, type)):
        return value.__qualname__  # type: ignore[attr-defined]
    try:
        attrs = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return None
    name = attrs.get("__qualname__") if type(attrs) is dict else None
    return name if type(name) is str else None


def _merge_name(ns: dict, snap: dict, key: str, new: object, merger: Merger) -> None:
    if key in _SYSTEM_NAMES:
        return
    old = snap.get(key, MISSING)
    keep = merger.adopt(new) if old is MISSING else merger.merge(old, new, key)
    if keep is not new:
        ns[key] = keep


def _rebind_deleted_submodules(s: Source) -> None:
    """Give a package about to run whole the submodules its top level imports and then deletes.

    Importing ``pkg.sub`` for the first time binds ``sub`` in ``pkg``; a body
    that then does ``del sub`` finds it bound at start-up, but not when it runs
    again (the submodule is loaded, so importing it binds nothing).
    """
    ns = s.module.__dict__
    if "__path__" not in ns:
        return
    import dis

    for instruction in dis.get_instructions(s.code):
        name = instruction.argval
        if instruction.opname == "DELETE_NAME" and name not in ns:
            sub = sys.modules.get(f"{s.name}.{name}")
            if sub is not None:
                ns[name] = sub


def _recode(function: FunctionType, code: CodeType) -> None:
    """Give ``function`` the new body ``code``; its docstring follows when it was the code's."""
    old = function.__code__
    function.__code__ = code
    if function.__doc__ is _docstring(old):
        function.__doc__ = _docstring(code)


def _forget_answers(stale: list[object]) -> None:
    """Drop what the old code of functions edited in place answered: ABC and ``lru_cache`` caches.

    Harmless if the reload is rolled back: a cache only fills again.
    """
    for holder in stale:
        if isinstance(holder, ABCMeta):
            clear_abc_caches(holder)
        elif type(holder) is _LRU_WRAPPER:
            holder.cache_clear()


def _docstring(code: CodeType) -> object:
    # Before 3.14 a function's docstring is its code's first constant (None when it has none).
    first = code.co_consts[0] if code.co_consts else None
    return first if isinstance(first, str) else None


def _package_of(s: Source) -> str:
    return s.name if "__path__" in s.module.__dict__ else s.name.rpartition(".")[0]


def _forget_cached_lines(file: str) -> None:
    cache = sys.modules.get("linecache")
    if cache is not None:
        cache.checkcache(file)


def _parents(sources: list[Source]) -> set[str]:
    return {s.name.rpartition(".")[0] for s in sources if "." in s.name}


def _parent_bindings(sources: list[Source]) -> list[tuple[ModuleType, str, object]]:
    saved = []
    for s in sources:
        parent_name, _, child = s.name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None:
            saved.append((parent, child, parent.__dict__.get(child, MISSING)))
    return saved


def _rollback(
    executed: list[Source], snapshots: list[dict], parents, before: dict[str, object]
) -> None:
    for s, snap in zip(reversed(executed), reversed(snapshots)):
        ns = s.module.__dict__
        # Restore without emptying the namespace: other threads may be reading it.
        ns.update(snap)
        for key in [k for k in ns if k not in snap]:
            del ns[key]
    for parent, child, value in parents:
        if value is MISSING:
            parent.__dict__.pop(child, None)
        else:
            parent.__dict__[child] = value
    for name in [n for n in list(sys.modules) if n not in before]:
        module = sys.modules.pop(name, None)
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None and parent.__dict__.get(child) is module:
            del parent.__dict__[child]


def _exception_note(
    source: Source | None, error: BaseException, kind: str, prefix: str = ""
) -> Note:
    """An error note at the deepest frame of the exception inside a reloaded file."""
    import traceback  # only on failure: it costs milliseconds to import

    summaries = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    frames = [Frame(f.filename, f.lineno or 0, f.name) for f in summaries]
    file = source.file if source is not None else None
    line = column = end_line = end_column = None
    inside = [f for f in summaries if source is not None and _same_file(f.filename, source.file)]
    if inside:
        last = inside[-1]
        line = last.lineno
        # 3.11+ knows the span of the raising expression (0-based columns).
        colno = getattr(last, "colno", None)
        if colno is not None:
            column = colno + 1
            end_line = getattr(last, "end_lineno", None)
            end_colno = getattr(last, "end_colno", None)
            end_column = end_colno + 1 if end_colno is not None else None
    elif isinstance(error, SyntaxError) and error.filename:
        file, line = error.filename, error.lineno
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if prefix:
        text = f"{prefix}: {text}"
    return Note(
        text,
        severity=ERROR,
        module=source.name if source is not None else None,
        file=file,
        line=line,
        column=column or (1 if line else None),
        end_line=end_line if column else None,
        end_column=end_column if column else None,
        kind=kind,
        frames=tuple(frames),
    )


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _call_reimported(s: Source, snap: dict, notes: list[Note]) -> object:
    hook = s.module.__dict__.get("__reimported__")
    if not callable(hook):
        return None
    old = ModuleType(s.name)
    old.__dict__.update(snap)
    try:
        return hook(old)
    except Exception as e:
        note = _exception_note(s, e, "hook", f"__reimported__ of {s.name} raised")
        notes.append(
            Note(
                note.message,
                WARNING,
                note.module,
                note.file,
                note.line,
                note.column,
                kind="hook",
                frames=note.frames,
            )
        )
        return None


def _record_replacements(ns: dict, snap: dict) -> dict[str, Replacement]:
    """Old module-level values whose name now holds another object, by name."""
    out: dict[str, Replacement] = {}
    get = ns.get
    # Most names keep their object: one comprehension finds the few that did not.
    changed = [
        (key, old, new) for key, old in snap.items() if (new := get(key, MISSING)) is not old
    ]
    for key, old, new in changed:
        if key in _SYSTEM_NAMES:
            continue
        if new is MISSING:
            continue
        if isinstance(old, ATOMIC) and type(old) is type(new) and old == new:
            continue
        out[key] = Replacement(old, new, key)
    return out


def _defined_by(value: object, module: str, key: str) -> bool:
    """Whether ``value`` is a function or class ``module``'s source defined under ``key``."""
    return (
        isinstance(value, (FunctionType, type))
        and getattr(value, "__module__", None) == module
        and getattr(value, "__name__", None) == key
    )


def _push_reexports(sources: list[Source]) -> None:
    """Packages not reloaded that do ``from .sub import *`` get the sub's new names."""
    reloaded = {s.name for s in sources}
    for s in sources:
        parent_name = s.name.rpartition(".")[0]
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is None or parent_name in reloaded:
            continue
        if not _star_imports(parent, s.name):
            continue
        for key in star_names(s.name):
            if key in s.module.__dict__:
                parent.__dict__[key] = s.module.__dict__[key]


# Per package file, the mtime it was read at and the modules it star-imports:
# one entry per file, replaced when the file changes, so edits do not grow it.
_star_cache: dict[str, tuple[int, tuple[str, ...]]] = {}


def _star_imports(module: ModuleType, child: str) -> bool:
    file = targets.source_file(module)
    if file is None:
        return False
    try:
        mtime = os.stat(file).st_mtime_ns
    except OSError:
        return False
    cached = _star_cache.get(file)
    if cached is not None and cached[0] == mtime:
        stars = cached[1]
    else:
        try:
            stars = load(module.__name__, module, file).star_imports
        except CompileFailed:
            stars = ()
        _star_cache[file] = (mtime, stars)
    return child in stars
