"""Flask: the app held before a reload serves the reloaded routes (reload_server/adapters/flask.py).

Each test holds the app and its test client from before the reload, as a
running server does, and asks the client afterwards.
"""

from __future__ import annotations

import flask  # noqa: F401 - imported once for the session, as a program does
import pytest

from reload_server import ReloadError, reimport

APP = """
from flask import Flask

app = Flask(__name__)
"""

VIEWS = """
from webapp import app

@app.route("/hello")
def hello():
    return "hello v1"

@app.route("/bye")
def bye():
    return "bye v1"
"""

BLUEPRINT = """
from flask import Blueprint

bp = Blueprint("shop", __name__)

@bp.route("/items")
def items():
    return "items v1"
"""

SERVE_BLUEPRINT = """
from flask import Flask
import shop

app = Flask(__name__)
app.register_blueprint(shop.bp, url_prefix="/shop")
"""


@pytest.fixture
def views(project):
    """The app (held, with a client that already served a request) and its views module."""
    webapp = project.module("webapp", APP)
    project.module("views", VIEWS)
    client = webapp.app.test_client()
    assert client.get("/hello").text == "hello v1"
    return webapp.app, client


@pytest.fixture
def shop(project):
    project.module("shop", BLUEPRINT)
    served = project.module("served", SERVE_BLUEPRINT)
    client = served.app.test_client()
    assert client.get("/shop/items").text == "items v1"
    return served.app, client


def test_an_edited_view_answers_with_its_new_body(project, views):
    app, client = views
    project.edit("views", VIEWS.replace('"hello v1"', '"hello v2"'))
    reimport("views")
    assert client.get("/hello").text == "hello v2"


def test_a_route_added_to_a_views_module_is_served(project, views):
    app, client = views
    project.edit("views", VIEWS + '\n@app.route("/new")\ndef new():\n    return "new"\n')
    reimport("views")
    assert (client.get("/new").text, client.get("/hello").text) == ("new", "hello v1")


def test_a_route_removed_from_a_views_module_is_not_found(project, views):
    app, client = views
    project.edit("views", VIEWS.split('@app.route("/bye")')[0])
    reimport("views")
    assert (client.get("/bye").status_code, client.get("/hello").text) == (404, "hello v1")


def test_a_changed_route_path_serves_the_new_path_only(project, views):
    app, client = views
    project.edit("views", VIEWS.replace('"/hello"', '"/hi"'))
    reimport("views")
    assert (client.get("/hi").text, client.get("/hello").status_code) == ("hello v1", 404)


def test_changed_route_methods_apply(project, views):
    app, client = views
    project.edit("views", VIEWS.replace('"/bye")', '"/bye", methods=["POST"])'))
    reimport("views")
    assert (client.post("/bye").text, client.get("/bye").status_code) == ("bye v1", 405)


def test_a_view_that_fails_to_reload_leaves_the_old_routes_serving(project, views):
    app, client = views
    rules = sorted(str(r) for r in app.url_map.iter_rules())
    functions = dict(app.view_functions)
    project.edit(
        "views",
        VIEWS.replace('"/hi"', '"/x"') + '\n@app.route("/new")\ndef new(): ...\n'
        "raise RuntimeError('broken')\n",
    )
    with pytest.raises(ReloadError):
        reimport("views")
    assert sorted(str(r) for r in app.url_map.iter_rules()) == rules
    assert app.view_functions == functions
    assert (client.get("/hello").text, client.get("/new").status_code) == ("hello v1", 404)


def test_a_blueprint_view_edit_is_served_under_the_registration_prefix(project, shop):
    app, client = shop
    project.edit("shop", BLUEPRINT.replace('"items v1"', '"items v2"'))
    reimport("shop")
    assert client.get("/shop/items").text == "items v2"


def test_a_route_added_to_a_blueprint_is_served(project, shop):
    app, client = shop
    project.edit("shop", BLUEPRINT + '\n@bp.route("/cart")\ndef cart():\n    return "cart"\n')
    reimport("shop")
    assert (client.get("/shop/cart").text, client.get("/shop/items").text) == ("cart", "items v1")


def test_a_route_removed_from_a_blueprint_is_not_found(project, shop):
    app, client = shop
    project.edit(
        "shop",
        BLUEPRINT.split("@bp.route")[0] + '@bp.route("/other")\ndef other():\n    return "o"\n',
    )
    reimport("shop")
    assert (client.get("/shop/items").status_code, client.get("/shop/other").text) == (404, "o")


def test_a_changed_blueprint_route_path_serves_the_new_path_only(project, shop):
    app, client = shop
    project.edit("shop", BLUEPRINT.replace('"/items"', '"/goods"'))
    reimport("shop")
    assert (client.get("/shop/goods").text, client.get("/shop/items").status_code) == (
        "items v1",
        404,
    )


def test_a_blueprint_that_fails_to_reload_leaves_the_old_one_serving(project, shop):
    app, client = shop
    project.edit(
        "shop", BLUEPRINT.replace('"/items"', '"/goods"') + "raise RuntimeError('broken')\n"
    )
    with pytest.raises(ReloadError):
        reimport("shop")
    assert (client.get("/shop/items").text, client.get("/shop/goods").status_code) == (
        "items v1",
        404,
    )


def test_a_module_that_makes_its_app_anew_serves_its_new_routes_from_the_held_app(project):
    single = APP + '\n@app.route("/")\ndef index():\n    return "v1"\n'
    module = project.module("single", single)
    app, client = module.app, module.app.test_client()
    assert client.get("/").text == "v1"
    project.edit(
        "single",
        single.replace('"v1"', '"v2"') + '\n@app.route("/more")\ndef more():\n    return "more"\n',
    )
    reimport("single")
    assert (module.app is app, client.get("/").text, client.get("/more").text) == (
        True,
        "v2",
        "more",
    )


