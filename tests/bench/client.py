"""A tiny deterministic HTTP/1.1 client: sequential keep-alive requests on one connection.

Used (1) to check that every server answers every workload with the same status, content-type
and body before anything is measured, (2) as the readiness probe and (3) as the load of the
callgrind mode, where what matters is that the server sees exactly the same byte stream in
every run. It is not a load generator (wrk is).

    python client.py PORT WORKLOAD N     # N requests, prints the elapsed time
"""
from __future__ import annotations

import socket
import sys
import time

import workloads as W


class Client:
    def __init__(self, host, port, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @classmethod
    def unix(cls, path, timeout=30.0):
        self = cls.__new__(cls)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        return self

    def close(self):
        self.sock.close()

    def local_port(self):
        return self.sock.getsockname()[1]

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _line_block(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head, self.buf = self.buf[:i], self.buf[i + 4:]
                return head
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read_response(self):
        head = self._line_block().split(b"\r\n")
        status = int(head[0].split()[1])
        headers = []
        for line in head[1:]:
            k, _, v = line.partition(b":")
            headers.append((k.strip().lower(), v.strip()))
        h = dict(headers)
        if b"content-length" in h:
            body = self._exact(int(h[b"content-length"]))
        elif h.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers
                        pass
                    break
                parts.append(self._exact(size))
                self._exact(2)
            body = b"".join(parts)
        else:
            raise ValueError("response without content-length or chunked encoding (keep-alive impossible)")
        return status, headers, body

    def request(self, workload: str):
        self.send_raw(W.WORKLOADS[workload].raw_request)
        return self.read_response()


def run(port, workload, n, host="127.0.0.1"):
    c = Client(host, port)
    raw = W.WORKLOADS[workload].raw_request
    t = time.monotonic()
    for _ in range(n):
        c.send_raw(raw)
        status, _, _ = c.read_response()
        if status != 200:
            raise RuntimeError(f"status {status}")
    c.close()
    return time.monotonic() - t


if __name__ == "__main__":
    port, workload, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    print(f"{n} x {workload}: {run(port, workload, n):.3f}s")
