"""Lifespan startup failures. `failed_message`: sends lifespan.startup.failed with a message;
`raises`: raises during startup."""


async def failed_message(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "database-unreachable-7f3a"})
        return
    raise AssertionError("must not serve")


async def raises(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("startup-exploded-91c2")
    raise AssertionError("must not serve")
