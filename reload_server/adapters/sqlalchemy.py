"""SQLAlchemy: a reloaded model module keeps its live mappers and tables.

A class statement of a mapped class that runs again maps the new class: a new
mapper, new instrumented attributes, a new ``__init__`` wrapper, a new ``Table``
in the ``MetaData`` (which refuses a second table of the same name) and a second
entry in the registry's string lookup (``relationship("User")``).  Rows already
loaded, sessions and queries hold the old mapper, so the old one must stay:

- before the run, the modules' mapped classes leave their registries' string
  lookup and their tables leave the ``MetaData``, so the new code runs without
  colliding;
- the check compares each new table with the old one and each new mapper's
  relationships with the old ones, and refuses what a live mapper cannot take
  (a column added, removed or retyped, a relationship changed);
- then each new class's mapper is disposed of and the new class takes the old
  one's mapper, table and instrumented attributes, so the merge keeps them on
  the old class and copies only the new methods;
- the commit puts the old classes and tables back, moves new models made under
  a re-made declarative base into the old base's registry and ``MetaData``,
  and disposes of the registries the run made; a rollback puts everything back
  as it was before the run.
"""

from __future__ import annotations

import sys
from types import FunctionType

from sqlalchemy.orm import clsregistry, registry
from sqlalchemy.orm.attributes import QueryableAttribute
from sqlalchemy.orm.relationships import RelationshipProperty
from sqlalchemy.sql.schema import MetaData, Table

from reload_server.core.adapters import Adapter
from reload_server.core.results import WARNING, Note

from ..core.values import is_a

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import ModuleType

# What mapping installs on a declarative base, kept from the old base.
_BASE_KEYS = ("registry", "_sa_registry", "metadata")
# What mapping installs on a mapped class besides its instrumented attributes.
_MAPPED_KEYS = ("_sa_class_manager", "__mapper__", "__table__")


class SchemaChanged(Exception):
    """A mapped class's table or relationships changed: a live mapper cannot take it."""


def _mappers_module() -> ModuleType:
    # ``sqlalchemy.orm.mapper`` is shadowed by a name of the package: reach the module itself.
    import sqlalchemy.orm.mapper  # noqa: F401

    return sys.modules["sqlalchemy.orm.mapper"]


def _manager(cls: object) -> object | None:
    """The class manager of a class mapped itself (not one it inherits), else None."""
    if not is_a(cls, type):
        return None
    manager = cls.__dict__.get("_sa_class_manager")
    return manager if manager is not None and manager.is_mapped else None


def _is_base(cls: object) -> bool:
    return is_a(cls, type) and is_a(cls.__dict__.get("registry"), registry)


class _MetaDataState:
    """What a ``MetaData`` held before the run, to put back exactly."""

    def __init__(self, md: MetaData) -> None:
        self.md = md
        self.tables = dict(md.tables)
        self.schemas = set(md._schemas)
        self.sequences = dict(md._sequences)
        self.fk_memos = {k: list(v) for k, v in md._fk_memos.items()}

    def restore(self) -> None:
        md = self.md
        dict.clear(md.tables)
        dict.update(md.tables, self.tables)
        md._schemas = set(self.schemas)
        md._sequences.clear()
        md._sequences.update(self.sequences)
        md._fk_memos.clear()
        for k, v in self.fk_memos.items():
            md._fk_memos[k] = list(v)


