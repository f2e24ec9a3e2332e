"""Django's registries kept right across a reload: app registry, signals, admin, URL resolvers.

Re-running a module that defines models, ``@receiver`` handlers, admin
registrations or URL patterns repeats those registrations against Django's
live registries.  This adapter takes the reloaded modules' registrations out of
the way before the new code runs, keeps what the edit did not register again,
refuses a model edit the database cannot follow, and on a rollback puts every
registry back exactly as it was.

Written for both ways a reload may run a module: its whole body again (each
registration runs again) or only its changed statements (an unchanged
registration does not): what a re-run did not register again is put back,
unless the source no longer defines it.
"""

from __future__ import annotations

import sys
import weakref
from types import FunctionType, MethodType, ModuleType

from django.apps import apps
from django.dispatch import Signal
from django.urls import clear_url_caches, get_resolver
from django.urls.resolvers import URLResolver

from reload_server.core.adapters import Adapter

from ..core.values import is_a

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from reload_server.core.results import Note

# Field options that say nothing about the database column: a live model may change them.
_NOT_SCHEMA = frozenset(
    {
        "verbose_name",
        "help_text",
        "choices",
        "default",
        "db_default",
        "blank",
        "validators",
        "editable",
        "error_messages",
        "related_name",
        "related_query_name",
        "limit_choices_to",
        "on_delete",
        "db_comment",
        "auto_now",
        "auto_now_add",
        "upload_to",
        "storage",
    }
)


