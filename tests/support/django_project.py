"""One Django project per test process, in-process, for the Django adapter's tests.

Django's settings can be configured once per process, so every test shares one
configuration: an in-memory SQLite database and one installed app, the package
:data:`APP`, written once into a directory put on ``sys.path``.  Each test writes
modules of its own inside that app (fresh names, so no test sees another's
bytecode) with :class:`DjangoApp`, and :meth:`DjangoApp.close` takes them out of
Django again — models, tables, admin registrations, receivers — so that the
next test (and the rest of the suite) finds the project as it was.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap
import weakref
from pathlib import Path
from types import ModuleType

from support.sources import write_source

#: The app package every Django test writes its modules into.
APP = "rs_django_app"

_names = itertools.count(1)


def configure(root: Path) -> None:
    """Configure Django once for this process, with :data:`APP` written under ``root``.

    Everything Django imports lazily (the SQLite backend, the test client, the
    admin) is imported here, so no test's cleanup finds it newly imported.
    """
    import django
    from django.conf import settings

    if settings.configured:
        return
    write_source(root / APP / "__init__.py", "", backdate_new=2.0)
    write_source(root / APP / "urls.py", "urlpatterns = []\n", backdate_new=2.0)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.admin",
            APP,
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF=f"{APP}.urls",
        MIDDLEWARE=[],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    import django.contrib.admin  # noqa: F401
    import django.test  # noqa: F401
    from django.db import connection

    connection.ensure_connection()


class DjangoApp:
    """A test's modules inside :data:`APP`: written, imported, edited, and taken out at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []
        self.tables: list[type] = []

    def name(self, stem: str) -> str:
        """A module name inside the app that no other test has used."""
        return f"{APP}.{stem}_{next(_names)}"

    def module(self, name: str, source: str) -> ModuleType:
        """Write ``name`` and import it."""
        self.write(name, source)
        module = importlib.import_module(name)
        self.modules.append(name)
        return module

    def write(self, name: str, source: str) -> Path:
        path = self.root / (name.replace(".", "/") + ".py")
        written = write_source(path, textwrap.dedent(source), backdate_new=2.0)
        importlib.invalidate_caches()
        return written

    def edit(self, name: str, source: str) -> Path:
        """Save a new version of ``name`` (not reloaded: the test reloads it)."""
        return self.write(name, source)

    def create_tables(self, *models: type) -> None:
        """Create the models' tables, as a migration would."""
        from django.db import connection

        with connection.schema_editor() as editor:
            for model in models:
                editor.create_model(model)
        self.tables.extend(models)

    def close(self) -> None:
        """Take this test's models, tables, admin registrations and receivers out of Django."""
        from django.apps import apps
        from django.contrib.admin.sites import all_sites
        from django.db import connection
        from django.dispatch import Signal

        mine = set(self.modules)
        with connection.schema_editor() as editor:
            for model in reversed(self.tables):
                editor.delete_model(model)
        for table in apps.all_models.values():
            for key in [k for k, m in table.items() if m.__module__ in mine]:
                del table[key]
        apps.clear_cache()
        for site in list(all_sites):
            for model in [m for m, a in site._registry.items() if m.__module__ in mine]:
                del site._registry[model]
        for module in list(sys.modules.values()):
            for value in list(getattr(module, "__dict__", {}).values()):
                if issubclass(type(value), Signal):  # isinstance would set up lazy objects
                    _disconnect_from(value, mine)
        for name in self.modules:
            sys.modules.pop(name, None)
            sys.modules[APP].__dict__.pop(name.rpartition(".")[2], None)
        from django.urls import clear_url_caches

        clear_url_caches()


def _disconnect_from(signal: object, modules: set[str]) -> None:
    def target(entry: tuple) -> str | None:
        receiver = entry[1]
        if isinstance(receiver, weakref.ref):
            receiver = receiver()
        return getattr(receiver, "__module__", None)

    with signal.lock:
        signal.receivers[:] = [e for e in signal.receivers if target(e) not in modules]
        signal.sender_receivers_cache.clear()
