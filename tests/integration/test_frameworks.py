"""Real frameworks on ESG, for `--loop asyncio` and `--loop uvloop`: a Starlette app (text, JSON, path
params, POST body, StreamingResponse, BackgroundTask, lifespan state through request.state, an endpoint
error turned into Starlette's 500) and a FastAPI app (JSON, typed path/query params with 422 on bad input,
pydantic POST body, a sync `def` endpoint run in the threadpool, StreamingResponse, BackgroundTasks).
"""

from esgtest import exchange, http_request, wait_for_file

# ---------------------------------------------------------------------------------------------- Starlette


def test_starlette_plain_and_json(serve):
    server = serve("starlette_app:app")
    with server.client() as client:
        home = client.get("/")
        assert (home.status_code, home.text) == (200, "Hello, Starlette!")
        assert home.headers["content-type"].startswith("text/plain")
        data = client.get("/json")
        assert data.json() == {"framework": "starlette", "numbers": [1, 2, 3]}
        assert client.get("/nope").status_code == 404


def test_starlette_path_params_and_query(serve):
    server = serve("starlette_app:app")
    assert server.get("/users/ada?q=x%20y").json() == {"name": "ada", "q": "x y"}
    assert server.get("/users/caf%C3%A9").json() == {"name": "café", "q": None}


def test_starlette_post_body(serve):
    server = serve("starlette_app:app")
    resp = server.request("POST", "/echo", content=b"stressed")
    assert (resp.status_code, resp.text) == (200, "desserts")
    assert resp.headers["x-length"] == "8"
    big = server.request("POST", "/echo", content=b"ab" * 100_000)
    assert big.headers["x-length"] == "200000" and big.text == "ba" * 100_000


def test_starlette_streaming_response(serve):
    server = serve("starlette_app:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/stream"))
        resp = conn.read_response()
    assert resp.status == 200
    assert resp.chunked and resp.complete
    assert resp.body == b"".join(f"line {i}\n".encode() for i in range(5))


def test_starlette_background_task(serve, markers):
    server = serve("starlette_app:app")
    resp = server.get("/background?name=s1")
    assert (resp.status_code, resp.text) == (200, "scheduled")
    assert wait_for_file(markers / "bg-s1") == "done"


def test_starlette_lifespan_state(serve):
    server = serve("starlette_app:app", "--lifespan", "on")
    assert server.get("/state").json() == {"greeting": "hi from lifespan"}


def test_starlette_endpoint_error_is_500_and_server_keeps_serving(serve):
    server = serve("starlette_app:app")
    resp = exchange(server, http_request("GET", "/error"))
    assert resp.status == 500 and resp.complete
    server.wait_for_output("starlette-endpoint-failed", "stderr")
    assert server.get("/").text == "Hello, Starlette!"


# ------------------------------------------------------------------------------------------------ FastAPI


def test_fastapi_json(serve):
    server = serve("fastapi_app:app")
    resp = server.get("/json")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"framework": "fastapi", "ok": True}


def test_fastapi_path_and_query_params(serve):
    server = serve("fastapi_app:app")
    assert server.get("/items/42?q=hello").json() == {"item_id": 42, "q": "hello"}
    bad = server.get("/items/not-a-number")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_fastapi_post_body(serve):
    server = serve("fastapi_app:app")
    resp = server.request("POST", "/items", json={"name": "pen", "price": 1.25, "tags": ["a", "b"]})
    assert resp.status_code == 200
    assert resp.json() == {"name": "pen", "double": 2.5, "tags": ["a", "b"]}
    invalid = server.request("POST", "/items", json={"name": "pen"})
    assert invalid.status_code == 422


def test_fastapi_sync_endpoint_runs_in_threadpool(serve):
    server = serve("fastapi_app:app")
    with server.client() as client:
        loop_thread = client.get("/loop-thread").json()["ident"]
        sync_thread = client.get("/sync").json()["ident"]
    assert sync_thread != loop_thread, "a sync `def` endpoint ran on the event loop thread"


def test_fastapi_streaming_response(serve):
    server = serve("fastapi_app:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/stream"))
        resp = conn.read_response()
    assert resp.status == 200 and resp.chunked and resp.complete
    assert resp.body == b"part-0;part-1;part-2;part-3;"


def test_fastapi_background_tasks(serve, markers):
    server = serve("fastapi_app:app")
    resp = server.request("POST", "/background/f1")
    assert resp.json() == {"scheduled": "f1"}
    assert wait_for_file(markers / "bg-f1") == "done"


def test_fastapi_many_requests_on_one_connection(serve):
    server = serve("fastapi_app:app")
    with server.client() as client:
        for i in range(20):
            assert client.get(f"/items/{i}").json()["item_id"] == i