class DjangoAdapter(Adapter):
    """One reload's view of Django: what it took out of the registries, to restore or keep."""

    def __init__(self) -> None:
        self.active = False
        self.names: set[str] = set()
        # App registry: (app label, model name) -> the model the old code registered.
        self.models: dict[tuple[str, str], type] = {}
        self.app_tables: dict[str, dict[str, type]] = {}
        # Reverse accessors that models of other modules put on the reloaded models.
        self.contributed: list[tuple[type, str, object]] = []
        # Signals: each signal's receiver list as it was before the new code ran.
        self.receivers: dict[Signal, list] = {}
        self.drop_keys: set[tuple[Signal, object]] = set()
        # id of a model class the new code made -> the old model it merges into.
        self.senders: dict[int, type] = {}
        # Admin: each site's registry before the new code ran, what was taken
        # out of it, and (decided before the merge) what to put back.
        self.admin: list[tuple[object, dict]] = []
        self.admin_taken: list[tuple[object, type, object]] = []
        self.admin_restore: list[tuple[object, type, object]] = []

    # -- hooks ----------------------------------------------------------------

    def before_run(self, modules: Sequence[ModuleType]) -> None:
        self.names = {m.__name__ for m in modules}
        # Django imported but never set up (a library importing it optionally):
        # it has no registries to keep.
        self.active = apps.ready and any(_uses_django(m) for m in modules)
        if not self.active:
            return
        self._take_models()
        self.receivers = {s: list(s.receivers) for s in _signals(self.names)}
        self._take_admin()

    def check(self, modules: Sequence[ModuleType]) -> None:
        if not self.active:
            return
        problems = []
        for (label, name), old in self.models.items():
            new = apps.all_models.get(label, {}).get(name)
            if new is not None and new is not old:
                problems.extend(_schema_changes(old, new))
        if problems:
            raise SchemaChanged(
                "; ".join(problems) + ": a live model cannot change its database columns "
                "(its table would no longer match); make a migration, apply it and restart "
                "the program"
            )
        self.senders = {
            id(new): old
            for (label, key), old in self.models.items()
            if (new := apps.all_models[label].get(key)) is not None and new is not old
        }
        self.drop_keys = self._duplicate_receivers(modules)
        self.admin_restore = self._admin_to_restore(modules)

    def committed(self, modules: Sequence[ModuleType]) -> Iterable[Note] | None:
        if not self.active:
            return None
        self._settle_models(modules)
        self._settle_receivers(modules)
        self._settle_admin()
        _refresh_url_resolvers()
        return None

    def rolled_back(self, modules: Sequence[ModuleType]) -> None:
        if not self.active:
            return
        for label, table in self.app_tables.items():
            current = apps.all_models[label]
            current.clear()
            current.update(table)
        apps.clear_cache()
        for signal, before in self.receivers.items():
            with signal.lock:
                signal.receivers[:] = before
                signal.sender_receivers_cache.clear()
        for site, registry in self.admin:
            site._registry.clear()
            site._registry.update(registry)
        _refresh_url_resolvers()

    # -- app registry ---------------------------------------------------------

    def _take_models(self) -> None:
        """Unregister the reloaded modules' models, so registering them again is no conflict."""
        for label, table in apps.all_models.items():
            mine = [k for k, model in table.items() if model.__module__ in self.names]
            if not mine:
                continue
            self.app_tables[label] = dict(table)
            for key in mine:
                self.models[label, key] = table.pop(key)
        for old in self.models.values():
            for rel in old._meta.related_objects:
                accessor = rel.get_accessor_name()
                if rel.related_model.__module__ not in self.names and accessor in old.__dict__:
                    self.contributed.append((old, accessor, old.__dict__[accessor]))
        if self.models:
            apps.clear_cache()

    def _settle_models(self, modules: Sequence[ModuleType]) -> None:
        """Register the class that survived the merge under each name the new code defines.

        A model the source no longer defines stays unregistered, as after a
        restart; an auto-created one (a many-to-many table) stays as the new
        code registered it, for the new fields refer to it.
        """
        by_name = {m.__name__: m for m in modules}
        for (label, key), old in self.models.items():
            table = apps.all_models[label]
            module = by_name.get(old.__module__)
            survivor = module.__dict__.get(old.__name__) if module is not None else None
            if _is_model(survivor, label, key):
                table[key] = survivor
            elif key not in table and old._meta.auto_created and survivor is None:
                table[key] = old  # its field's model was not defined again
        for label in self.app_tables:
            for model in apps.all_models[label].values():
                if model.__module__ in self.names:
                    _own_options(model)
        # The merge gave each model the new class's attributes, which lack the
        # reverse accessors other modules' relations once put on it.
        for old, accessor, descriptor in self.contributed:
            survivor = _registered(old)
            if accessor not in survivor.__dict__:
                setattr(survivor, accessor, descriptor)
        apps.clear_cache()

    # -- signals --------------------------------------------------------------

    def _duplicate_receivers(self, modules: Sequence[ModuleType]) -> set[tuple[Signal, object]]:
        """Receivers to drop at the commit, by (signal, lookup key).

        A receiver the new code connected again, under the old one's module,
        name and sender, is dropped: the old function takes the new code and
        stays connected.  An old receiver whose definition ran again without
        connecting it (its ``@receiver`` was removed) is dropped too.
        """
        senders = self.senders
        by_name = {m.__name__: m for m in modules}
        drop = set()
        for signal, before in self.receivers.items():
            old_keys = {entry[0] for entry in before}
            olds = {}
            for entry in before:
                target = _target(entry)
                if _from(target, self.names):
                    olds[_identity(target, entry[0], senders)] = entry
            again = set()
            for entry in signal.receivers:
                if entry[0] in old_keys:
                    continue
                target = _target(entry)
                if not _from(target, self.names):
                    continue
                old = olds.get(_identity(target, entry[0], senders))
                if old is not None:
                    drop.add((signal, entry[0]))
                    again.add(old[0])
            for entry in olds.values():
                if entry[0] in again or not is_a(entry[0][0], int):
                    continue  # registered again, or by dispatch_uid (a repeat is a no-op)
                target = _target(entry)
                module = by_name.get(getattr(target, "__module__", None))
                if module is not None and _ran_again(module, target):
                    drop.add((signal, entry[0]))
        return drop

    def _settle_receivers(self, modules: Sequence[ModuleType]) -> None:
        by_name = {m.__name__: m for m in modules}
        for signal in self.receivers:
            with signal.lock:
                kept = []
                for entry in signal.receivers:
                    if (signal, entry[0]) in self.drop_keys:
                        continue
                    target = _target(entry)
                    module = by_name.get(getattr(target, "__module__", None))
                    if module is not None and not _still_defined(module, target):
                        continue  # its definition left the source
                    key = entry[0]
                    old_sender = self.senders.get(key[1])
                    if old_sender is not None:
                        # Connected to a model class the merge discarded: to its survivor.
                        entry = ((key[0], id(old_sender)), *entry[1:])
                    kept.append(entry)
                signal.receivers[:] = kept
                signal.sender_receivers_cache.clear()

    # -- admin ----------------------------------------------------------------

    def _take_admin(self) -> None:
        """Unregister, from every admin site, what the reloaded modules registered.

        That is a registration with a ``ModelAdmin`` class of theirs, or of one
        of their models with one of Django's own (``admin.site.register(Item)``).
        """
        sites = sys.modules.get("django.contrib.admin.sites")
        if sites is None:
            return
        for site in list(sites.all_sites):
            registry = site._registry
            self.admin.append((site, dict(registry)))
            for model, model_admin in list(registry.items()):
                admin_module = type(model_admin).__module__
                if admin_module in self.names or (
                    model.__module__ in self.names and admin_module.startswith("django.")
                ):
                    self.admin_taken.append((site, model, model_admin))
                    del registry[model]

    def _admin_to_restore(self, modules: Sequence[ModuleType]) -> list[tuple[object, type, object]]:
        """The registrations taken out that the new code did not make again, nor meant to drop.

        A registration is made again by the statement that registers it, which
        runs again whenever its model or admin class is defined again: one whose
        classes were not defined again stays.
        """
        by_name = {m.__name__: m for m in modules}
        remade = {id(old) for old in self.senders.values()}
        restore = []
        for site, model, model_admin in self.admin_taken:
            if model in site._registry or any(
                self.senders.get(id(m)) is model for m in site._registry
            ):
                continue
            admin_class = type(model_admin)
            module = by_name.get(admin_class.__module__)
            if module is not None and _ran_again(module, admin_class):
                continue
            if module is None and id(model) in remade:
                continue
            restore.append((site, model, model_admin))
        return restore

    def _settle_admin(self) -> None:
        """Put back what no re-run registered again; point registrations at the surviving models."""
        for site, model, model_admin in self.admin_restore:
            admin_class = type(model_admin)
            if admin_class.__module__ in self.names and not _still_defined(
                sys.modules.get(admin_class.__module__), admin_class
            ):
                continue  # the admin class left the source
            site._registry[_registered(model)] = model_admin
        held = {(id(site), id(_registered(m))): a for site, m, a in self.admin_taken}
        for site, _registry in self.admin:
            registry = site._registry
            for model in list(registry):
                model_admin = registry[model]
                if not ({model.__module__, type(model_admin).__module__} & self.names):
                    continue
                survivor = _registered(model)
                before = held.get((id(site), id(survivor)))
                if before is not None and _same_class(type(before), type(model_admin)):
                    # Registered again with the class the old admin has (merged):
                    # keep the old admin, which the site's URLs were built with.
                    model_admin = before
                # The survivor's options are the new code's: the admin must use them.
                model_admin.model = survivor
                model_admin.opts = survivor._meta
                del registry[model]
                registry[survivor] = model_admin


