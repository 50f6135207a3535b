"""Listening sockets for the modes without a master: `esg.run(app)` in-process binds them here, gunicorn's
ESGWorker hands its own to the engine through listener_for. The master binds in C++
(server/master/listeners.cc); this module follows the same rules where esg.run offers the same options:

- --fd wins over --uds, which wins over --host/--port; a host with ':' is IPv6 ("[::1]" is accepted too).
- --uds refuses a path that is not a socket, or where a server accepts connections (a connect() that
  succeeds or would block); replaces a stale socket (ECONNREFUSED); gives the file mode 0666 before
  listen() so a proxy running as another user can connect; on close, removes the file only if it is
  still the one bound here (same device and inode).

Differences from the master that remain (the master's behaviour is the reference): a stale socket is
unlinked and re-bound here (the master binds beside it and renames over it, so the path never
disappears); --uds-mode/--uds-group do not exist for esg.run; errors are OSError exceptions rather than
one-sentence log lines; a host name is bound to its first address (the master tries each address).
"""

import os
import socket
import stat
from typing import Any, Dict, List, Optional, Tuple


class Bound:
    """A socket bound (or adopted) here, and what close() must clean up."""

    def __init__(self, sock: socket.socket, path_id: Optional[Tuple[int, int]] = None) -> None:
        self.sock = sock
        self.path_id = path_id  # (st_dev, st_ino) of a UNIX socket file created here

    def close(self) -> None:
        path = self.sock.getsockname() if self.sock.family == socket.AF_UNIX else None
        self.sock.close()
        if path and self.path_id is not None:
            try:
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) == self.path_id:
                    os.unlink(path)
            except OSError:
                pass


def bind(config: Dict[str, Any]) -> Bound:
    """Binds (or adopts) the listening socket config asks for: --fd, else --uds, else --host/--port."""
    backlog = int(config["backlog"])
    if config["fd"] is not None and int(config["fd"]) >= 0:
        return Bound(socket.socket(fileno=os.dup(int(config["fd"]))))
    if config["uds"]:
        return bind_unix(config["uds"], backlog)
    return Bound(bind_tcp(config["host"], int(config["port"]), backlog))


def listener_for(sock: socket.socket) -> Dict[str, Any]:
    """The engine's listener dict for a listening socket (the fd is a close-on-exec duplicate the engine
    owns and closes)."""
    fd = os.dup(sock.fileno())
    os.set_inheritable(fd, False)
    if sock.family == socket.AF_UNIX:
        path = sock.getsockname()
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        return {"fd": fd, "kind": "unix", "host": "", "port": 0, "path": path}
    address = sock.getsockname()
    return {"fd": fd, "kind": "tcp", "host": address[0], "port": address[1], "path": ""}


def close_unused(listeners: List[Dict[str, Any]]) -> None:
    """Closes the duplicates of listener_for that the engine never took (it closes the ones it took)."""
    for listener in listeners:
        os.close(listener["fd"])


def bind_tcp(host: str, port: int, backlog: int) -> socket.socket:
    if len(host) >= 2 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def bind_unix(path: str, backlog: int) -> Bound:
    """Refuses a socket someone listens on; replaces a stale one; mode 0666 so a proxy can connect."""
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise OSError(f"{path} exists and is not a socket; refusing to replace it.")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.setblocking(False)  # a live server with a full backlog answers EAGAIN instead of blocking us
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # stale: nobody accepts on it
        except BlockingIOError:
            raise OSError(f"{path} is in use by another server.") from None
        else:
            raise OSError(f"{path} is in use by another server.")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
        st = os.stat(path)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return Bound(sock, (st.st_dev, st.st_ino))
