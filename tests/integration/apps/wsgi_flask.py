"""A Flask app served with --interface wsgi: text, JSON, a POST body, form data, cookies, a streamed
response, the URL pieces Flask derives from the environ (root path, remote address), an error handler,
and Flask's logger (for --log-config tests)."""

import logging

from flask import Flask, Response, jsonify, request, stream_with_context

app = Flask(__name__)
log = logging.getLogger("cfg_app")


@app.get("/")
def home():
    return "Hello, Flask!"


@app.get("/info")
def info():
    return jsonify(path=request.path, script_root=request.script_root, url=request.url,
                   remote_addr=request.remote_addr, args=request.args.to_dict(), method=request.method,
                   scheme=request.scheme, host=request.host)


@app.post("/echo")
def echo():
    data = request.get_data()
    return Response(data[::-1], mimetype="application/octet-stream", headers={"X-Length": str(len(data))})


@app.post("/form")
def form():
    return jsonify(form=request.form.to_dict(), files={k: f.read().decode() for k, f in request.files.items()})


@app.get("/cookies")
def cookies():
    resp = jsonify(dict(request.cookies))
    resp.set_cookie("flavour", "oat")
    return resp


@app.get("/stream")
def stream():
    def generate():
        for i in range(5):
            yield f"line {i}\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.get("/boom")
def boom():
    raise ValueError("the view failed")


@app.errorhandler(ValueError)
def on_value_error(exc):
    return jsonify(error=str(exc)), 500


@app.get("/log")
def log_something():
    log.warning("app says %s", request.args.get("word", "hello"))
    return "logged"
