"""Django after a reload: its test client, models, signals and admin run the new code (adapters/django.py).

Settings are configured once per process (support/django_project.py): every
test writes fresh modules inside the one installed app, drives Django's own
test ``Client`` and model instances made before the reload, and takes its
modules out of Django when it ends.
"""

from __future__ import annotations

import warnings

import pytest
from support.django_project import DjangoApp, configure

from reload_server import ReloadError, reimport


@pytest.fixture(scope="module")
def django_root(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("django")
    configure(root)
    return root


@pytest.fixture
def site(django_root):
    app = DjangoApp(django_root)
    yield app
    app.close()


@pytest.fixture
def client():
    from django.test import Client

    return Client()


def serving(name: str):
    """Django serves the urlconf ``name`` for the duration of the ``with`` block."""
    from django.test import override_settings

    return override_settings(ROOT_URLCONF=name)


VIEWS = """
from django.http import HttpResponse
from django.urls import path

def hello(request):
    return HttpResponse("hello")

urlpatterns = [path("hello/", hello)]
"""

MODELS = """
from django.db import models

class Item(models.Model):
    name = models.CharField(max_length=20)

    def label(self):
        return "old " + self.name

    def save(self, *args, **kwargs):
        self.name = self.name.strip()
        super().save(*args, **kwargs)
"""

RECEIVERS = """
from django.db.models.signals import post_save
from django.dispatch import receiver

from {models} import Item

heard = []

@receiver(post_save, sender=Item)
def on_save(sender, instance, **kwargs):
    heard.append("old " + instance.name)
"""

ADMIN = """
from django.contrib import admin

from {models} import Item

@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["name"]
"""


def models_module(site: DjangoApp):
    name = site.name("models")
    module = site.module(name, MODELS)
    site.create_tables(module.Item)
    return name, module


# -- views and URLs -----------------------------------------------------------


def test_an_edited_view_answers_with_its_new_body(site, client):
    name = site.name("views")
    site.module(name, VIEWS)
    with serving(name):
        assert client.get("/hello/").content == b"hello"
        site.edit(name, VIEWS.replace('"hello")', '"hello again")'))
        reimport(name)
        assert client.get("/hello/").content == b"hello again"


def test_a_url_pattern_added_with_its_view_is_served(site, client):
    name = site.name("views")
    site.module(name, VIEWS)
    with serving(name):
        assert client.get("/bye/").status_code == 404
        site.edit(
            name,
            VIEWS.replace(
                'urlpatterns = [path("hello/", hello)]',
                'def bye(request):\n    return HttpResponse("bye")\n\n'
                'urlpatterns = [path("hello/", hello), path("bye/", bye)]',
            ),
        )
        reimport(name)
        assert client.get("/bye/").content == b"bye"


def test_a_url_pattern_removed_is_no_longer_served(site, client):
    name = site.name("views")
    site.module(name, VIEWS.replace("urlpatterns = [", 'urlpatterns = [path("hi/", hello), '))
    with serving(name):
        assert client.get("/hi/").status_code == 200
        site.edit(name, VIEWS)
        reimport(name)
        assert client.get("/hi/").status_code == 404


def test_a_url_pattern_added_to_an_included_urlconf_is_served(site, client):
    included = site.name("views")
    site.module(included, VIEWS)
    root = site.name("urls")
    site.module(
        root,
        f'from django.urls import include, path\nurlpatterns = [path("app/", include("{included}"))]\n',
    )
    with serving(root):
        assert client.get("/app/hello/").status_code == 200
        site.edit(
            included,
            VIEWS.replace('path("hello/", hello)', 'path("hello/", hello), path("again/", hello)'),
        )
        reimport(included)
        assert client.get("/app/again/").content == b"hello"


def test_a_changed_require_http_methods_argument_takes_effect(site, client):
    source = """
    from django.http import HttpResponse
    from django.urls import path
    from django.views.decorators.http import require_http_methods

    @require_http_methods(["GET"])
    def item(request):
        return HttpResponse(request.method)

    urlpatterns = [path("item/", item)]
    """
    name = site.name("views")
    site.module(name, source)
    with serving(name):
        assert client.post("/item/").status_code == 405
        site.edit(name, source.replace('["GET"]', '["GET", "POST"]'))
        reimport(name)
        assert client.post("/item/").content == b"POST"


# -- models -------------------------------------------------------------------


def test_an_instance_loaded_before_a_model_method_edit_runs_the_new_method(site):
    name, module = models_module(site)
    module.Item.objects.create(name="a")
    loaded = module.Item.objects.get()
    site.edit(name, MODELS.replace('"old "', '"new "'))
    reimport(name)
    assert loaded.label() == "new a"


def test_a_model_saves_and_queries_after_a_reload_of_its_module(site):
    name, module = models_module(site)
    loaded = module.Item.objects.create(name="a")
    site.edit(name, MODELS.replace('"old "', '"new "'))
    reimport(name)
    loaded.name = " b "
    loaded.save()
    module.Item.objects.create(name="c")
    assert [i.label() for i in module.Item.objects.order_by("pk")] == ["new b", "new c"]


def test_a_reloaded_model_stays_the_one_the_app_registry_returns(site):
    name, module = models_module(site)
    held = module.Item
    site.edit(name, MODELS.replace('"old "', '"new "'))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "Model … was already registered"
        reimport(name)
    from django.apps import apps

    assert apps.get_model(held._meta.label) is held and held._meta.model is held


def test_a_model_field_added_is_refused_and_the_old_model_keeps_working(site):
    name, module = models_module(site)
    site.edit(
        name,
        MODELS.replace('"old "', '"new "').replace(
            "max_length=20)", "max_length=20)\n    price = models.IntegerField(default=0)"
        ),
    )
    with pytest.raises(ReloadError) as info:
        reimport(name)
    assert "'price' added" in info.value.message and "migration" in info.value.message
    saved = module.Item.objects.create(name=" a ")
    assert saved.label() == "old a"
    assert [f.name for f in module.Item._meta.get_fields()] == ["id", "name"]


def test_a_refused_model_edit_leaves_the_old_model_registered(site):
    from django.apps import apps

    name, module = models_module(site)
    site.edit(name, MODELS.replace("max_length=20", "max_length=40"))
    with pytest.raises(ReloadError, match="'name' changed"):
        reimport(name)
    assert apps.get_model(module.Item._meta.label) is module.Item


def test_a_reverse_relation_from_another_module_survives_a_reload_of_its_target(site):
    owners = site.name("owners")
    source = """
    from django.db import models

    class Owner(models.Model):
        name = models.CharField(max_length=20)

        def title(self):
            return "old " + self.name
    """
    module = site.module(owners, source)
    things = site.module(
        site.name("things"),
        f"""
        from django.db import models
        from {owners} import Owner

        class Thing(models.Model):
            owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="things")
        """,
    )
    site.create_tables(module.Owner, things.Thing)
    owner = module.Owner.objects.create(name="a")
    things.Thing.objects.create(owner=owner)
    site.edit(owners, source.replace('"old "', '"new "'))
    reimport(owners)
    assert [t.owner.title() for t in owner.things.all()] == ["new a"]


def test_a_many_to_many_relation_works_after_its_models_reload(site):
    name = site.name("models")
    source = """
    from django.db import models

    class Tag(models.Model):
        word = models.CharField(max_length=20)

    class Post(models.Model):
        tags = models.ManyToManyField(Tag, related_name="posts")

        def words(self):
            return sorted(t.word for t in self.tags.all())
    """
    module = site.module(name, source)
    site.create_tables(module.Tag, module.Post)
    post = module.Post.objects.create()
    post.tags.add(module.Tag.objects.create(word="a"))
    site.edit(name, source.replace("sorted(t.word", "sorted(t.word.upper()"))
    reimport(name)
    post.tags.add(module.Tag.objects.create(word="b"))
    assert (post.words(), module.Tag.objects.get(word="b").posts.get()) == (["A", "B"], post)


# -- signals ------------------------------------------------------------------


def test_an_edited_receiver_fires_once_with_its_new_body(site):
    models_name, module = models_module(site)
    name = site.name("receivers")
    receivers = site.module(name, RECEIVERS.format(models=models_name))
    site.edit(name, RECEIVERS.format(models=models_name).replace('"old "', '"new "'))
    reimport(name)
    module.Item.objects.create(name="a")
    assert receivers.heard == ["new a"]


def test_a_strongly_connected_receiver_fires_once_after_a_reload(site):
    models_name, module = models_module(site)
    name = site.name("receivers")
    source = RECEIVERS.format(models=models_name).replace(
        "sender=Item)", "sender=Item, weak=False)"
    )
    receivers = site.module(name, source)
    site.edit(name, source.replace('"old "', '"new "'))
    reimport(name)
    module.Item.objects.create(name="a")
    assert receivers.heard == ["new a"]


def test_a_receiver_reloaded_with_its_models_still_hears_them(site):
    name = site.name("models")
    source = MODELS + RECEIVERS.format(models=name).replace(f"from {name} import Item\n", "")
    module = site.module(name, source)
    site.create_tables(module.Item)
    site.edit(name, source.replace('"old "', '"new "'))
    reimport(name)
    module.Item.objects.create(name="a")
    assert module.heard == ["new a"]


def test_a_receiver_with_a_dispatch_uid_reloaded_with_its_models_fires_once(site):
    name = site.name("models")
    source = MODELS + RECEIVERS.format(models=name).replace(f"from {name} import Item\n", "")
    source = source.replace("sender=Item)", 'sender=Item, dispatch_uid="on-save")')
    module = site.module(name, source)
    site.create_tables(module.Item)
    site.edit(name, source.replace('"old "', '"new "'))
    reimport(name)
    module.Item.objects.create(name="a")
    assert module.heard == ["new a"]


def test_a_receiver_whose_decorator_is_removed_no_longer_fires(site):
    models_name, module = models_module(site)
    name = site.name("receivers")
    receivers = site.module(name, RECEIVERS.format(models=models_name))
    site.edit(
        name,
        RECEIVERS.format(models=models_name).replace("@receiver(post_save, sender=Item)\n", ""),
    )
    reimport(name)
    module.Item.objects.create(name="a")
    assert receivers.heard == []


# -- admin --------------------------------------------------------------------


def test_an_admin_registered_module_reloads_with_its_new_options(site):
    from django.contrib import admin

    models_name, module = models_module(site)
    name = site.name("admin")
    site.module(name, ADMIN.format(models=models_name))
    held = admin.site._registry[module.Item]  # the admin the site's URLs were built with
    site.edit(name, ADMIN.format(models=models_name).replace('["name"]', '["name", "id"]'))
    reimport(name)
    assert (admin.site._registry[module.Item], held.list_display) == (held, ["name", "id"])


def test_a_default_admin_registration_survives_a_reload_of_its_models_module(site):
    from django.contrib import admin

    name = site.name("models")
    source = MODELS + "\nfrom django.contrib import admin\nadmin.site.register(Item)\n"
    module = site.module(name, source)
    site.edit(name, source.replace('"old "', '"new "'))
    reimport(name)
    assert admin.site.is_registered(module.Item)


# -- rollback -----------------------------------------------------------------


def test_a_failed_reload_leaves_receivers_and_admin_as_they_were(site):
    from django.contrib import admin

    models_name, module = models_module(site)
    name = site.name("both")
    source = RECEIVERS.format(models=models_name) + ADMIN.format(models=models_name)
    receivers = site.module(name, source)
    held_admin = admin.site._registry[module.Item]
    site.edit(name, source.replace('"old "', '"new "') + "raise RuntimeError('broken')\n")
    with pytest.raises(ReloadError):
        reimport(name)
    module.Item.objects.create(name="a")
    assert (receivers.heard, admin.site._registry[module.Item]) == (["old a"], held_admin)


# -- the rest of the program ----------------------------------------------------


def test_a_reload_that_replaces_a_class_does_not_set_up_djangos_lazy_objects(site):
    from django.utils.functional import SimpleLazyObject

    set_up = []
    held = SimpleLazyObject(lambda: set_up.append("set up") or object())
    name = site.name("points")
    source = "from typing import NamedTuple\n\nclass P(NamedTuple):\n    x: int\n"
    module = site.module(name, source)
    module.held = (held, module.P(1))  # the heap fallback walks past the lazy object
    site.edit(name, source + "    y: int = 0\n")
    reimport(name)
    assert set_up == []