class SQLAlchemyAdapter(Adapter):
    """Keeps the old mappers of reloaded model modules; refuses schema edits."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        # Per module name: the old namespace values that matter (name -> value).
        self._old: dict[str, dict[str, object]] = {}
        self._classes: list[type] = []  # old mapped classes taken out of the string lookup
        self._tables: dict[int, tuple[MetaData, Table]] = {}  # old tables taken out
        self._metadatas: dict[int, _MetaDataState] = {}
        self._registries_before: set[int] = set()
        self._managers_before: dict[int, set[int]] = {}
        self._old_registries: list[registry] = []
        # Set by check: new registry/MetaData (by id) -> the old one it stands for.
        self._registry_pairs: dict[int, tuple[registry, registry]] = {}
        self._metadata_pairs: dict[int, tuple[MetaData, MetaData]] = {}
        self._kept: list[tuple[type, type]] = []  # (old, new) mapped class pairs
        self._table_pairs: dict[int, Table] = {}  # id(new table) -> the old one it stands for
        self._inits: list[tuple[type, type, object]] = []  # (old class, new class, new __init__)

    # -- before the run ---------------------------------------------------------

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        self._names = {m.__name__ for m in modules}
        mappers = _mappers_module()
        self._registries_before = {id(r) for r in mappers._mapper_registries}
        for module in modules:
            old = self._old.setdefault(module.__name__, {})
            for key, value in list(module.__dict__.items()):
                if is_a(value, (MetaData, registry, Table)) or (
                    is_a(value, type) and value.__module__ == module.__name__
                ):
                    old[key] = value
                manager = _manager(value)
                if manager is not None and value.__module__ == module.__name__:
                    old[key] = value
                    self._take_out_class(value, manager)
                if is_a(value, Table):
                    self._take_out_table(value)
                elif _is_base(value) and value.__module__ == module.__name__:
                    self._note_registry(value.__dict__["registry"])
                elif is_a(value, registry):
                    self._note_registry(value)

    def _note_registry(self, reg: registry) -> None:
        if id(reg) not in self._managers_before:
            self._old_registries.append(reg)
            self._managers_before[id(reg)] = {id(m) for m in reg._managers}
            self._note_metadata(reg.metadata)

    def _note_metadata(self, md: MetaData) -> None:
        if id(md) not in self._metadatas:
            self._metadatas[id(md)] = _MetaDataState(md)

    def _take_out_class(self, cls: type, manager: object) -> None:
        reg = manager.registry
        self._note_registry(reg)
        self._classes.append(cls)
        clsregistry._remove_class(cls.__name__, cls, reg._class_registry)
        table = manager.mapper.local_table
        if is_a(table, Table) and "__tablename__" in cls.__dict__:
            self._take_out_table(table)

    def _take_out_table(self, table: Table) -> None:
        md = table.metadata
        if md.tables.get(table.key) is not table or id(table) in self._tables:
            return
        self._note_metadata(md)
        self._tables[id(table)] = (md, table)
        md.remove(table)

    # -- check ----------------------------------------------------------------------

    def check(self, modules: Sequence[ModuleType]) -> None:
        pairs: list[tuple[type, type]] = []
        problems: list[str] = []
        for module in modules:
            ns = module.__dict__
            for key, old in self._old.get(module.__name__, {}).items():
                new = ns.get(key)
                if new is old or new is None:
                    continue
                if _is_base(old) and _is_base(new):
                    self._pair_registry(old.__dict__["registry"], new.__dict__["registry"])
                elif is_a(old, registry) and is_a(new, registry):
                    self._pair_registry(old, new)
                elif is_a(old, MetaData) and is_a(new, MetaData):
                    self._metadata_pairs[id(new)] = (new, old)
                elif _manager(old) is not None:
                    if _manager(new) is None:
                        if is_a(new, type):
                            problems.append(f"{module.__name__}.{key} is no longer mapped")
                        continue
                    pairs.append((old, new))
            for key, new in ns.items():
                old = self._old.get(module.__name__, {}).get(key)
                if _manager(new) is not None and is_a(old, type) and _manager(old) is None:
                    problems.append(
                        f"{module.__name__}.{key} became a mapped class; instances made "
                        "before cannot take a mapper"
                    )
        problems += self._table_changes()
        for old, new in pairs:
            problems += _mapping_changes(old, new)
        if problems:
            raise SchemaChanged(
                "SQLAlchemy cannot change the schema of live mappers: "
                + "; ".join(problems)
                + " (restart the program to apply it)"
            )
        for old, new in pairs:
            self._keep_old_mapping(old, new)
        for module in modules:
            ns = module.__dict__
            for key, old in self._old.get(module.__name__, {}).items():
                new = ns.get(key)
                if new is None or new is old:
                    continue
                if _is_base(old) and _is_base(new):
                    # The merge then keeps the old base's registry and MetaData.
                    for k in _BASE_KEYS:
                        if k in old.__dict__:
                            type.__setattr__(new, k, old.__dict__[k])
                elif (is_a(old, registry) and is_a(new, registry)) or (
                    is_a(old, MetaData) and is_a(new, MetaData)
                ):
                    ns[key] = old  # the module keeps the registry its classes are in

    def _pair_registry(self, old: registry, new: registry) -> None:
        if old is not new:
            self._registry_pairs[id(new)] = (new, old)
            self._metadata_pairs[id(new.metadata)] = (new.metadata, old.metadata)

    def _new_metadata_for(self, md: MetaData) -> MetaData:
        for new, old in self._metadata_pairs.values():
            if old is md:
                return new
        return md

    def _table_changes(self) -> list[str]:
        problems = []
        for md, old in self._tables.values():
            new = self._new_metadata_for(md).tables.get(old.key)
            if new is None or new is old:
                continue  # not made again: the old table stays
            self._table_pairs[id(new)] = old
            problems += _column_changes(old, new)
        return problems

    def _keep_old_mapping(self, old: type, new: type) -> None:
        """Dispose of ``new``'s mapper and give ``new`` the old mapping, for the merge to keep."""
        manager = new.__dict__["_sa_class_manager"]
        if manager.original_init is not old.__dict__["_sa_class_manager"].original_init:
            # The old class's __init__ wrapper calls the old one: wrap the new one at commit.
            self._inits.append((old, new, manager.original_init))
        _dispose(manager.registry, manager)
        od = old.__dict__
        for k, v in od.items():
            if k in _MAPPED_KEYS or is_a(v, QueryableAttribute) or _is_sa_init(k, v):
                type.__setattr__(new, k, v)
        self._kept.append((old, new))

    # -- commit -----------------------------------------------------------------------

    def committed(self, modules: Sequence[ModuleType]) -> Iterable[Note] | None:
        notes: list[Note] = []
        added = self._tables_added()
        for state in self._metadatas.values():
            state.restore()
        for md, table in added:
            _add_table(md, table)
        for _md, table in added:
            _retarget_foreign_keys(table)
        self._move_new_mappers()
        self._retarget_relationships()
        self._put_back_classes()
        for new, _old in self._registry_pairs.values():
            new.dispose(cascade=True)  # emptied: its new models moved, the others disposed of
        for cls in self._classes:
            _rehook(cls.__dict__["__mapper__"])
        for old, new, init in self._inits:
            _rewrap_init(old, new, init)
        for module in modules:
            ns = module.__dict__
            for key, old in self._old.get(module.__name__, {}).items():
                if _manager(old) is not None and key not in ns:
                    notes.append(
                        Note(
                            f"{module.__name__}.{key}: removed from the source, but its "
                            "mapper and table stay until the program restarts",
                            severity=WARNING,
                            module=module.__name__,
                            kind="fallback",
                        )
                    )
        return notes

    def _tables_added(self) -> list[tuple[MetaData, Table]]:
        """Tables the new code made that no old table stands for, with the MetaData they go to."""
        old_keys = {(id(md), t.key) for md, t in self._tables.values()}
        added = []
        for state in self._metadatas.values():
            md = state.md
            for key, table in md.tables.items():
                if key not in state.tables and (id(md), key) not in old_keys:
                    added.append((md, table))
        for new, old in self._metadata_pairs.values():
            if new is old:
                continue
            for key, table in list(new.tables.items()):
                if (id(old), key) not in old_keys and key not in old.tables:
                    new._remove_table(table.name, table.schema)
                    table.metadata = old
                    added.append((old, table))
        return added

    def _move_new_mappers(self) -> None:
        """New models mapped under a re-made base join the old base's registry."""
        for new, old in self._registry_pairs.values():
            for manager in list(new._managers):
                cls = manager.class_
                new._managers.pop(manager, None)
                clsregistry._remove_class(cls.__name__, cls, new._class_registry)
                manager.registry = manager.mapper.registry = old
                old._managers[manager] = True
                clsregistry._add_class(cls.__name__, cls, old._class_registry)
                old._flag_new_mapper(manager.mapper)

    def _retarget_relationships(self) -> None:
        """New mappers' relationships given a class or table the run made anew take the old one."""
        olds: dict[int, object] = {id(new): old for old, new in self._kept}
        olds.update(self._table_pairs)
        for reg in self._old_registries:
            before = self._managers_before[id(reg)]
            for manager in list(reg._managers):
                if id(manager) in before:
                    continue
                for prop in manager.mapper._init_properties.values():
                    if is_a(prop, RelationshipProperty):
                        prop.argument = olds.get(id(prop.argument), prop.argument)
                        for arg in prop._init_args:
                            arg.argument = olds.get(id(arg.argument), arg.argument)

    def _put_back_classes(self) -> None:
        for cls in self._classes:
            reg = cls.__dict__["_sa_class_manager"].registry
            clsregistry._add_class(cls.__name__, cls, reg._class_registry)

    def _dispose_run_registries(self) -> None:
        """Dispose of the registries the undone run made for the reloaded modules."""
        mappers = _mappers_module()
        for reg in list(mappers._mapper_registries):
            if id(reg) in self._registries_before:
                continue
            if all(m.class_.__module__ in self._names for m in reg._managers):
                reg.dispose(cascade=True)

    # -- rollback -----------------------------------------------------------------------

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        for reg in self._old_registries:
            before = self._managers_before[id(reg)]
            for manager in list(reg._managers):
                if id(manager) not in before and manager.class_.__module__ in self._names:
                    _dispose(reg, manager)
        self._dispose_run_registries()
        for state in self._metadatas.values():
            state.restore()
        self._put_back_classes()
        for cls in self._classes:
            _rehook(cls.__dict__["__mapper__"])


