"""An app without lifespan support: raises on scope type lifespan (and writes marker lifespan-called)."""

from asgi_util import marker, respond


async def app(scope, receive, send):
    if scope["type"] != "http":
        marker("lifespan-called", scope["type"])
        raise RuntimeError(f"unsupported scope type {scope['type']}")
    await respond(send, 200, b"served without lifespan")
