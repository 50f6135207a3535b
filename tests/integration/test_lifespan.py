"""The ASGI lifespan protocol and `--lifespan auto|on|off`.

Covers: startup runs before serving (log lines "Waiting for application startup." / "Application startup
complete."), state set at startup reaches request scopes, shutdown runs on SIGTERM (the app writes a marker);
a startup failure (lifespan.startup.failed with a message, or an exception under --lifespan on) makes esg exit
with code 3 showing the app's message; --lifespan auto serves an app that raises on the lifespan scope;
--lifespan on refuses such an app (exit 3); --lifespan off never calls the app with a lifespan scope.
"""

import pytest

from esgtest import wait_for_file


def test_startup_and_shutdown_run(esg_server, markers):
    server = esg_server(["--lifespan", "on"], app="lifespan_state:app")
    resp = server.get("/")
    assert resp.status_code == 200
    assert resp.json()["state"]["greeting"] == "hello from startup"
    assert (markers / "startup").exists()
    server.wait_for_output(r"^INFO:     Waiting for application startup\.$")
    server.wait_for_output(r"^INFO:     Application startup complete\.$")
    assert not (markers / "shutdown").exists()
    assert server.stop() == 0
    assert (markers / "shutdown").exists(), "lifespan.shutdown was not delivered on SIGTERM"


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_startup_failed_message_exits_3(run_esg, mode):
    result = run_esg(["--port", "0", "--lifespan", mode, "lifespan_fail:failed_message"])
    assert result.returncode == 3, result
    assert "database-unreachable-7f3a" in result.stderr


def test_startup_exception_exits_3(run_esg):
    result = run_esg(["--port", "0", "--lifespan", "on", "lifespan_fail:raises"])
    assert result.returncode == 3, result
    assert "startup-exploded-91c2" in result.stderr


def test_auto_serves_app_without_lifespan_support(esg_server, markers):
    server = esg_server(["--lifespan", "auto"], app="lifespan_unsupported:app")
    resp = server.get("/")
    assert (resp.status_code, resp.text) == (200, "served without lifespan")
    assert server.stop() == 0


def test_on_refuses_app_without_lifespan_support(run_esg):
    result = run_esg(["--port", "0", "--lifespan", "on", "lifespan_unsupported:app"])
    assert result.returncode == 3, result
    assert "unsupported scope type lifespan" in result.stderr


def test_off_never_calls_lifespan(esg_server, markers):
    server = esg_server(["--lifespan", "off"], app="lifespan_unsupported:app")
    resp = server.get("/")
    assert (resp.status_code, resp.text) == (200, "served without lifespan")
    assert server.stop() == 0
    assert not (markers / "lifespan-called").exists(), "app was called with a lifespan scope under --lifespan off"


def test_off_gives_no_lifespan_state(esg_server, markers):
    server = esg_server(["--lifespan", "off"], app="lifespan_state:app")
    body = server.get("/").json()
    assert not (markers / "startup").exists()
    assert not (body["state"] or {}).get("greeting")
    server.stop()
    assert not (markers / "shutdown").exists()


def test_default_is_auto_and_runs_startup(esg_server, markers):
    server = esg_server([], app="lifespan_state:app")
    assert server.get("/").json()["state"]["greeting"] == "hello from startup"
    assert wait_for_file(markers / "startup") == ""
    assert server.stop() == 0
    assert (markers / "shutdown").exists()


def test_state_shared_into_every_request(esg_server):
    server = esg_server(["--lifespan", "on"], app="lifespan_state:app")
    with server.client() as client:
        for _ in range(3):
            assert client.get("/").json()["state"] == {"greeting": "hello from startup"}