def _dispose(reg: registry, manager: object) -> None:
    """Dispose of a mapper the run made, and unhook it from the old mapper it inherits."""
    mapper = manager.__dict__.get("mapper")
    reg._managers.pop(manager, None)
    reg._dispose_manager_and_mapper(manager)
    parent = getattr(mapper, "inherits", None)
    if parent is not None:
        storage = parent._inheriting_mappers._storage
        storage[:] = [ref for ref in storage if ref() is not mapper]


def _rehook(mapper: object) -> None:
    """An old mapper is again the one its polymorphic identity loads, with fresh memos."""
    if mapper.polymorphic_identity is not None:
        mapper.polymorphic_map[mapper.polymorphic_identity] = mapper
    mapper._expire_memoizations()


def _rewrap_init(cls: type, new: type, init: object) -> None:
    """Make the mapper's ``__init__`` wrapper of an old class call the new ``__init__``."""
    closure = getattr(init, "__closure__", None)
    if closure and "__class__" in init.__code__.co_freevars:
        # super() in it must find the class instances have, as the merge does for methods.
        cell = closure[init.__code__.co_freevars.index("__class__")]
        if cell.cell_contents is new:
            cell.cell_contents = cls
    manager = cls.__dict__["_sa_class_manager"]
    manager.original_init = init
    manager._instrument_init()