class SchemaChanged(Exception):
    """A model edit that changes database columns, which a running program cannot take."""


def _uses_django(module: ModuleType) -> bool:
    """Whether a module's namespace holds anything of Django's (so a reload may touch its registries).

    Only types are asked: an attribute read or ``isinstance`` on one of
    Django's lazy objects would set it up.
    """
    for value in list(module.__dict__.values()):
        kind = type(value)
        if kind is ModuleType:
            where = value.__name__
        elif kind is FunctionType or issubclass(kind, type):
            where = value.__module__
        else:
            where = kind.__module__
        if is_a(where, str) and (where == "django" or where.startswith("django.")):
            return True
    return False


# Per module name: the module last scanned (weakly: a module dropped from
# sys.modules must be free to go) and the signals it held at top level.
_scanned: dict[str, tuple[weakref.ref, tuple[Signal, ...]]] = {}


def _signals(fresh: set[str]) -> list[Signal]:
    """The signals modules hold at top level: Django's and the program's own.

    A module is scanned once (signals are made at import), the ``fresh`` ones
    (the reload's targets) each time.
    """
    found: dict[int, Signal] = {}
    loaded = dict(sys.modules)
    for gone in [name for name in _scanned if name not in loaded]:
        del _scanned[gone]
    for name, module in loaded.items():
        seen = _scanned.get(name)
        if seen is not None and seen[0]() is module and name not in fresh:
            signals = seen[1]
        else:
            namespace = getattr(module, "__dict__", None)
            values = list(namespace.values()) if is_a(namespace, dict) else []
            # Not isinstance: it would set up Django's lazy objects.
            signals = tuple(v for v in values if issubclass(type(v), Signal))
            try:
                _scanned[name] = (weakref.ref(module), signals)
            except TypeError:
                pass  # not weakly referenceable (an odd sys.modules entry): scanned each time
        for signal in signals:
            found[id(signal)] = signal
    return list(found.values())


def _target(entry: tuple) -> object:
    """The receiver a signal's entry calls (None when its weak reference died)."""
    receiver = entry[1]
    if is_a(receiver, weakref.ref):
        receiver = receiver()
    return receiver.__func__ if is_a(receiver, MethodType) else receiver


def _from(target: object, names: set[str]) -> bool:
    return getattr(target, "__module__", None) in names


def _identity(target: object, key: tuple, senders: dict[int, type]) -> tuple:
    """What makes a receiver "the same one" across a re-run: where it is defined, and its sender."""
    sender = senders.get(key[1])
    # A callable object has no qualified name: it is only ever itself.
    name = getattr(target, "__qualname__", None) or id(target)
    return (target.__module__, name, id(sender) if sender is not None else key[1])