def test_a_config_change_in_the_module_that_makes_the_app_is_refused(project):
    single = APP + '\n@app.route("/")\ndef index():\n    return "v1"\n'
    module = project.module("single", single)
    client = module.app.test_client()
    project.edit("single", single.replace('"v1"', '"v2"') + '\napp.config["GREETING"] = "hi"\n')
    with pytest.raises(ReloadError) as info:
        reimport("single")
    assert "config" in info.value.message and client.get("/").text == "v1"


def test_a_blueprint_url_prefix_edit_moves_its_routes(project):
    project.module("shop", BLUEPRINT.replace("__name__)", '__name__, url_prefix="/shop")'))
    served = project.module("served", SERVE_BLUEPRINT.replace(', url_prefix="/shop"', ""))
    client = served.app.test_client()
    assert client.get("/shop/items").text == "items v1"
    project.edit("shop", BLUEPRINT.replace("__name__)", '__name__, url_prefix="/store")'))
    reimport("shop")
    assert (client.get("/store/items").text, client.get("/shop/items").status_code) == (
        "items v1",
        404,
    )


def test_a_blueprint_module_that_registers_itself_on_the_app_reloads(project):
    project.module("webapp", APP)
    own = BLUEPRINT + "\nfrom webapp import app\n\napp.register_blueprint(bp, url_prefix='/own')\n"
    project.module("shop", own)
    client = project.module("webapp").app.test_client()
    assert client.get("/own/items").text == "items v1"
    project.edit("shop", own.replace('"/items"', '"/goods"'))
    reimport("shop")
    assert (client.get("/own/goods").text, client.get("/own/items").status_code) == (
        "items v1",
        404,
    )


ROUTES_ON_A_BLUEPRINT = """
from catalog import bp

@bp.route("/items")
def items():
    return "items v1"
"""


@pytest.fixture
def catalog(project):
    """A blueprint made in one module, its routes added by another, registered by the app."""
    project.module(
        "catalog", 'from flask import Blueprint\n\nbp = Blueprint("catalog", __name__)\n'
    )
    project.module("catalog_views", ROUTES_ON_A_BLUEPRINT)
    served = project.module(
        "served",
        "from flask import Flask\nimport catalog, catalog_views\n\napp = Flask(__name__)\n"
        "app.register_blueprint(catalog.bp, url_prefix='/catalog')\n",
    )
    client = served.app.test_client()
    assert client.get("/catalog/items").text == "items v1"
    return client


def test_a_route_added_to_another_modules_blueprint_is_served(project, catalog):
    project.edit(
        "catalog_views",
        ROUTES_ON_A_BLUEPRINT + '\n@bp.route("/new")\ndef new():\n    return "new"\n',
    )
    reimport("catalog_views")
    assert (catalog.get("/catalog/new").text, catalog.get("/catalog/items").text) == (
        "new",
        "items v1",
    )


def test_a_changed_path_on_another_modules_blueprint_serves_the_new_path_only(project, catalog):
    project.edit("catalog_views", ROUTES_ON_A_BLUEPRINT.replace('"/items"', '"/goods"'))
    reimport("catalog_views")
    assert (catalog.get("/catalog/goods").text, catalog.get("/catalog/items").status_code) == (
        "items v1",
        404,
    )


def test_a_nested_blueprint_whose_routes_change_alone_is_refused(project):
    project.module("inner", BLUEPRINT.replace('"shop"', '"inner"'))
    served = project.module(
        "served",
        "from flask import Flask, Blueprint\nimport inner\n\napp = Flask(__name__)\n"
        "outer = Blueprint('outer', __name__, url_prefix='/outer')\n"
        "outer.register_blueprint(inner.bp, url_prefix='/inner')\napp.register_blueprint(outer)\n",
    )
    client = served.app.test_client()
    project.edit("inner", BLUEPRINT.replace('"shop"', '"inner"').replace('"/items"', '"/goods"'))
    with pytest.raises(ReloadError) as info:
        reimport("inner")
    assert "nested" in info.value.message
    assert client.get("/outer/inner/items").text == "items v1"


def test_a_failed_reload_of_another_modules_blueprint_routes_leaves_them_to_reload_later(
    project, catalog
):
    project.edit("catalog_views", ROUTES_ON_A_BLUEPRINT + "\nraise RuntimeError('broken')\n")
    with pytest.raises(ReloadError):
        reimport("catalog_views")
    assert catalog.get("/catalog/items").text == "items v1"
    project.edit("catalog_views", ROUTES_ON_A_BLUEPRINT.replace('"items v1"', '"items v2"'))
    reimport("catalog_views")
    assert catalog.get("/catalog/items").text == "items v2"


def test_a_refused_config_change_leaves_the_held_apps_config_as_it_was(project):
    single = APP + '\napp.config["GREETING"] = "hello"\n'
    module = project.module("single", single)
    project.edit("single", single.replace('"hello"', '"hi"'))
    with pytest.raises(ReloadError):
        reimport("single")
    assert module.app.config["GREETING"] == "hello"


def test_a_hook_added_in_the_module_that_makes_the_app_is_refused(project):
    single = APP + '\n@app.route("/")\ndef index():\n    return "v1"\n'
    module = project.module("single", single)
    client = module.app.test_client()
    hook = "\n@app.after_request\ndef tag(response):\n    response.headers['x-tag'] = '1'\n    return response\n"
    project.edit("single", single + hook)
    with pytest.raises(ReloadError) as info:
        reimport("single")
    assert ("after_request" in info.value.message, "x-tag" in client.get("/").headers) == (
        True,
        False,
    )
