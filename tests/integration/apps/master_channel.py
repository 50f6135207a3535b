"""Writes on the worker -> master control channel as a broken worker would (issue 11, defect 5).

The channel is the worker's end of a socketpair, inherited right after the listening sockets
(server/master/worker_process.h): the first connected AF_UNIX stream socket that is not a listener.
/huge?mib=N writes an N MiB line with no newline (the master must kill this worker, not buffer it all);
/bad-types writes well-formed JSON with wrong value types (the master must ignore them, not crash).
Every other path answers the worker's pid.
"""

import os
import socket
import stat

from asgi_util import lifespan, query, respond


def control_fd() -> int:
    for fd in range(3, 64):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if s.family == socket.AF_UNIX and s.type == socket.SOCK_STREAM and \
                    not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                return fd
        finally:
            s.close()
    raise RuntimeError("no control channel found")


def write_all(fd: int, data: bytes) -> None:
    os.set_blocking(fd, True)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/huge":
        write_all(control_fd(), b'{"event": "heartbeat", "pad": "' + b"x" * (int(query(scope)["mib"]) << 20))
    elif scope["path"] == "/bad-types":
        write_all(control_fd(), b'{"event": "startup_failed", "message": 42}\n'
                                b'{"event": "heartbeat", "requests": -1, "rss": "big"}\n[[[[\n\xff\n')
    await respond(send, 200, str(os.getpid()).encode())
