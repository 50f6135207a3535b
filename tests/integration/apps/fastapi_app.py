"""A FastAPI app: JSON, typed path/query params (422 on bad input), pydantic POST body, a sync `def` endpoint
(run in the threadpool), StreamingResponse, BackgroundTasks."""

import asyncio
import threading

from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from asgi_util import marker

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/json")
async def json_endpoint():
    return {"framework": "fastapi", "ok": True}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "double": item.price * 2, "tags": item.tags}


@app.get("/loop-thread")
async def loop_thread():
    return {"ident": threading.get_ident()}


@app.get("/sync")
def sync_endpoint():
    return {"ident": threading.get_ident()}


@app.get("/stream")
async def stream():
    async def chunks():
        for i in range(4):
            yield f"part-{i};".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


@app.post("/background/{name}")
async def background(name: str, tasks: BackgroundTasks):
    tasks.add_task(marker, f"bg-{name}", "done")
    return {"scheduled": name}
