"""Edit me while the app serves, then `python -m reload_server reload routes.py`.

Change an endpoint's answer, add a route, or add a field to ``Item``: the
running app serves the new routes and validates bodies with the new model
(``/docs`` shows them too).
"""

from api import app
from pydantic import BaseModel


class Item(BaseModel):
    name: str


@app.get("/")
def index() -> dict:
    return {"message": "Hello from FastAPI (v1)"}


@app.post("/items")
def create(item: Item) -> Item:
    return item
