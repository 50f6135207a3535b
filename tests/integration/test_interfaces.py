"""--interface auto|asgi3|asgi2 through the `esg` command: ASGI 2 apps (a class, or a function returning the
instance) are detected and served; asking for the wrong interface is visible, not silent. WSGI has its own
suite (test_wsgi.py)."""

import pytest


@pytest.mark.parametrize("args", [[], ["--interface", "asgi2"]])
def test_asgi2_class_app(serve, args):
    server = serve("asgi2_app:App", *args)
    response = server.get("/two")
    assert response.status_code == 200
    assert response.text == "asgi2 /two"


def test_asgi2_function_returning_the_instance(serve):
    server = serve("asgi2_app:factory_asgi2", "--interface", "asgi2")
    assert server.get("/f").text == "asgi2 /f"


def test_asgi3_explicit(serve):
    server = serve("hello:app", "--interface", "asgi3")
    assert server.get("/").status_code == 200


def test_asgi2_app_forced_to_asgi3_fails_with_500_and_keeps_serving(esg_server):
    server = esg_server(["--interface", "asgi3", "--lifespan", "off"], app="asgi2_app:App")
    response = server.get("/x")
    assert response.status_code == 500
    assert "Exception in ASGI application" in server.stderr()
    assert server.get("/y").status_code == 500  # still serving


# ASGI 2 apps get scope["asgi"]["version"] == "2.0" (as uvicorn gives them), in every scope type; ASGI 3
# apps "3.0". It used to be "3.0" for both (#23).


def test_asgi2_scope_version_in_http_websocket_and_lifespan(serve):
    import asyncio

    import websockets

    server = serve("app_hardening:Asgi2Versions")
    assert server.get("/v").text == "http 2.0 lifespan 2.0"

    async def ws():
        async with websockets.connect(f"ws://{server.host}:{server.port}/ws") as conn:
            return await conn.recv()

    assert asyncio.run(ws()) == "websocket 2.0 lifespan 2.0"


def test_asgi3_scope_version_stays_3(serve):
    server = serve("scope_echo:app")
    assert server.get("/").json()["asgi"]["version"] == "3.0"
