"""A Starlette app: plain text, JSON, path params, POST body, streaming, background task, lifespan state,
and an endpoint that raises (Starlette sends its own 500, then re-raises into the server)."""

import asyncio
import contextlib

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from asgi_util import marker


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "hi from lifespan"}


async def home(request: Request):
    return PlainTextResponse("Hello, Starlette!")


async def json_endpoint(request: Request):
    return JSONResponse({"framework": "starlette", "numbers": [1, 2, 3]})


async def user(request: Request):
    return JSONResponse({"name": request.path_params["name"], "q": request.query_params.get("q")})


async def echo(request: Request):
    body = await request.body()
    return PlainTextResponse(body.decode()[::-1], headers={"x-length": str(len(body))})


async def stream(request: Request):
    async def numbers():
        for i in range(5):
            yield f"line {i}\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(numbers(), media_type="text/plain")


async def background(request: Request):
    name = request.query_params["name"]
    return PlainTextResponse("scheduled", background=BackgroundTask(marker, f"bg-{name}", "done"))


async def state(request: Request):
    return JSONResponse({"greeting": request.state.greeting})


async def error(request: Request):
    raise RuntimeError("starlette-endpoint-failed")


app = Starlette(routes=[
    Route("/", home),
    Route("/json", json_endpoint),
    Route("/users/{name}", user),
    Route("/echo", echo, methods=["POST"]),
    Route("/stream", stream),
    Route("/background", background),
    Route("/state", state),
    Route("/error", error),
], lifespan=lifespan)
