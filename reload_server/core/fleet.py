"""One reload across many processes: prepare everywhere, then commit everywhere or nowhere.

Two sides, both transport-free (an engine carries the calls: Dask's
``Client.run``, Celery's remote control, the server's control connection):

- the **coordinator** (:func:`reimport_across`) prepares the reload in this
  process and, through each :class:`Member`, in the others, in parallel; if
  every process prepared within the deadline it commits everywhere, else it
  aborts everywhere, and reports each process by name;
- a **participant** (:func:`begin` / :func:`finish`, or :func:`hold` on a
  thread the caller chooses) prepares its part with
  :func:`.transaction.prepare`, keeps it pending, and commits or aborts when
  told — or aborts by itself when no decision comes before its deadline, so a
  coordinator that dies leaves no process holding its reload lock.

Outcomes cross processes as the plain dicts of ``ReloadResult.to_dict()`` /
``ReloadError.to_dict()``, with status ``"prepared"`` for a part prepared and
waiting.  Source text is shipped with each request, keyed by module name: a
process whose file differs (another machine) compiles the shipped text, and
later imports of a shipped module there read it too (:mod:`.shipped`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from types import ModuleType

from . import members, shipped, targets
from .results import ERROR, Note, ReloadError, ReloadResult, note_from_dict
from .transaction import Prepared, prepare

TYPE_CHECKING = False  # typing itself costs the host milliseconds at import
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, Protocol

    Outcome = dict[str, Any]

    class Member(Protocol):
        """Some other processes taking part in reloads, reached through one engine.

        Both calls block and return one outcome dict per process, keyed by the
        process's name (a worker address, a Celery node name, a pid).  Neither
        may raise for a process's failure: that is an outcome with status
        ``"failed"``.
        """

        name: str

        def prepare(
            self,
            reload_id: str,
            modules: list[str],
            texts: dict[str, str],
            deadline: float,
            *,
            full: bool = False,
        ) -> dict[str, Outcome]: ...

        def finish(self, reload_id: str, commit: bool, deadline: float) -> dict[str, Outcome]: ...


#: Seconds every process gets to prepare, counted from the start of the reload.
DEADLINE = 30.0


def local_name() -> str:
    """This process's name in fleet reports."""
    return f"pid {os.getpid()}"


# -- the coordinator ---------------------------------------------------------


def join(member: Member) -> None:
    """Make ``member``'s processes take part in every later reload of this process."""
    members.join(member, _spread)


def leave(member: Member) -> None:
    """Stop ``member``'s processes taking part in this process's reloads."""
    members.leave(member)


def _spread(modules: tuple, full: bool = False) -> ReloadResult:
    return reimport_across(modules, members.current(), full=full)


def reimport_across(
    modules: Iterable[str | ModuleType | os.PathLike[str]],
    others: Iterable[Member],
    *,
    deadline: float = DEADLINE,
    here: bool = True,
    full: bool = False,
) -> ReloadResult:
    """Reload ``modules`` in this process (unless ``here`` is false) and in every member's.

    All or nothing: raises :class:`ReloadError` (nothing changed in any
    process) naming each process that failed to prepare or did not answer
    within ``deadline`` seconds; else returns this process's
    :class:`ReloadResult` with ``processes`` holding every process's result.
    Module names this process has not loaded are shipped to the others from
    the source their import would read here, and not reloaded here.  ``full``
    runs the targets' whole module bodies in every process.
    """
    started = time.perf_counter()
    others = list(others)
    local, texts = _shipment(list(modules), here)
    reload_id = uuid.uuid4().hex
    names = list(texts)
    asked = [_Asking(m, reload_id, names, texts, deadline, full) for m in others]
    outcomes: dict[str, Outcome] = {}
    failed: list[tuple[str, Outcome]] = []
    prepared: Prepared | None = None
    local_error: ReloadError | None = None
    if local:
        try:
            with members.spreading():
                local_texts = {n: texts[n] for n in texts if n in local}
                prepared = prepare(*local, texts=local_texts, full=full)
        except ReloadError as e:
            local_error = e
            failed.append((local_name(), e.to_dict()))
    end = started + deadline
    for a in asked:
        for process, outcome in a.wait(end - time.perf_counter()).items():
            outcomes[process] = outcome
            if outcome.get("status") == "failed":
                failed.append((process, outcome))
    if not failed:
        result = prepared.commit() if prepared is not None else ReloadResult(())
        remote = _finish_all(asked, reload_id, True, deadline)
        return _fleet_result(result, remote, started)
    # Abort everywhere: the failure of one is the failure of all.
    reason = _failure_message(failed)
    notes = _failure_notes(failed)
    own = prepared.abort(reason, notes) if prepared is not None else local_error
    remote = _finish_all(asked, reload_id, False, deadline)
    for process, outcome in outcomes.items():
        remote.setdefault(process, outcome)
    error = ReloadError(
        reason,
        phase=failed[0][1].get("phase", "abort"),
        modules=tuple(local) or tuple(names),
        files=own.files if own is not None else (),
        notes=notes,
        duration=time.perf_counter() - started,
        rolled_back=True,
        processes=_processes(own, remote),
    )
    raise error


