"""Which top-level statements of a module changed since the code it runs: the re-run plan.

A reload runs only what a restart would run differently.  The new source is
split into its top-level statements (by its lines and its compiled code's
positions: parsing it again would cost more than compiling it); each is looked for in
the code the module runs now — the module code object the last reload ran, or
the ``.pyc`` the import left (:func:`.sources.previous_code`) — by comparing
instructions, not text, so the old source text is not needed.  Every top-level instruction is reduced to a key
(opcode, argument by value — the constant or name, not its index — and the
column it starts at), so a statement that only moved to other lines still matches, while
one that moved into or out of an ``if`` (other columns) does not.  The code of
a named function (a ``def`` or a method) is not part of its statement's key:
it is compared on its own, so an edited body is told apart from an edited
decorator, default or class statement.

The plan (:class:`Plan`) says, per statement, one of:

- *unchanged* — not run again (the ``app = Flask()``, the handler added to a
  logger, the sentinel made);
- *recode* — only bodies of named functions changed: the live functions get
  the new code in place, and neither the decorators nor the class statement
  run again;
- *run* — new or changed statements, unchanged statements that read or bind a
  name a statement that runs binds (in source order, transitively), and
  ``from m import NAME`` of a module ``m`` reloaded in the same transaction
  whose reload rebinds ``NAME`` (or runs whole), and unchanged statements
  that read a module which ran whole in it.

The plan also lists the function bodies of the old statements that no new
statement stands for (*retired*): an adapter takes what they registered on
live objects out (:func:`.adapters.retired_code`).

The statements to run are compiled together, in source order, into one code
object that keeps their line numbers.  A module that sets ``__reload__ =
"full"`` runs whole.
"""

from __future__ import annotations
import __future__

import builtins
import dis
import functools
import sys
from types import CodeType, FunctionType, ModuleType

from .excerpt import cut
from .sources import absolute_name

CO_OPTIMIZED = 0x0001  # inspect's, without importing inspect
_LRU_WRAPPER = type(functools.lru_cache(maxsize=None)(lambda: None))
_HASCONST = frozenset(dis.hasconst)
_HASNAME = frozenset(dis.hasname)
_HASJABS = frozenset(dis.hasjabs)
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_CACHE = dis.opmap.get("CACHE", -1)
_RESUME = dis.opmap.get("RESUME", -1)
_LOAD_GLOBAL = dis.opmap["LOAD_GLOBAL"]
_LOAD_CONST = dis.opmap["LOAD_CONST"]
_RETURN_VALUE = dis.opmap.get("RETURN_VALUE", -1)
_RETURN_CONST = dis.opmap.get("RETURN_CONST", -1)
_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_NOP = dis.opmap["NOP"]
_BINDS = frozenset(
    dis.opmap[n] for n in ("STORE_NAME", "DELETE_NAME", "STORE_GLOBAL", "DELETE_GLOBAL")
)
_READS = frozenset(dis.opmap[n] for n in ("LOAD_NAME", "LOAD_GLOBAL") if n in dis.opmap)
# 3.11+ shift some name indexes left to carry a flag in the low bit(s).
_NAME_SHIFT = {_LOAD_GLOBAL: 1 if sys.version_info >= (3, 11) else 0}
if sys.version_info >= (3, 12):
    _NAME_SHIFT[dis.opmap["LOAD_ATTR"]] = 1
    _NAME_SHIFT[dis.opmap["LOAD_SUPER_ATTR"]] = 2
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def is_function_body(code: CodeType) -> bool:
    """Whether ``code`` is a named function's body (not a class body, lambda or comprehension)."""
    return bool(code.co_flags & CO_OPTIMIZED) and not code.co_name.startswith("<")


_PLAIN = frozenset({str, bytes, int, bool, type(None), type(...)})


