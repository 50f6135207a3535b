"""Apps for the body-read and send deadlines.

/read   reads the whole request body, answers its length
/big    answers 8 MiB in one body message (a client that never reads it stalls the send)
"""

from asgi_util import lifespan, read_body, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/big":
        return await respond(send, 200, b"x" * (8 << 20))
    body, _ = await read_body(receive)
    return await respond(send, 200, str(len(body)).encode())
