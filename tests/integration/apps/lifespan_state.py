"""Lifespan with state: startup puts greeting into scope["state"] and writes marker startup; shutdown writes
marker shutdown. HTTP answers JSON {"state": <scope state>}; /mutate adds a key to its own request state."""

from asgi_util import marker, respond_json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello from startup"
                marker("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                marker("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    state = scope.get("state")
    if scope["path"] == "/mutate" and isinstance(state, dict):
        state["leak"] = "from a request"
    await respond_json(send, {"has_state": "state" in scope,
                              "state": dict(state) if isinstance(state, dict) else None})
