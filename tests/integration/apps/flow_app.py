"""Flow control: large answers to pipelined requests, streamed answers to slow readers, concurrent sends.

/big?id=I&size=N          N pattern bytes in one http.response.body, header x-id: I
/stream?size=N&chunk=M    N bytes in M-byte more_body messages (each send() awaited: backpressure);
                          marker "stream-done" once the last message is sent
/two-senders?n=N&chunk=M  two tasks each send N chunks of M bytes (more_body) at the same time, so one
                          send() is called while the other's backpressure wait is pending; then the end.
                          Marker "two-senders" says "done" once both tasks finished.
/keep?id=I                answers I and keeps its receive/send (the Exchange) in a list, with a task
                          that awaits receive() (http.disconnect) and then sleeps a little
/drop?id=I                suspends, drops every kept Exchange (and waits for their tasks), answers I
/small                    "ok"
/pid                      the worker's pid
"""

import asyncio
import os

from asgi_util import lifespan, marker, query, read_body, respond

BLOCK = bytes(range(256))


def pattern(size):
    return (BLOCK * (size // 256 + 1))[:size]


KEPT = []


async def _linger(receive):
    message = await receive()
    await asyncio.sleep(0.05)
    return message


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    q = query(scope)
    await read_body(receive)
    path = scope["path"]
    if path == "/small":
        return await respond(send, 200, b"ok")
    if path == "/keep":
        KEPT.append((receive, send, asyncio.ensure_future(_linger(receive))))
        return await respond(send, 200, q.get("id", "").encode())
    if path == "/drop":
        await asyncio.sleep(0.1)
        tasks = [t for _, _, t in KEPT]
        KEPT.clear()
        types = [m["type"] for m in await asyncio.gather(*tasks)]
        del tasks
        import gc
        gc.collect()
        return await respond(send, 200, (q.get("id", "") + " " + ",".join(types)).encode())
    if path == "/pid":
        return await respond(send, 200, str(os.getpid()).encode())
    size = int(q.get("size", "0"))
    if path == "/big":
        return await respond(send, 200, pattern(size), headers=[(b"x-id", q.get("id", "").encode())],
                             content_type=b"application/octet-stream")
    if path == "/stream":
        chunk = int(q.get("chunk", "65536"))
        data = pattern(chunk)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(size // chunk):
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        marker("stream-done", "done")
        return
    if path == "/two-senders":
        n, chunk = int(q.get("n", "64")), int(q.get("chunk", "65536"))
        await send({"type": "http.response.start", "status": 200, "headers": []})

        async def sender(byte):
            data = byte * chunk
            for _ in range(n):
                await send({"type": "http.response.body", "body": data, "more_body": True})

        await asyncio.gather(sender(b"a"), sender(b"b"))
        await send({"type": "http.response.body", "body": b""})
        marker("two-senders", "done")
        return
    await respond(send, 404, b"not found")