def _shipment(modules: list, here: bool) -> tuple[list[str], dict[str, str]]:
    """The modules to reload here, and the source text of every module to ship, by name."""
    local: list[str] = []
    texts: dict[str, str] = {}
    loaded = [m for m in modules if not (isinstance(m, str) and _unloaded_name(m))]
    if loaded:
        for name in targets.resolve(loaded):
            local.append(name)
            texts[name] = _read(targets.source_file(sys.modules[name]), name)
    for m in modules:
        if isinstance(m, str) and _unloaded_name(m):
            file = _spec_file(m)
            texts[m] = _read(file, m)
    return (local if here else []), texts


def _unloaded_name(target: str) -> bool:
    return target not in sys.modules and not targets.looks_like_path(target)


def _spec_file(name: str) -> str:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    if not (isinstance(origin, str) and origin.endswith(".py")):
        raise ReloadError(
            f"{name} is neither loaded here nor a module with a .py source",
            phase="resolve",
            modules=(name,),
            notes=(Note(f"no source found for module {name}", kind="resolve", module=name),),
        )
    return origin


def _read(file: str | None, name: str) -> str:
    try:
        with open(file, "rb") as f:  # type: ignore[arg-type]
            return shipped.source_text(f.read())
    except (OSError, TypeError, UnicodeDecodeError) as e:
        raise ReloadError(
            f"cannot read the source of {name}: {e}",
            phase="compile",
            modules=(name,),
            files=(file,) if file else (),
            notes=(Note(f"cannot read {file}: {e}", kind="syntax", module=name, file=file),),
        ) from None


class _Asking:
    """One member's prepare, running on a thread of its own so that members answer in parallel."""

    def __init__(
        self,
        member: Member,
        reload_id: str,
        names: list[str],
        texts: dict,
        deadline: float,
        full: bool,
    ) -> None:
        self.member = member
        self.answer: dict[str, Outcome] | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(
            target=self._run,
            args=(reload_id, names, texts, deadline, full),
            name=f"reload_server-fleet-{member.name}",
            daemon=True,
        )
        self.thread.start()

    def _run(
        self, reload_id: str, names: list[str], texts: dict, deadline: float, full: bool
    ) -> None:
        try:
            self.answer = self.member.prepare(reload_id, names, texts, deadline, full=full)
        except BaseException as e:  # noqa: BLE001 - a member that cannot be asked failed to prepare
            self.answer = {self.member.name: _unreachable(self.member.name, e)}
        finally:
            self.done.set()

    def wait(self, seconds: float) -> dict[str, Outcome]:
        if not self.done.wait(max(seconds, 0.0)):
            return {
                self.member.name: failure(
                    f"{self.member.name} did not prepare within the deadline", "deadline"
                )
            }
        return self.answer or {}


def _finish_all(
    asked: list[_Asking], reload_id: str, commit: bool, deadline: float
) -> dict[str, Outcome]:
    out: dict[str, Outcome] = {}
    threads = []
    for a in asked:

        def run(a: _Asking = a) -> None:
            try:
                out.update(a.member.finish(reload_id, commit, deadline))
            except BaseException as e:  # noqa: BLE001 - reported per member
                out[a.member.name] = _unreachable(a.member.name, e)

        t = threading.Thread(target=run, daemon=True, name="reload_server-fleet-finish")
        t.start()
        threads.append(t)
    for t in threads:
        t.join(deadline)
    return out


