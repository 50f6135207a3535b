"""Flask workload (tests/bench, mode "flask", WSGI): GET /users/<int:user_id>, answered with jsonify."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def ready():  # the harness's readiness check (GET / answered 200)
    return "ok"


@app.get("/users/<int:user_id>")
def user(user_id):
    return jsonify(id=user_id, name="user", active=True)
