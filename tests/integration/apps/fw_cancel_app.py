"""FastAPI endpoints that lean on the current task (anyio cancel scopes, asyncio.timeout, task groups,
contextvars), to prove eager start keeps asyncio semantics; and a Django ASGI app (single file)."""

import asyncio
import contextvars

import anyio
from fastapi import Depends, FastAPI

app = FastAPI()
request_var: contextvars.ContextVar = contextvars.ContextVar("request_var", default="unset")


@app.get("/anyio-timeout")
async def anyio_timeout():
    with anyio.move_on_after(0.05) as scope:  # a cancel scope on the current task, cancelled by timeout
        await anyio.sleep(5)
    return {"cancelled": scope.cancel_called}


@app.get("/asyncio-timeout")
async def asyncio_timeout():
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(5)
    except TimeoutError:
        return {"timed_out": True}
    return {"timed_out": False}


@app.get("/fail-after-fast")
async def fail_after_fast():
    with anyio.fail_after(5):  # entered and left before the first suspension
        value = 1
    return {"value": value, "task": asyncio.current_task() is not None}


@app.get("/task-group")
async def task_group():
    results = []

    async def worker(n):
        await anyio.sleep(0.01)
        results.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(worker, n)
    return {"results": sorted(results)}


async def set_var(value: str = "x"):
    request_var.set(value)
    return value


@app.get("/contextvar")
async def contextvar(value: str = Depends(set_var)):
    # Each request runs in its own context copy: a value set by an earlier request never shows here first.
    before = request_var.get()
    return {"seen": before}


@app.get("/threadpool")
def threadpool():
    return {"thread": True}


@app.get("/var-set")
async def var_set(value: str):
    request_var.set(value)  # set in this request's context only
    return {"set": value}


@app.get("/var-read")
async def var_read():
    return {"seen": request_var.get()}
