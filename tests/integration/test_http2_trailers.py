"""Response trailers (the ASGI http.response.trailers extension) through `esg --http2`.

A real HTTP/2 client (the `h2` library over a socket, h2c with prior knowledge) reads the trailer HEADERS
frame; curl checks the HTTP/1.1 side, where the extension is not offered and announced trailers are dropped.
"""
from __future__ import annotations

import socket
import subprocess

import h2.config
import h2.connection
import h2.events

TIMEOUT = 10.0


def h2_get(port: int, paths: list[str]) -> dict[int, dict]:
    """GETs `paths` on one h2c connection; per stream: status, headers, body, trailers, reset code."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    streams: dict[int, dict] = {}
    for path in paths:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                                (":authority", f"127.0.0.1:{port}")], end_stream=True)
        streams[sid] = {"path": path, "headers": {}, "body": b"", "trailers": None, "reset": None, "ended": False}
    sock.sendall(conn.data_to_send())
    try:
        while not all(s["ended"] for s in streams.values()):
            data = sock.recv(65536)
            assert data, "the server closed the connection before every stream ended"
            for event in conn.receive_data(data):
                s = streams.get(getattr(event, "stream_id", None))
                if isinstance(event, h2.events.ResponseReceived):
                    s["headers"] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    s["body"] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    s["trailers"] = dict(event.headers)
                elif isinstance(event, h2.events.StreamEnded):
                    s["ended"] = True
                elif isinstance(event, h2.events.StreamReset):
                    s["reset"] = event.error_code
                    s["ended"] = True
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    return streams


def test_trailers_end_an_http2_response(esg_server):
    server = esg_server(["--http2"], app="trailers:app")
    (s,) = h2_get(server.port, ["/"]).values()
    assert s["headers"][":status"] == "200"
    assert s["body"] == b"part1 ext=True"
    # Fields sent with more_trailers accumulate into one trailer section.
    assert s["trailers"] == {"x-checksum": "abc", "x-more": "2"}
    assert s["reset"] is None


def test_trailers_not_announced_are_dropped(esg_server):
    server = esg_server(["--http2"], app="trailers:app")
    (s,) = h2_get(server.port, ["/no-announce"]).values()
    assert (s["body"], s["trailers"], s["reset"]) == (b"part1 ext=True", None, None)
    assert "Error" not in server.stderr()


def test_an_invalid_trailer_resets_only_its_stream(esg_server):
    server = esg_server(["--http2"], app="trailers:app")
    streams = h2_get(server.port, ["/bad-trailer", "/"])
    bad, good = (streams[sid] for sid in sorted(streams))
    assert bad["trailers"] is None and bad["reset"] is not None, bad
    assert good["trailers"] == {"x-checksum": "abc", "x-more": "2"} and good["reset"] is None
    server.wait_for_output("Invalid HTTP trailer")


def test_http11_is_not_offered_trailers_and_its_response_completes(esg_server):
    server = esg_server(["--http2"], app="trailers:app")
    out = subprocess.run(["curl", "-sS", "--http1.1", "--raw", "-i", f"http://127.0.0.1:{server.port}/"],
                         capture_output=True, timeout=TIMEOUT, check=True).stdout
    assert out.startswith(b"HTTP/1.1 200")
    # Chunked, complete (the last chunk), no trailer fields after it.
    assert out.endswith(b"\r\n0\r\n\r\n"), out
    assert b"ext=False" in out and b"x-checksum: abc" not in out
