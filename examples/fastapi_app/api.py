"""The FastAPI app, made once: uvicorn's ``Config`` holds this object for the program's life."""

from fastapi import FastAPI

app = FastAPI(title="reload_server example")
