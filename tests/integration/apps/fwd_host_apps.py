"""Forwarded-host apps (test_forwarded_host.py): a Starlette app and a Flask app (served with --interface wsgi)
that report the URLs they build — url_for() and a redirect's Location — and what they derive them from."""

from flask import Flask, jsonify, redirect as flask_redirect, request, url_for
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route


async def where(request):
    return JSONResponse({"url_for": str(request.url_for("target")), "url": str(request.url),
                         "host": request.headers.get("host"), "server": list(request.scope["server"]),
                         "client": list(request.client) if request.client else None})


async def go(request):
    return RedirectResponse(request.url_for("target"), status_code=307)


async def target(request):
    return JSONResponse({"ok": True})


starlette_app = Starlette(routes=[Route("/where", where), Route("/go", go), Route("/target", target, name="target")])

flask_app = Flask(__name__)


@flask_app.get("/where")
def flask_where():
    env = request.environ
    return jsonify(url_for=url_for("flask_target", _external=True), url=request.url, host=request.host,
                   HTTP_HOST=env.get("HTTP_HOST"), SERVER_NAME=env["SERVER_NAME"], SERVER_PORT=env["SERVER_PORT"],
                   remote_addr=request.remote_addr)


@flask_app.get("/go")
def flask_go():
    return flask_redirect(url_for("flask_target", _external=True), code=307)


@flask_app.get("/target")
def flask_target():
    return "ok"
