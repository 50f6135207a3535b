"""An ASGI app that ends its responses with trailers (the http.response.trailers extension).

GET /            : body in two parts, then trailers x-checksum (sent with more_trailers) and x-more
GET /bad-trailer : a trailer whose name is not a token (the send raises; the response cannot complete)
GET /no-announce : trailers sent without announcing them in http.response.start (dropped)
Every response body says whether the scope offered the extension: "ext=True" / "ext=False".
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    offered = "http.response.trailers" in scope.get("extensions", {})
    path = scope["path"]
    announce = path != "/no-announce"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"trailer", b"x-checksum, x-more")],
                "trailers": announce})
    await send({"type": "http.response.body", "body": b"part1 ", "more_body": True})
    await send({"type": "http.response.body", "body": f"ext={offered}".encode(), "more_body": False})
    if path == "/bad-trailer":
        await send({"type": "http.response.trailers", "headers": [(b"bad name", b"x")]})
        return
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")], "more_trailers": True})
    await send({"type": "http.response.trailers", "headers": [(b"x-more", b"2")]})
