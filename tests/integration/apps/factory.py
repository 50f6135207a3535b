"""--factory: create_app() returns the ASGI app; `app` here is deliberately not an ASGI app."""

from asgi_util import lifespan, respond

CALLS = []


def create_app():
    CALLS.append(1)

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        await respond(send, 200, b"made by factory")

    return app


def broken_factory():
    raise RuntimeError("factory-failed-0b7e")
