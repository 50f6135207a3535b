"""esg.run(app, **config) as the deployment guide shows it: an app object served in-process, an import string
run by the native master (so workers= and reload= work), clear errors for what cannot work."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import textwrap
from pathlib import Path

from deploy_support import APPS, env_for, free_port, get, make_cert, procs, python, try_get, wait_until  # noqa: F401

EXAMPLE = """
import esg
from dep_app import app

if __name__ == "__main__":
    esg.run({target}, {options})
"""


def write_example(tmp_path: Path, target: str, options: str) -> Path:
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(EXAMPLE.format(target=target, options=options)))
    return script


def start_example(procs, tmp_path, target: str, options: str):
    script = write_example(tmp_path, target, options)
    return procs([python(), str(script)], name="example", env=env_for(pythonpath=[APPS]), cwd=tmp_path)


def test_app_object_serves_in_process_and_stops_on_sigterm(procs, tmp_path):
    port = free_port()
    p = start_example(procs, tmp_path, "app", f'host="127.0.0.1", port={port}, log_level="info"')
    p.wait_output(f"ESG running on http://127.0.0.1:{port} (Press CTRL+C to quit)")
    r = get(f"http://127.0.0.1:{port}/pid")
    assert r.status_code == 200 and int(r.text) == p.pid, "the app object must be served by this very process"
    assert get(f"http://127.0.0.1:{port}/").text == "hello"
    p.send_signal(signal.SIGTERM)
    assert p.wait() == 0, p.describe()
    assert "Application shutdown complete." in p.output()
    assert "Finished server process" in p.output()


def test_app_object_sigint_drains_in_flight_request(procs, tmp_path):
    port = free_port()
    p = start_example(procs, tmp_path, "app", f"port={port}")
    p.wait_output("ESG running on")
    import threading

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", get(f"http://127.0.0.1:{port}/slow?s=1")))
    t.start()
    wait_until(lambda: "GET /slow" in p.output() or t.is_alive(), 5)
    import time

    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    t.join(10)
    assert result["r"].text == "slow done"
    assert p.wait() == 0, p.describe()


def test_app_object_on_a_unix_socket(procs, tmp_path):
    sock = tmp_path / "esg.sock"
    p = start_example(procs, tmp_path, "app", f'uds="{sock}"')
    p.wait_output(f"ESG running on unix socket {sock}")
    assert get("http://localhost/", uds=str(sock)).text == "hello"
    p.send_signal(signal.SIGTERM)
    assert p.wait() == 0
    assert not sock.exists(), "the socket file must be removed on exit"


def test_import_string_runs_the_native_master(procs, tmp_path):
    port = free_port()
    p = start_example(procs, tmp_path, '"dep_app:app"', f'host="127.0.0.1", port={port}, log_level="info"')
    p.wait_output(f"ESG running on http://127.0.0.1:{port}")
    assert "Started parent process" in p.output(), "an import string is served by the `esg` master"
    worker_pid = int(get(f"http://127.0.0.1:{port}/pid").text)
    assert worker_pid != p.pid
    p.send_signal(signal.SIGINT)  # forwarded to the master once: a graceful stop
    assert p.wait() == 0, p.describe()
    assert "Stopping parent process" in p.output()


def test_import_string_with_workers(procs, tmp_path):
    port = free_port()
    p = start_example(procs, tmp_path, '"dep_app:app"', f"port={port}, workers=2")
    p.wait_output("ESG running on", timeout=30)
    pids = set()
    wait_until(lambda: pids.add(int(get(f"http://127.0.0.1:{port}/pid").text)) or len(pids) >= 2, 20,
               what="answers from two worker processes", describe=p.describe)
    p.send_signal(signal.SIGTERM)
    assert p.wait() == 0, p.describe()


def test_import_string_startup_failure_exits_3(tmp_path):
    script = tmp_path / "boot.py"
    script.write_text(f'import esg\nif __name__ == "__main__":\n    esg.run("dep_bootfail:app", port={free_port()})\n')
    proc = subprocess.run([python(), str(script)], env=env_for(pythonpath=[APPS]), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr


def test_app_object_startup_failure_exits_3(tmp_path):
    script = tmp_path / "boot.py"
    script.write_text("import esg\nfrom dep_bootfail import app\n"
                      f'if __name__ == "__main__":\n    esg.run(app, port={free_port()})\n')
    proc = subprocess.run([python(), str(script)], env=env_for(pythonpath=[APPS]), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "database unreachable" in proc.stderr


def run_snippet(tmp_path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([python(), "-c", code], env=env_for(pythonpath=[APPS]), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_workers_or_reload_with_an_app_object_is_a_clear_error(tmp_path):
    for option in ("workers=2", "reload=True"):
        proc = run_snippet(tmp_path, f"import esg\nfrom dep_app import app\nesg.run(app, {option})")
        assert proc.returncode == 1
        assert "ConfigError" in proc.stderr and "import string" in proc.stderr, proc.stderr


def test_unknown_keyword_is_a_type_error_naming_it(tmp_path):
    proc = run_snippet(tmp_path, "import esg\nfrom dep_app import app\nesg.run(app, prot=5000)")
    assert "TypeError" in proc.stderr and "'prot'" in proc.stderr, proc.stderr
    proc = run_snippet(tmp_path, "import esg\nesg.run('dep_app:app', prot=5000)")
    assert "TypeError" in proc.stderr and "'prot'" in proc.stderr, proc.stderr


def test_web_concurrency_does_not_break_an_app_object(procs, tmp_path):
    """Platforms (Heroku) export WEB_CONCURRENCY; an app object still serves, in one process."""
    port = free_port()
    script = write_example(tmp_path, "app", f"port={port}")
    p = procs([python(), str(script)], name="example", env=env_for({"WEB_CONCURRENCY": "4"}, pythonpath=[APPS]))
    p.wait_output("ESG running on")
    assert try_get(f"http://127.0.0.1:{port}/").text == "hello"


def test_app_object_with_tls(procs, tmp_path):
    cert, key = make_cert(tmp_path)
    port = free_port()
    p = start_example(procs, tmp_path, "app", f'port={port}, ssl_certfile="{cert}", ssl_keyfile="{key}"')
    p.wait_output(f"ESG running on https://127.0.0.1:{port}")
    assert get(f"https://127.0.0.1:{port}/scope").json()["scheme"] == "https"


def _alpn(port: int, offer: list[str]) -> str | None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a self-signed certificate; only the ALPN answer matters here
    ctx.set_alpn_protocols(offer)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            return sock.selected_alpn_protocol()


def test_app_object_with_http2_over_tls(procs, tmp_path):
    cert, key = make_cert(tmp_path)
    port = free_port()
    p = start_example(procs, tmp_path, "app", f'port={port}, ssl_certfile="{cert}", ssl_keyfile="{key}", '
                                                'http2=True, http2_max_concurrent_streams=10')
    p.wait_output(f"ESG running on https://127.0.0.1:{port}")
    assert _alpn(port, ["h2", "http/1.1"]) == "h2"
    assert _alpn(port, ["http/1.1"]) == "http/1.1"


def test_import_string_with_http2_over_tls(procs, tmp_path):
    cert, key = make_cert(tmp_path)
    port = free_port()
    p = start_example(procs, tmp_path, '"dep_app:app"', f'port={port}, ssl_certfile="{cert}", '
                                                        f'ssl_keyfile="{key}", http2=True')
    p.wait_output(f"ESG running on https://127.0.0.1:{port}")
    assert _alpn(port, ["h2", "http/1.1"]) == "h2"


def test_app_object_with_a_bad_http2_stream_limit_names_it(tmp_path):
    proc = run_snippet(tmp_path, f"import esg\nfrom dep_app import app\n"
                                 f"esg.run(app, port={free_port()}, http2=True, http2_max_concurrent_streams=0)")
    assert proc.returncode != 0
    assert ("ValueError: esg.run(): http2_max_concurrent_streams=0 must be an integer from 1 to 2147483647 "
            "(--http2-max-concurrent-streams)." in proc.stderr), proc.stderr
    assert "Started server process" not in proc.stderr, "refused before serving"


def test_import_string_with_reload(procs, tmp_path):
    app_dir = tmp_path / "src"
    app_dir.mkdir()
    module = app_dir / "dep_reloaded.py"
    template = ("async def app(scope, receive, send):\n"
                "    if scope['type'] != 'http':\n        return\n"
                "    await send({{'type': 'http.response.start', 'status': 200, 'headers': []}})\n"
                "    await send({{'type': 'http.response.body', 'body': b'{}'}})\n")
    module.write_text(template.format("one"))
    port = free_port()
    p = start_example(procs, tmp_path, '"dep_reloaded:app"',
                      f'port={port}, reload=True, reload_dirs=[{str(app_dir)!r}], app_dir={str(app_dir)!r}')
    p.wait_output("ESG running on", timeout=30)
    assert get(f"http://127.0.0.1:{port}/").text == "one"
    module.write_text(template.format("two"))
    wait_until(lambda: (r := try_get(f"http://127.0.0.1:{port}/")) is not None and r.text == "two", 30,
               what="the reloaded app answering", describe=p.describe)
    p.send_signal(signal.SIGINT)
    assert p.wait() == 0, p.describe()


def test_app_object_with_cpu_scheduling(procs, tmp_path):
    script = tmp_path / "sched_example.py"
    port = free_port()
    script.write_text("import esg\nfrom sched_app import app\n\n"
                      f"esg.run(app, port={port}, cpu_scheduling=\"normal\")\n")
    p = procs([python(), str(script)], name="example", env=env_for(pythonpath=[APPS]), cwd=tmp_path)
    p.wait_output("ESG running on")
    assert get(f"http://127.0.0.1:{port}/").text == "SCHED_OTHER"
    p.send_signal(signal.SIGTERM)
    assert p.wait() == 0, p.describe()