def _unreachable(name: str, error: BaseException) -> Outcome:
    return failure(f"{name} could not be asked: {type(error).__name__}: {error}", "deadline")


def failure(message: str, phase: str, seconds: float = 0.0) -> Outcome:
    """A failed outcome, in the fleet's dict form, for a process that could not do its part.

    ``phase`` is ``"deadline"`` for one that did not answer in time or could
    not be asked; ``seconds`` how long it was waited for.
    """
    return {
        "status": "failed",
        "phase": phase,
        "message": message,
        "modules": [],
        "files": [],
        "durationMs": round(seconds * 1000, 3),
        "rolledBack": False,
        "notes": [{"severity": ERROR, "message": message, "kind": phase}],
    }


def _failure_message(failed: list[tuple[str, Outcome]]) -> str:
    first, outcome = failed[0]
    text = f"{first}: {outcome.get('message', 'failed')}"
    if len(failed) > 1:
        text += f" (and {len(failed) - 1} more process{'es' if len(failed) > 2 else ''})"
    return text


def _failure_notes(failed: list[tuple[str, Outcome]]) -> tuple[Note, ...]:
    """The failing processes' notes, each message prefixed with the process's name."""
    notes: list[Note] = []
    for process, outcome in failed:
        for raw in outcome.get("notes") or [{"message": outcome.get("message", "failed")}]:
            note = note_from_dict(raw)
            notes.append(note.replace(message=f"[{process}] {note.message}"))
    return tuple(notes)


def _processes(
    own: ReloadResult | ReloadError | None, remote: Mapping[str, Outcome]
) -> tuple[tuple[str, Outcome], ...]:
    items: list[tuple[str, Outcome]] = []
    if own is not None:
        items.append((local_name(), own.to_dict()))
    items.extend(sorted(remote.items()))
    return tuple(items)


def _fleet_result(result: ReloadResult, remote: dict[str, Outcome], started: float) -> ReloadResult:
    notes = list(result.notes)
    for process, outcome in sorted(remote.items()):
        if outcome.get("status") == "failed":
            # Prepared, then failed to commit: report it; the others committed.
            notes.append(
                Note(f"[{process}] commit failed: {outcome.get('message', '')}", kind="update")
            )
    return ReloadResult(
        result.modules,
        result.files,
        tuple(notes),
        time.perf_counter() - started,
        processes=_processes(result, remote),
    )


# -- the participant ---------------------------------------------------------


class _Pending:
    """This process's part of one fleet reload, prepared and waiting for the decision."""

    def __init__(self, deadline: float) -> None:
        self.prepared = threading.Event()
        self.decided = threading.Event()
        self.finished = threading.Event()
        self.commit = False
        self.first: Outcome = {}
        self.final: Outcome = {}
        self.expires = time.monotonic() + deadline


_pending: dict[str, _Pending] = {}
_pending_lock = threading.Lock()


def hold(
    reload_id: str,
    modules: list[str],
    texts: Mapping[str, str],
    deadline: float,
    full: bool = False,
) -> Outcome:
    """Prepare this process's part on the calling thread, wait for :func:`finish`, then do it.

    Blocks the calling thread until the decision or ``deadline`` seconds
    (then aborts).  Returns the final outcome.  :func:`begin` runs it on a
    thread of its own; a server runs it as a job on the app's reload thread.
    ``full`` runs the modules' whole bodies (the coordinator's ``full``).
    """
    pending = _register(reload_id, deadline)
    return _hold_then_forget(reload_id, pending, modules, texts, deadline, full)


def prepared(reload_id: str, timeout: float, given_up: Callable[[], bool] | None = None) -> Outcome:
    """The outcome of :func:`hold`'s prepare for ``reload_id``, once known (waits up to ``timeout``).

    ``given_up()`` true stops the wait for the part to start (its caller got
    its answer another way), so that no thread is left waiting — an exiting
    interpreter joins such threads.
    """
    pending = _lookup(reload_id, timeout, given_up)
    if pending is None or not pending.prepared.wait(max(pending.expires - time.monotonic(), 0)):
        return failure(f"{local_name()}: no reload {reload_id} was prepared here", "deadline")
    return pending.first


