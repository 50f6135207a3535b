"""FastAPI endpoints for --timeout-request (test_timeout_request.py): a slow endpoint, and one holding a
database session from a `yield` dependency, whose cleanup must run when the request is cancelled."""

import asyncio
import os
import pathlib

from fastapi import Depends, FastAPI

MARKERS = pathlib.Path(os.environ.get("ESG_TEST_MARKERS", "/tmp"))
app = FastAPI()
sessions = {"opened": 0, "closed": 0}


async def get_session():
    sessions["opened"] += 1
    try:
        yield {"id": sessions["opened"]}
    finally:
        sessions["closed"] += 1
        (MARKERS / f"session-closed-{sessions['closed']}").write_text("closed")


@app.get("/sleep")
async def sleep(s: float = 30):
    await asyncio.sleep(s)
    return {"slept": s}


@app.get("/db")
async def query(session=Depends(get_session)):
    await asyncio.sleep(30)
    return {"session": session["id"]}


@app.get("/fast")
async def fast():
    return {"fast": True}


@app.get("/sessions")
async def get_sessions():
    return sessions