def _is_sa_init(key: str, value: object) -> bool:
    return key == "__init__" and hasattr(value, "_sa_original_init")


def _add_table(md: MetaData, table: Table) -> None:
    md._add_table(table.name, table.schema, table)
    for fk in table.foreign_keys:
        try:
            _parent, table_key, column = fk._resolve_col_tokens()
        except Exception:  # noqa: BLE001, S112 - a memo only speeds up a later resolution
            continue
        memos = md._fk_memos[(table_key, column)]
        if fk not in memos:
            memos.append(fk)


def _retarget_foreign_keys(table: Table) -> None:
    """Foreign keys the run resolved to a table made anew (and discarded) point at the old one."""
    tables = table.metadata.tables
    for fk in table.foreign_keys:
        target = fk.__dict__.get("column")
        if target is None:
            # Its target table was out of the MetaData while the run made this
            # one (a model added beside models whose statements did not run
            # again): resolve it now, so that the column takes the target's type.
            column = fk._resolve_column(raiseerr=False)
            if column is not None:
                fk._set_target_column(column)
            continue
        if target.table is tables.get(target.table.key):
            continue
        kept = tables.get(target.table.key)
        column = kept.c.get(target.key) if kept is not None else None
        if column is None:
            continue
        if getattr(fk, "_table_column", None) is not None:
            fk._table_column = column  # given as a Column: the old table's
        fk.__dict__["column"] = column