def begin(
    reload_id: str,
    modules: list[str],
    texts: Mapping[str, str],
    deadline: float,
    full: bool = False,
) -> Outcome:
    """Prepare this process's part on a new thread; returns once prepared (or failed).

    For engines that call in on a thread that must not block (Dask's event
    loop): the new thread holds the prepared reload until :func:`finish`.
    """
    pending = _register(reload_id, deadline)
    threading.Thread(
        target=_hold_then_forget,
        args=(reload_id, pending, modules, texts, deadline, full),
        name="reload_server-fleet-part",
        daemon=True,
    ).start()
    pending.prepared.wait()
    return pending.first


def finish(reload_id: str, commit: bool, timeout: float = DEADLINE) -> Outcome:
    """Decide this process's pending part of ``reload_id``; returns its final outcome."""
    pending = _lookup(reload_id, 0)
    if pending is None:
        return failure(f"{local_name()}: no reload {reload_id} pending here", "deadline")
    pending.commit = commit
    pending.decided.set()
    if not pending.finished.wait(timeout):
        return failure(f"{local_name()}: the reload did not finish in time", "deadline")
    return pending.final


def _register(reload_id: str, deadline: float) -> _Pending:
    pending = _Pending(deadline)
    with _pending_lock:
        _pending[reload_id] = pending
    return pending


def _lookup(
    reload_id: str, timeout: float, given_up: Callable[[], bool] | None = None
) -> _Pending | None:
    end = time.monotonic() + timeout
    while True:
        with _pending_lock:
            pending = _pending.get(reload_id)
        if pending is not None or time.monotonic() >= end or (given_up and given_up()):
            return pending
        time.sleep(0.01)


def _hold_then_forget(
    reload_id: str,
    pending: _Pending,
    modules: list[str],
    texts: Mapping[str, str],
    deadline: float,
    full: bool,
) -> Outcome:
    try:
        return _hold(pending, modules, texts, full)
    finally:
        # Kept a while after the end, so that a late prepared() or finish() still reads it.
        timer = threading.Timer(deadline, _forget, (reload_id, pending))
        timer.daemon = True  # interpreter exit must not wait for it
        timer.start()


def _forget(reload_id: str, pending: _Pending) -> None:
    with _pending_lock:
        if _pending.get(reload_id) is pending:
            del _pending[reload_id]


def _hold(pending: _Pending, modules: list[str], texts: Mapping[str, str], full: bool) -> Outcome:
    shipped.remember(texts)
    here = [m for m in modules if m in sys.modules]
    try:
        with members.spreading():
            prepared_here = prepare(*here, texts=texts, full=full) if here else None
    except ReloadError as e:
        pending.first = pending.final = e.to_dict()
        pending.prepared.set()
        pending.finished.set()
        return pending.final
    pending.first = {
        "status": "prepared",
        "modules": list(prepared_here.modules) if prepared_here else [],
    }
    pending.prepared.set()
    decided = pending.decided.wait(max(pending.expires - time.monotonic(), 0))
    try:
        if prepared_here is None:
            outcome: ReloadResult | ReloadError = ReloadResult(())
        elif decided and pending.commit:
            outcome = prepared_here.commit()
        else:
            why = "aborted" if decided else "no decision came within the deadline"
            outcome = prepared_here.abort(f"{local_name()}: {why}")
        pending.final = outcome.to_dict()
    except BaseException as e:  # noqa: BLE001 - reported to the coordinator
        pending.final = failure(f"{local_name()}: {type(e).__name__}: {e}", "commit")
    finally:
        pending.finished.set()
    return pending.final


def adopt(texts: Mapping[str, str]) -> ReloadResult | None:
    """Bring this process to the code in ``texts`` (a worker joining a fleet late).

    Loaded modules whose source differs are reloaded from the text, in one
    transaction; modules not loaded yet will be imported from it.  Returns the
    reload's result, or None when nothing loaded differed.
    """
    shipped.remember(texts)
    differ = [n for n, text in texts.items() if n in sys.modules and _differs(n, text)]
    if not differ:
        return None
    with members.spreading():
        return prepare(*differ, texts=texts).commit()


def _differs(name: str, text: str) -> bool:
    file = targets.source_file(sys.modules[name])
    return file is None or shipped.on_disk(file, text) is None
