"""Starlette endpoints for --timeout-request (test_timeout_request.py): requests that outlive the deadline in
the ways apps do — a plain sleep, a database-like resource held in `async with`, an app that swallows the
cancellation, one that awaits in `finally`, a body being uploaded, a stream that stalls half way — plus a
fast route, a counter endpoint and a WebSocket that stays open longer than the deadline. Marker files in
$ESG_TEST_MARKERS say which cleanup ran."""

import asyncio
import os
import pathlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute

MARKERS = pathlib.Path(os.environ.get("ESG_TEST_MARKERS", "/tmp"))
stats = {"opened": 0, "closed": 0, "cancelled": 0, "stubborn": 0, "slow_finally": 0}


def mark(name: str) -> None:
    (MARKERS / name).write_text(str(os.getpid()))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class FakeDatabase:
    """Stands for a connection taken from a pool: it must be given back whatever happens."""

    async def __aenter__(self):
        stats["opened"] += 1
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc):
        stats["closed"] += 1
        mark(f"db-closed-{stats['closed']}")


async def sleep(request):
    await asyncio.sleep(float(request.query_params.get("s", "30")))
    return PlainTextResponse("slept")


async def resource(request):
    async with FakeDatabase():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stats["cancelled"] += 1
            raise
    return PlainTextResponse("never")


async def stubborn(request):
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        stats["stubborn"] += 1  # swallowed: the app goes on
    await asyncio.sleep(0.3)
    mark("stubborn-ended")
    return PlainTextResponse("too late")


async def slow_finally(request):
    try:
        await asyncio.sleep(30)
    finally:
        await asyncio.sleep(1.5)  # longer than the deadline itself: cleanup may await
        stats["slow_finally"] += 1
        mark("slow-finally-done")


async def stream(request):
    stall = float(request.query_params.get("s", "30"))

    async def body():
        yield b"first half;"
        try:
            await asyncio.sleep(stall)
            yield b"second half"
        finally:
            mark("stream-closed")

    return StreamingResponse(body(), media_type="text/plain")


async def upload(request):
    body = await request.body()
    return PlainTextResponse(str(len(body)))


async def fast(request):
    return PlainTextResponse("fast")


async def get_stats(request):
    return JSONResponse({**stats, "pid": os.getpid(), "rss_kib": rss_kib()})


async def ws(websocket):
    await websocket.accept()
    await asyncio.sleep(float(websocket.query_params.get("s", "2.5")))
    await websocket.send_text("still open")
    message = await websocket.receive_text()
    await websocket.send_text("echo:" + message)
    await websocket.close()


app = Starlette(routes=[
    Route("/sleep", sleep),
    Route("/resource", resource),
    Route("/stubborn", stubborn),
    Route("/slow-finally", slow_finally),
    Route("/stream", stream),
    Route("/upload", upload, methods=["POST"]),
    Route("/fast", fast),
    Route("/stats", get_stats),
    WebSocketRoute("/ws", ws),
])