def _top_level(module: ModuleType, obj: object) -> object:
    """What the module binds under the first part of ``obj``'s qualified name."""
    qualname = getattr(obj, "__qualname__", "")
    return module.__dict__.get(qualname.split(".", 1)[0]) if qualname else None


def _ran_again(module: ModuleType, target: object) -> bool:
    """Whether the new code made ``target``'s definition again (checked before the merge)."""
    held = _top_level(module, target)
    if held is None or "." in target.__qualname__:
        return False
    return held is not target


def _still_defined(module: ModuleType | None, obj: object) -> bool:
    """Whether ``module`` still defines ``obj`` (a lambda or other unnamed object: it cannot tell)."""
    if module is None:
        return False
    head = getattr(obj, "__qualname__", "").split(".", 1)[0]
    return not head.isidentifier() or _top_level(module, obj) is not None


def _same_class(old: type, new: type) -> bool:
    """Whether ``new`` is ``old`` or was made again by the reload and merged into it."""
    if new is old:
        return True
    module = sys.modules.get(old.__module__)
    return (new.__module__, new.__qualname__) == (old.__module__, old.__qualname__) and (
        module is not None and _top_level(module, old) is old
    )


def _is_model(value: object, label: str, key: str) -> bool:
    meta = getattr(value, "_meta", None) if issubclass(type(value), type) else None
    return meta is not None and (meta.app_label, meta.model_name) == (label, key)


def _registered(model: type) -> type:
    meta = model._meta
    return apps.all_models.get(meta.app_label, {}).get(meta.model_name, model)


def _own_options(model: type) -> None:
    """Point the options and fields a surviving model took from the new class at the model itself.

    Left pointing at the discarded class (which a rebase may make a subclass of
    the survivor), Django's lookups through ``_meta.model`` loop forever.
    """
    meta = model._meta
    if meta.model is not model:
        meta.model = model
    if meta.concrete_model is not model and not meta.proxy:
        meta.concrete_model = model
    for field in (*meta.local_fields, *meta.local_many_to_many):
        if field.model is not model:
            field.model = model


def _schema_changes(old: type, new: type) -> list[str]:
    """What ``new`` changes in ``old``'s table: fields added, removed or redefined, table renamed."""
    name = f"{old._meta.app_label}.{old.__name__}"
    if old._meta.db_table != new._meta.db_table:
        return [f"{name}: its table changed ({old._meta.db_table} → {new._meta.db_table})"]
    before, after = _columns(old), _columns(new)
    changes = []
    added = [f for f in after if f not in before]
    removed = [f for f in before if f not in after]
    changed = [f for f in before if f in after and before[f] != after[f]]
    if added:
        changes.append(f"{name}: field {', '.join(map(repr, added))} added")
    if removed:
        changes.append(f"{name}: field {', '.join(map(repr, removed))} removed")
    if changed:
        changes.append(f"{name}: field {', '.join(map(repr, changed))} changed")
    return changes


def _columns(model: type) -> dict[str, tuple]:
    """Per local field, what its column is made of (class, column, options that reach the database)."""
    meta = model._meta
    out = {}
    for field in (*meta.local_fields, *meta.local_many_to_many):
        _name, path, args, kwargs = field.deconstruct()
        kept = tuple(sorted((k, repr(v)) for k, v in kwargs.items() if k not in _NOT_SCHEMA))
        out[field.name] = (path, field.column, tuple(map(repr, args)), kept)
    return out


def _refresh_url_resolvers() -> None:
    """Forget every URL resolver's cached patterns, so the reloaded urlconfs are read again.

    Django caches the root resolver, and each resolver an ``include()`` made
    caches its patterns and reverse tables: a new pattern would never be served.
    """
    from django.conf import settings

    if not getattr(settings, "ROOT_URLCONF", None):
        clear_url_caches()
        return
    root = get_resolver()
    stack, seen = [root], set()
    while stack:
        resolver = stack.pop()
        if id(resolver) in seen:
            continue
        seen.add(id(resolver))
        cached = resolver.__dict__.pop("url_patterns", None)
        if is_a(resolver.urlconf_name, str):
            resolver.__dict__.pop("urlconf_module", None)
        if cached:
            stack.extend(p for p in cached if is_a(p, URLResolver))
        resolver._reverse_dict = {}
        resolver._namespace_dict = {}
        resolver._app_dict = {}
        resolver._callback_strs = set()
        resolver._populated = False
    clear_url_caches()
