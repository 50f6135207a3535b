"""FastAPI workload (tests/bench, mode "fastapi"): GET /items/{item_id}?q=... with a pydantic response model.

The request path and query are parsed and validated by FastAPI, the answer goes through the response
model's validation and serialisation: the shape of a typical FastAPI endpoint."""
from typing import Optional

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    item_id: int
    q: Optional[str] = None
    name: str
    price: float


@app.get("/", response_class=PlainTextResponse)
async def ready() -> str:  # the harness's readiness check (GET / answered 200)
    return "ok"


@app.get("/items/{item_id}", response_model=Item)
async def read_item(item_id: int, q: Optional[str] = None) -> Item:
    return Item(item_id=item_id, q=q, name="widget", price=9.5)
