"""FastAPI: the app a uvicorn ``Config`` held before a reload serves the reloaded routes
(reload_server/adapters/fastapi.py).

Each test gives the app to ``uvicorn.Config`` at start-up, as ``uvicorn.run``
does, and drives Starlette's ``TestClient`` on the app that config holds.
"""

from __future__ import annotations

import fastapi  # noqa: F401 - imported once for the session, as a program does
import pytest
import uvicorn
from starlette.testclient import TestClient

from reload_server import ReloadError, reimport

APP = """
from fastapi import FastAPI

app = FastAPI()
"""

ROUTES = """
from pydantic import BaseModel

from api import app


class Item(BaseModel):
    name: str


@app.get("/hello")
def hello():
    return {"text": "hello v1"}


@app.post("/items")
def create(item: Item):
    return {"item": item.model_dump(), "held": type(item) is Item}
"""

ROUTER = """
from fastapi import APIRouter

router = APIRouter()


@router.get("/items")
def items():
    return {"text": "items v1"}
"""

INCLUDES = """
from fastapi import FastAPI

import shop

app = FastAPI()
app.include_router(shop.router, prefix="/shop", tags=["shop"])
"""


def _served(app) -> TestClient:
    """A client of the app a uvicorn config holds, as the server made at start-up serves it."""
    return TestClient(uvicorn.Config(app).app)


@pytest.fixture
def routes(project):
    api = project.module("api", APP)
    project.module("routes", ROUTES)
    client = _served(api.app)
    assert client.get("/hello").json() == {"text": "hello v1"}
    return api.app, client


@pytest.fixture
def shop(project):
    project.module("shop", ROUTER)
    served = project.module("served", INCLUDES)
    client = _served(served.app)
    assert client.get("/shop/items").json() == {"text": "items v1"}
    return served.app, client


def test_an_edited_endpoint_answers_with_its_new_body(project, routes):
    app, client = routes
    project.edit("routes", ROUTES.replace('"hello v1"', '"hello v2"'))
    reimport("routes")
    assert client.get("/hello").json() == {"text": "hello v2"}


def test_a_field_added_to_a_body_model_is_validated_into_the_held_model(project, routes):
    app, client = routes
    project.edit("routes", ROUTES.replace("name: str", "name: str\n    price: int"))
    reimport("routes")
    answer = client.post("/items", json={"name": "pen", "price": 3})
    missing = client.post("/items", json={"name": "pen"})
    assert (answer.json(), missing.status_code) == (
        {"item": {"name": "pen", "price": 3}, "held": True},
        422,
    )


def test_a_field_added_to_a_model_in_another_module_reaches_the_route_using_it(project):
    project.module(
        "models", "from pydantic import BaseModel\n\nclass Item(BaseModel):\n    name: str\n"
    )
    api = project.module(
        "api",
        APP + "\nfrom models import Item\n\n@app.post('/items')\n"
        "def create(item: Item):\n    return item.model_dump()\n",
    )
    client = _served(api.app)
    project.edit(
        "models",
        "from pydantic import BaseModel\n\nclass Item(BaseModel):\n    name: str\n    price: int = 0\n",
    )
    reimport("models")
    assert client.post("/items", json={"name": "pen", "price": 3}).json() == {
        "name": "pen",
        "price": 3,
    }


def test_an_added_route_is_served(project, routes):
    app, client = routes
    project.edit("routes", ROUTES + '\n@app.get("/new")\ndef new():\n    return "new"\n')
    reimport("routes")
    assert (client.get("/new").json(), client.get("/hello").json()) == ("new", {"text": "hello v1"})


def test_a_removed_route_is_not_found(project, routes):
    app, client = routes
    hello = '@app.get("/hello")\ndef hello():\n    return {"text": "hello v1"}\n'
    project.edit("routes", ROUTES.replace(hello, ""))
    reimport("routes")
    assert (
        client.get("/hello").status_code,
        client.post("/items", json={"name": "a"}).status_code,
    ) == (
        404,
        200,
    )


def test_a_changed_route_path_serves_the_new_path_only(project, routes):
    app, client = routes
    project.edit("routes", ROUTES.replace('"/hello"', '"/hi"'))
    reimport("routes")
    assert (client.get("/hi").json(), client.get("/hello").status_code) == (
        {"text": "hello v1"},
        404,
    )


