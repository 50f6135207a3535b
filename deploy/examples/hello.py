"""The bundled example app: a plain ASGI 3 hello world (`esg hello:app --app-dir deploy/examples`)."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: nothing to set up
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})
