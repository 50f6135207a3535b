"""Starlette workload (tests/bench, mode "starlette"): GET /json, a JSONResponse from a routed endpoint."""
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def json_endpoint(request):
    return JSONResponse({"message": "Hello, world!"})


async def ready(request):  # the harness's readiness check (GET / answered 200)
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/json", json_endpoint), Route("/", ready)])