def _const_key(value: object) -> object:
    if type(value) in _PLAIN:
        return (type(value), value)  # type first: ``1`` and ``True`` are equal values
    if isinstance(value, tuple):
        return ("tuple", tuple(_const_key(v) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", tuple(sorted(repr(_const_key(v)) for v in value)))
    return (type(value).__name__, repr(value))


def fingerprint(code: CodeType, bodies: list[tuple[str, CodeType]] | None = None) -> tuple:
    """What ``code`` does, whatever lines it sits on; line tables are left out.

    With ``bodies``, nested named functions count by their qualified name
    only and are appended to ``bodies``: the fingerprint of a statement's
    *shell* (decorators, defaults, bases, class-level assignments).
    """
    consts = []
    for c in code.co_consts:
        if isinstance(c, CodeType):
            if bodies is not None and is_function_body(c):
                bodies.append((c.co_qualname if hasattr(c, "co_qualname") else c.co_name, c))
                consts.append(("def", bodies[-1][0]))
            else:
                consts.append(fingerprint(c, bodies))
        else:
            consts.append(_const_key(c))
    return (
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_flags,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_name,
        tuple(consts),
    )


class _Instruction:
    __slots__ = ("key", "op", "name", "value", "line", "end_line", "bodies", "nested")

    def __init__(self, key, op, name, value, line, end_line, bodies, nested) -> None:
        self.key = key
        self.op = op
        self.name = name  # the name a name instruction uses
        self.value = value  # the constant a constant instruction loads
        self.line = line
        self.end_line = end_line
        self.bodies = bodies  # named functions whose code this loads
        self.nested = nested  # other code it loads (class bodies, comprehensions)


def _instructions(code: CodeType) -> list[_Instruction]:
    """The top-level instructions of a module code, without its entry and its final return."""
    raw = code.co_code
    positions = list(code.co_positions())
    consts = code.co_consts
    names = code.co_names
    out: list[_Instruction] = []
    append = out.append
    ext = 0
    none = ()  # shared by the instructions that load no code: never appended to
    for unit, op in enumerate(raw[0::2]):
        # Inline caches are most of a 3.11 code's units: skipped first.
        if op == _CACHE:
            continue
        arg = raw[2 * unit + 1] | ext
        if op == _EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        if op == _RESUME:
            continue
        line, end_line, col, _ = positions[unit]
        name = value = None
        bodies = nested = none
        if op in _HASCONST:
            value = consts[arg]
            if isinstance(value, CodeType):
                bodies = []
                if is_function_body(value):
                    qualname = getattr(value, "co_qualname", value.co_name)
                    bodies.append((qualname, value))
                    argkey: object = ("def", qualname)
                else:
                    argkey = fingerprint(value, bodies)
                    nested = [value]
            else:
                argkey = _const_key(value)
        elif op == _RETURN_CONST:
            value = consts[arg]
            argkey = _const_key(value)
        elif op in _HASNAME:
            shift = _NAME_SHIFT.get(op, 0)
            name = names[arg >> shift]
            argkey = (name, arg & ((1 << shift) - 1))
        elif op in _HASJABS:
            argkey = arg - unit
        else:
            argkey = arg
        # Where an instruction ends is left out: the ones that make a function
        # span its whole ``def``, which grows with its body.
        append(_Instruction((op, argkey, col), op, name, value, line, end_line, bodies, nested))
    # The implicit ``return None`` ends every module code.
    if out and out[-1].op == _RETURN_CONST:
        out.pop()
    elif len(out) >= 2 and out[-1].op == _RETURN_VALUE and out[-2].op == _LOAD_CONST:
        del out[-2:]
    return out


# The module codes the last reloads ran, with their instructions, for the next
# reloads' comparison (a few entries, the oldest dropped).
_read: list[tuple[CodeType, list[_Instruction]]] = []
# Fingerprints of the function bodies of the last plan's new code, by code
# object (held, so that the ids stay theirs): the next plan's old bodies.
_fingerprints: dict[int, tuple[CodeType, tuple]] = {}


def _instructions_of(code: CodeType) -> list[_Instruction]:
    """The top-level instructions of a module code, read once per code."""
    for known, instructions in _read:
        if known is code:
            return instructions
    instructions = _instructions(code)
    _read.append((code, instructions))
    del _read[:-8]
    return instructions


def _fingerprint(code: CodeType) -> tuple:
    hit = _fingerprints.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    fp = fingerprint(code)
    _fingerprints[id(code)] = (code, fp)
    return fp


def _keep_fingerprints(statements: list[_Statement]) -> None:
    """Keep only the fingerprints of the new code's bodies: nothing grows from reload to reload."""
    keep = {id(code) for s in statements for _, code in s.bodies}
    for key in [k for k in _fingerprints if k not in keep]:
        del _fingerprints[key]


class _Statement:
    __slots__ = (
        "first",
        "last",
        "text",
        "bodies",
        "binds",
        "reads",
        "whole",
        "imports",
        "full",
        "inert",
    )

    def __init__(self, first: int) -> None:
        self.first = first  # its first and last line
        self.last = first
        self.text = ""  # its instruction keys, one character each
        self.bodies: list[tuple[str, CodeType]] = []
        self.binds: set[str] = set()
        self.reads: set[str] = set()
        self.whole = True  # its instructions are one contiguous run
        # ``(module, names)`` of each import: the names ``from module import`` reads, None for ``import``.
        self.imports: list[tuple[str, tuple[str, ...] | None]] = []
        self.full = False  # it sets ``__reload__ = "full"``
        # Only NOPs: a string or ``...`` on its own.  Where the last statement
        # of the old code is such a string, the implicit return took its line,
        # so it matches nothing; run first, it would become the module's docstring.
        self.inert = True


class Plan:
    """How to reload one module: the code to run and the functions to give new code in place."""

    __slots__ = (
        "code",
        "recode",
        "swapped",
        "stale",
        "ran",
        "kept",
        "rebound",
        "retired",
        "docs",
        "binds",
    )

    def __init__(
        self,
        code: CodeType | None,
        recode: list[tuple[FunctionType, CodeType]],
        ran: int,
        kept: int,
        stale: list[object] | None = None,
        rebound: frozenset[str] = frozenset(),
        retired: list[CodeType] | None = None,
        docs: list[tuple[type, str]] | None = None,
        binds: dict[str, object] | None = None,
    ) -> None:
        #: The statements to run, compiled together in source order (None: nothing runs).
        self.code = code
        #: ``(live function, new code)`` of each function edited in place.
        self.recode = recode
        #: ``(old code, new code)`` of each of those, for closures they made before.
        self.swapped = [(f.__code__, code) for f, code in recode]
        #: What holds answers the old code gave: the ABCs whose methods are edited
        #: (their ``isinstance`` caches) and ``lru_cache`` wrappers of edited functions.
        self.stale = stale or []
        #: How many top-level statements run, and how many were left as they were.
        self.ran = ran
        self.kept = kept
        #: The names the statements that run bind: what ``from module import``
        #: in the modules reloaded after it must read again.
        self.rebound = rebound
        #: The function bodies of the old code's statements that no statement of the
        #: new code stands for (removed or changed): what they made or registered
        #: on live objects is not made again by a restart.
        self.retired = retired or []
        #: ``(live class, new docstring)`` of each class whose docstring alone changed.
        self.docs = docs or []
        #: The names bound anew to a constant, where that binding was all a statement did.
        self.binds = binds or {}


_CLAUSES = ("else", "elif", "except", "finally")


def _starts(lines: list[str], instructions: list[_Instruction]) -> list[int]:
    """The lines where a top-level statement may start (1-based).

    Read from the text without parsing it (a parse costs more than the
    compile): a line that starts at column 0 with code, is not a clause of the
    statement above (``else:``, ``except``), does not follow a decorator, and
    is not inside what a top-level instruction spans (a bracket, a string, a
    ``def``).  A line taken wrongly only splits a statement in two; the half
    with no instructions is put back (:func:`_split`).
    """
    covered = bytearray(len(lines) + 2)
    for ins in instructions:
        if ins.line and ins.end_line and ins.end_line > ins.line:
            covered[ins.line + 1 : ins.end_line + 1] = b"\x01" * (ins.end_line - ins.line)
    starts = []
    decorated = False
    for number, line in enumerate(lines, 1):
        if not line or line[0] in " \t\f#\\" or covered[number]:
            continue
        if decorated:
            decorated = line[0] == "@"
            continue
        word = line.split(None, 1)[0].rstrip(":")
        if word in _CLAUSES:
            continue
        starts.append(number)
        decorated = line[0] == "@"
    return starts


def _split(code: CodeType, lines: list[str], package: str, alphabet: dict) -> list[_Statement]:
    """The new module's statements, each with its instructions."""
    import bisect

    instructions = _instructions_of(code)
    letters = [_symbol(i.key, alphabet) for i in instructions]
    starts = _starts(lines, instructions) or [1]
    statements = [_Statement(first) for first in starts]
    for s, nxt in zip(statements, [*starts[1:], len(lines) + 1]):
        s.last = nxt - 1
    texts: list[list[str]] = [[] for _ in statements]
    current = -1
    done: set[int] = set()
    recent: list[object] = [None, None]
    for ins, letter in zip(instructions, letters):
        if ins.line:
            where = max(bisect.bisect_right(starts, ins.line) - 1, 0)
            if where != current:
                if where in done or where < current:
                    statements[where].whole = False
                    if current >= 0:
                        statements[current].whole = False
                if current >= 0:
                    done.add(current)
                current = where
        if current < 0:
            current = 0
        s = statements[current]
        texts[current].append(letter)
        if ins.op != _NOP:
            s.inert = False
        s.bodies.extend(ins.bodies)
        if ins.op in _BINDS:
            s.binds.add(ins.name)
            if ins.name == "__reload__" and recent[1] == "full":
                s.full = True
        elif ins.op in _READS:
            s.reads.add(ins.name)
        elif ins.op == _IMPORT_NAME:
            level, fromlist = recent
            base = absolute_name(ins.name, level if isinstance(level, int) else 0, package)
            if base:
                s.imports.append((base, fromlist if isinstance(fromlist, tuple) else None))
        for nested in ins.nested:
            _nested_names(nested, s.reads)
        if ins.op in _HASCONST:
            recent = [recent[1], ins.value]
    for s, text in zip(statements, texts):
        s.text = "".join(text)
    # A statement with no instructions of its own (a ``pass``, or a line wrongly
    # taken for a start) belongs to the one above.
    out: list[_Statement] = []
    for s in statements:
        if not s.text and out:
            out[-1].last = s.last
        else:
            out.append(s)
    return out


def _nested_names(code: CodeType, into: set[str]) -> None:
    """Names a class body or comprehension run by a statement may read (a superset)."""
    into.update(code.co_names)
    for c in code.co_consts:
        if isinstance(c, CodeType) and not is_function_body(c):
            _nested_names(c, into)


def _symbol(key: tuple, alphabet: dict) -> str:
    """One character per distinct instruction key, so that a statement is found with ``str.find``."""
    symbol = alphabet.get(key)
    if symbol is None:
        n = len(alphabet) + 0x800
        # Past the surrogates, which are not characters.
        symbol = alphabet[key] = chr(n if n < 0xD800 else n + 0x800)
    return symbol


class Unknown(Exception):
    """The old code is not what the module runs (a live function differs from it)."""


class Whole(Exception):
    """Running only what changed would not do what a restart does: the module must run whole."""


def source_lines(data: bytes) -> list[str]:
    """The lines of a module's source bytes, as the compiler numbers them."""
    if b"coding" in data[:200]:
        from importlib.util import decode_source

        text = decode_source(data)
    else:
        text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def plan(
    file: str,
    new: CodeType,
    data: bytes,
    old: CodeType,
    ns: dict,
    package: str,
    reloaded: dict[str, frozenset[str] | None],
    verify: bool,
) -> Plan | None:
    """What to run of ``new`` (compiled from ``data``) in ``ns``, whose module runs ``old``.

    None when the module asks to run whole (``__reload__ = "full"``).  With
    ``verify`` (``old`` was read from a ``.pyc`` or cached lines, not recorded
    by a reload), raises :class:`Unknown` when a live function of an
    unchanged statement does not run ``old``'s code for it.  ``reloaded`` maps
    each module reloaded with it to the names its run rebinds (its plan's
    ``rebound``; nothing for one that has not run yet), None for one that ran whole.
    """
    alphabet: dict = {}
    old_instructions = _instructions_of(old)
    old_text = "".join([_symbol(i.key, alphabet) for i in old_instructions])
    lines = source_lines(data)
    statements = _split(new, lines, package, alphabet)
    if any(s.full for s in statements):
        return None
    # Of several bodies of one name (``typing.overload`` stubs before the real
    # ``def``), the name can hold only the last one the module ran.
    last_of_name = {name: code for i in old_instructions for name, code in i.bodies}
    # The names of live functions that an unchanged body made, and of those none did.
    found: set[str] = set()
    missed: set[str] = set()
    taken: set[int] = set()
    kept_spans: list[tuple[int, int]] = []
    claimed: set[int] = set()
    stale: list[object] = []
    run: list[_Statement] = []
    recode: list[tuple[FunctionType, CodeType]] = []
    bound: set[str] = set()
    kept = 0
    binders = {name for s in statements for name in s.binds}
    for s in statements:
        if s.inert:
            kept += 1
            continue
        verdict = (
            _match(s, old_text, old_instructions, taken, kept_spans) if s.whole and s.text else None
        )
        if verdict is not None and (
            s.reads & bound
            or s.binds & bound
            or _imports_rebound(s, reloaded)
            or _reads_module_run_whole(s, ns, reloaded)
        ):
            verdict = None  # it reads or rebinds what a statement that runs binds
        edits: list[tuple[FunctionType, CodeType]] | None = []
        if verdict is not None:
            for name, old_code, new_code, same in verdict:
                if same and not verify:
                    continue
                live = _live_function(ns, name, old_code, claimed, stale if not same else None)
                if live is not None:
                    found.add(name)
                    if not same:
                        edits.append((live, new_code))
                elif verify and last_of_name.get(name) is old_code and _has_function(ns, name):
                    missed.add(name)
                elif not same:
                    edits = None  # no live function to edit: the statement runs again
                    break
        if verdict is None or edits is None:
            deleted = [n for n in s.reads - bound if n in binders and n not in ns]
            if deleted and not all(hasattr(builtins, n) for n in deleted):
                # ``del operator`` after the top level used it: only the whole
                # module binds it again before the statement reads it.
                raise Whole(f"a statement that runs reads {deleted[0]!r}, which it deleted")
            run.append(s)
            bound |= s.binds
        else:
            kept += 1
            recode.extend(edits)
    # A live function that none of the module's bodies of its name made (of a
    # ``def`` in each branch of an ``if``, or a ``def`` and one in an ``if`` not
    # taken after it, one made it).
    if missed - found:
        raise Unknown(sorted(missed - found)[0])
    _keep_fingerprints(statements)
    code = None
    if run:
        code = cut(new, [(s.first, s.last) for s in run])
    if run and code is None:
        # The statements that run, at their own lines (the others blanked), so
        # that tracebacks and line numbers are those of the file.
        padded = [""] * len(lines)
        for s in run:
            padded[s.first - 1 : s.last] = lines[s.first - 1 : s.last]
        code = compile(
            "\n".join(padded), file, "exec", flags=new.co_flags & _FUTURE_FLAGS, dont_inherit=True
        )
    retired = _retired(old_instructions, kept_spans)
    return Plan(code, recode, len(run), kept, stale, frozenset(bound), retired)


def _imports_rebound(s: _Statement, reloaded: dict[str, frozenset[str] | None]) -> bool:
    """Whether ``s`` imports a name that a module reloaded with it rebinds.

    ``import m`` binds the module object, which a reload keeps; ``from m import
    f`` of a function or class that did not run again gets the same object.
    """
    for module, names in s.imports:
        if names is None or module not in reloaded:
            continue
        rebound = reloaded[module]
        if rebound is None or (rebound if "*" in names else rebound.intersection(names)):
            return True
    return False


def _reads_module_run_whole(
    s: _Statement, ns: dict, reloaded: dict[str, frozenset[str] | None]
) -> bool:
    """Whether ``s`` reads a module that ran whole in this call (``reg.register(...)``).

    Its whole run made its state anew (an empty registry): what this module's
    top level did with it at start-up must be done again, as a restart would.
    """
    for name in s.reads:
        value = ns.get(name)
        if isinstance(value, ModuleType):
            if value.__name__ in reloaded and reloaded[value.__name__] is None:
                return True
    return False


def _retired(old: list[_Instruction], spans: list[tuple[int, int]]) -> list[CodeType]:
    """The bodies of the old instructions outside every span a new statement matched."""
    matched = bytearray(len(old))
    for at, length in spans:
        matched[at : at + length] = b"\x01" * length
    return [code for i, flag in zip(old, matched) if not flag for _, code in i.bodies]


def _match(
    s: _Statement,
    old_text: str,
    old: list[_Instruction],
    taken: set[int],
    spans: list[tuple[int, int]],
) -> list[tuple[str, CodeType, CodeType, bool]] | None:
    """The old statement that matches ``s``: None if none does, else its bodies.

    Each body is ``(qualified name, old code, new code, unchanged)``.
    """
    at = old_text.find(s.text)
    while at >= 0 and at in taken:
        at = old_text.find(s.text, at + 1)
    if at < 0:
        return None
    taken.add(at)
    old_bodies = [b for i in old[at : at + len(s.text)] for b in i.bodies]
    if len(old_bodies) != len(s.bodies):
        return None
    out = []
    for (name, new_code), (old_name, old_code) in zip(s.bodies, old_bodies):
        if name != old_name:
            return None
        same = _same_body(new_code, old_code)
        if not same and new_code.co_freevars != old_code.co_freevars:
            return None  # its closure changes shape: the statement runs again
        out.append((name, old_code, new_code, same))
    spans.append((at, len(s.text)))
    return out


def _same_body(a: CodeType, b: CodeType) -> bool:
    """Whether two function codes do the same, whatever lines they sit on."""
    if a.co_code != b.co_code or a.co_names != b.co_names or a.co_varnames != b.co_varnames:
        return False
    consts = a.co_consts
    plain = all(type(c) in _PLAIN for c in consts)
    if plain and all(type(c) in _PLAIN for c in b.co_consts):
        if list(map(type, consts)) != list(map(type, b.co_consts)) or consts != b.co_consts:
            return False  # plain constants: told apart by value and type, no fingerprint
    if plain and consts == b.co_consts and list(map(type, consts)) == list(map(type, b.co_consts)):
        # Plain constants of the same types: equal values are the same constants.
        return (a.co_freevars, a.co_cellvars, a.co_flags, a.co_argcount, a.co_name) == (
            b.co_freevars,
            b.co_cellvars,
            b.co_flags,
            b.co_argcount,
            b.co_name,
        ) and (a.co_posonlyargcount, a.co_kwonlyargcount) == (
            b.co_posonlyargcount,
            b.co_kwonlyargcount,
        )
    return _fingerprint(a) == _fingerprint(b)


def _holder(ns: dict, qualname: str) -> object:
    """What the module holds under ``qualname``'s path (a method through its class), or None."""
    parts = qualname.split(".")
    if "<locals>" in parts:
        return None
    obj = ns.get(parts[0])
    for part in parts[1:]:
        if not isinstance(obj, type):
            return None
        obj = obj.__dict__.get(part)
    return obj


def _functions_under(obj: object, caches: list[object] | None = None) -> list[FunctionType]:
    """The functions ``obj`` is or wraps: through decorators, methods' wrappers, closures.

    ``caches`` collects the ``lru_cache`` wrappers passed through.
    """
    found: list[FunctionType] = []
    seen: set[int] = set()
    todo = [obj]
    while todo and len(seen) < 64:
        o = todo.pop()
        if o is None or id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, FunctionType):
            found.append(o)
            todo.extend(_cells(o))
            todo.append(o.__dict__.get("__wrapped__"))
        elif isinstance(o, (classmethod, staticmethod)):
            todo.append(o.__func__)
        elif isinstance(o, property):
            todo.extend((o.fget, o.fset, o.fdel))
        else:
            attrs = getattr(type(o), "__dict__", {})
            if "__wrapped__" in attrs or "func" in attrs or "__func__" in attrs:
                continue  # a descriptor of its own: do not run its code
            try:
                inner = object.__getattribute__(o, "__dict__")
            except AttributeError:
                continue
            if isinstance(inner, dict):
                if caches is not None and type(o) is _LRU_WRAPPER:
                    caches.append(o)
                todo.append(inner.get("__wrapped__"))
                todo.append(inner.get("func"))
    return found


def _cells(f: FunctionType) -> list[object]:
    out = []
    for cell in f.__closure__ or ():
        try:
            out.append(cell.cell_contents)
        except ValueError:
            pass
    return out


def _has_function(ns: dict, qualname: str) -> bool:
    return any(f.__qualname__ == qualname for f in _functions_under(_holder(ns, qualname)))


def _live_function(
    ns: dict, qualname: str, old_code: CodeType, claimed: set[int], stale: list[object] | None
) -> FunctionType | None:
    """The live function named ``qualname`` that runs ``old_code``'s code, not yet claimed.

    ``stale`` collects, when given, what caches answers of that function: the
    ``lru_cache`` wrappers around it and the ABCs it is a method of.
    """
    want = None
    caches: list[object] = []
    for f in _functions_under(_holder(ns, qualname), caches):
        if f.__qualname__ != qualname or id(f) in claimed:
            continue
        if want is None and f.__code__ is not old_code:
            want = _fingerprint(old_code)
        if f.__code__ is old_code or (
            f.__code__.co_code == old_code.co_code and _fingerprint(f.__code__) == want
        ):
            claimed.add(id(f))
            if stale is not None:
                stale.extend(caches)
                owner = _holder(ns, qualname.rpartition(".")[0]) if "." in qualname else None
                if isinstance(owner, type):
                    stale.append(owner)
            return f
    return None
