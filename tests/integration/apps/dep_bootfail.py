"""An app whose lifespan startup fails: every server must refuse to boot (exit status 3)."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "dep_bootfail: database unreachable"})
        return
    raise RuntimeError("never served")