def test_the_openapi_schema_describes_the_reloaded_routes(project, routes):
    app, client = routes
    assert "/hi" not in client.get("/openapi.json").json()["paths"]
    project.edit("routes", ROUTES.replace('"/hello"', '"/hi"'))
    reimport("routes")
    paths = client.get("/openapi.json").json()["paths"]
    assert ("/hi" in paths, "/hello" in paths) == (True, False)


def test_an_endpoint_that_fails_to_reload_leaves_the_old_routes_serving(project, routes):
    app, client = routes
    before = list(app.router.routes)
    project.edit("routes", ROUTES.replace('"/hello"', '"/hi"') + "\nraise RuntimeError('broken')\n")
    with pytest.raises(ReloadError):
        reimport("routes")
    assert app.router.routes == before
    assert (client.get("/hello").json(), client.get("/hi").status_code) == (
        {"text": "hello v1"},
        404,
    )


def test_an_edited_router_endpoint_answers_under_the_include_prefix(project, shop):
    app, client = shop
    project.edit("shop", ROUTER.replace('"items v1"', '"items v2"'))
    reimport("shop")
    assert client.get("/shop/items").json() == {"text": "items v2"}


def test_a_route_added_to_an_included_router_is_served(project, shop):
    app, client = shop
    project.edit("shop", ROUTER + '\n@router.get("/cart")\ndef cart():\n    return "cart"\n')
    reimport("shop")
    assert (client.get("/shop/cart").json(), client.get("/shop/items").json()) == (
        "cart",
        {"text": "items v1"},
    )


def test_a_route_removed_from_an_included_router_is_not_found(project, shop):
    app, client = shop
    project.edit(
        "shop",
        ROUTER.split("@router.get")[0] + '@router.get("/other")\ndef other():\n    return "o"\n',
    )
    reimport("shop")
    assert (client.get("/shop/items").status_code, client.get("/shop/other").json()) == (404, "o")


def test_a_router_that_fails_to_reload_leaves_the_old_one_serving(project, shop):
    app, client = shop
    project.edit("shop", ROUTER.replace('"/items"', '"/goods"') + "raise RuntimeError('broken')\n")
    with pytest.raises(ReloadError):
        reimport("shop")
    assert (client.get("/shop/items").json(), client.get("/shop/goods").status_code) == (
        {"text": "items v1"},
        404,
    )


def test_a_module_that_makes_its_app_anew_serves_its_new_routes_from_the_held_app(project):
    single = APP + '\n@app.get("/")\ndef index():\n    return "v1"\n'
    module = project.module("single", single)
    app = module.app
    client = _served(app)
    project.edit(
        "single",
        single.replace('"v1"', '"v2"') + '\n@app.get("/more")\ndef more():\n    return "more"\n',
    )
    reimport("single")
    assert (module.app is app, client.get("/").json(), client.get("/more").json()) == (
        True,
        "v2",
        "more",
    )


def test_a_middleware_added_in_the_module_that_makes_the_app_is_refused(project):
    single = APP + '\n@app.get("/")\ndef index():\n    return "v1"\n'
    module = project.module("single", single)
    client = _served(module.app)
    project.edit(
        "single",
        single.replace('"v1"', '"v2"')
        + "\nfrom starlette.middleware.gzip import GZipMiddleware\napp.add_middleware(GZipMiddleware)\n",
    )
    with pytest.raises(ReloadError) as info:
        reimport("single")
    assert "middleware" in info.value.message and client.get("/").json() == "v1"


TAG_MIDDLEWARE = """

class Tag:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def tagged(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tag", b"1")]
            await send(message)

        await self.app(scope, receive, tagged)


app.add_middleware(Tag)
"""


def test_a_middleware_added_by_a_module_that_imports_the_app_is_refused_and_not_served(project):
    api = project.module("api", APP)
    project.module("routes", ROUTES)
    client = _served(api.app)
    project.edit("routes", ROUTES + TAG_MIDDLEWARE)
    with pytest.raises(ReloadError) as info:
        reimport("routes")
    response = client.get("/hello")
    assert ("middleware" in info.value.message, "x-tag" in response.headers) == (True, False)