# -- what a live mapper cannot take ------------------------------------------------------


def _describe(value: object) -> object:
    """A comparable description of a mapping argument, the same for old and new code."""
    if value is None or is_a(value, (str, int, float, bool)):
        return value
    if is_a(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if is_a(value, (tuple, list, set, frozenset)):
        return tuple(_describe(v) for v in value)
    if is_a(value, QueryableAttribute):
        return f"{value.class_.__qualname__}.{value.key}"
    if is_a(value, Table):
        return f"table {value.key}"
    if is_a(value, FunctionType):
        code = value.__code__
        return (code.co_code, code.co_names, tuple(map(repr, code.co_consts)))
    try:
        from sqlalchemy.sql.elements import ClauseElement

        if is_a(value, ClauseElement):
            return str(value)
    except Exception:  # noqa: BLE001 - an expression that cannot compile: compared by type
        return type(value).__name__
    return repr(value)


def _column(column: object) -> tuple:
    default = column.default
    return (
        repr(column.type),
        column.primary_key,
        column.nullable,
        tuple(sorted(fk.target_fullname for fk in column.foreign_keys)),
        None if default is None else _describe(getattr(default, "arg", default)),
    )


def _column_changes(old: Table, new: Table) -> list[str]:
    problems = []
    oc, nc = {c.key: c for c in old.columns}, {c.key: c for c in new.columns}
    for key in nc.keys() - oc.keys():
        problems.append(f"column {key!r} added to table {old.key!r}")
    for key in oc.keys() - nc.keys():
        problems.append(f"column {key!r} removed from table {old.key!r}")
    for key in oc.keys() & nc.keys():
        if _column(oc[key]) != _column(nc[key]):
            problems.append(
                f"column {key!r} of table {old.key!r} changed ({oc[key].type} → {nc[key].type})"
                if repr(oc[key].type) != repr(nc[key].type)
                else f"column {key!r} of table {old.key!r} changed"
            )
    return problems


def _relationships(mapper: object) -> dict[str, tuple]:
    """The relationships a mapper was declared with (not those backrefs added), described."""
    found = {}
    for key, prop in mapper._init_properties.items():
        if is_a(prop, RelationshipProperty):
            args = prop._init_args
            found[key] = (
                _describe(prop.argument),
                tuple((a.name, _describe(a.argument)) for a in args),
                _describe(prop.backref),
                prop.viewonly,
                prop.lazy,
                _describe(prop.collection_class),
                str(prop.cascade),
            )
    return found


def _mapper_args(cls: type) -> object:
    args = cls.__dict__.get("__mapper_args__")
    return _describe(sorted(args.items())) if is_a(args, dict) else _describe(args)


def _validators(mapper: object) -> dict[str, str]:
    return {key: fn.__name__ for key, (fn, _options) in mapper.validators.items()}


def _mapping_changes(old: type, new: type) -> list[str]:
    """What the new class's mapping changes besides its table, that the old mapper keeps."""
    where = f"{old.__module__}.{old.__qualname__}"
    old_mapper, new_mapper = old.__dict__["__mapper__"], new.__dict__["__mapper__"]
    before, after = _relationships(old_mapper), _relationships(new_mapper)
    problems = [f"relationship {k!r} added to {where}" for k in after.keys() - before.keys()]
    if _mapper_args(old) != _mapper_args(new):
        problems.append(f"__mapper_args__ of {where} changed")
    if _validators(old_mapper) != _validators(new_mapper):
        problems.append(f"the attributes @validates covers in {where} changed")
    problems += [f"relationship {k!r} removed from {where}" for k in before.keys() - after.keys()]
    problems += [
        f"relationship {k!r} of {where} changed"
        for k in before.keys() & after.keys()
        if before[k] != after[k]
    ]
    return problems
