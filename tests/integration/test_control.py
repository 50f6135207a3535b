"""The control plane against a running `esg --workers 2`: every RPC through `esgctl` and through the Python
client (esg.control), the interactive shell driven through a pipe, a peer with another uid refused,
concurrent reloads serialised, health flipping on drain/resume, events observed during a reload.

esgctl is found as $ESGCTL_BIN, in the runfiles, or beside $ESG_BIN in bazel-bin; the Python client is
imported from the esg package in $ESG_BIN's runfiles (it holds the generated stubs).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from esgtest import esg_bin  # noqa: F401  (conftest put this folder on sys.path)


def _esgctl() -> str:
    candidates = [os.environ.get("ESGCTL_BIN", "")]
    if os.environ.get("RUNFILES_DIR"):
        candidates.append(os.path.join(os.environ["RUNFILES_DIR"], "esg", "control", "esgctl"))
    bin_path = os.path.realpath(os.environ.get("ESG_BIN", ""))
    candidates.append(str(Path(bin_path).parents[2] / "control" / "esgctl") if bin_path else "")
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail(f"esgctl not found (tried {candidates}); build //control:esgctl or set ESGCTL_BIN", pytrace=False)


def _package_dir() -> Path:
    bin_path = os.environ.get("ESG_BIN", "")
    for root in (bin_path + ".runfiles/esg/server/python",
                 os.path.join(os.environ.get("RUNFILES_DIR", ""), "esg", "server", "python")):
        if (Path(root) / "esg" / "control" / "v1" / "control_pb2.py").exists():
            return Path(root)
    pytest.fail("esg.control stubs not found in the runfiles of $ESG_BIN", pytrace=False)


@pytest.fixture(scope="module")
def control_module():
    sys.path.insert(0, str(_package_dir()))
    import esg.control as control  # noqa: E402
    return control


@pytest.fixture
def sockdir():
    """A short, world-traversable directory for the control socket (the uid test needs to reach it)."""
    path = tempfile.mkdtemp(prefix="esgctl-", dir="/tmp")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def master(esg_server, sockdir):
    sock = sockdir / "control.sock"
    server = esg_server(["--workers", "2", "--control-socket", str(sock)], app="hello:app")
    server.control_socket = str(sock)
    return server


def esgctl(sock: str, *args: str, input: str | None = None, timeout: float = 60, **kwargs):
    return subprocess.run([_esgctl(), "--socket", sock, *args], input=input, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def ok(result) -> str:
    assert result.returncode == 0, f"rc={result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    return result.stdout


def ready_workers(sock: str) -> list:
    status = json.loads(ok(esgctl(sock, "--json", "status")))
    return [w for w in status["workers"] if w["state"] == "WORKER_STATE_READY"]


def test_socket_is_private_and_removed_at_exit(master):
    mode = os.stat(master.control_socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert "Control plane on unix:" + master.control_socket in master.stderr()
    master.stop()
    assert not os.path.exists(master.control_socket)


def test_every_command_through_esgctl(master):
    sock = master.control_socket
    human = ok(esgctl(sock, "status"))
    assert "serving" in human and "PID" in human and "2 workers" in human
    status = json.loads(ok(esgctl(sock, "status", "--json")))
    assert status["state"] == "SERVER_STATE_SERVING" and status["master_pid"] == master.proc.pid
    assert len(status["workers"]) == 2 and status["listeners"]

    assert ok(esgctl(sock, "health")).strip() == "SERVING"
    assert "3 workers serving" in ok(esgctl(sock, "scale", "3"))
    assert len(ready_workers(sock)) == 3
    assert "4 workers serving" in ok(esgctl(sock, "incr"))
    assert "2 workers serving" in ok(esgctl(sock, "decr", "2"))

    assert ok(esgctl(sock, "drain")).strip() == "ok: drain"
    unhealthy = esgctl(sock, "health")
    assert unhealthy.returncode == 1 and unhealthy.stdout.strip() == "NOT_SERVING"
    ok(esgctl(sock, "resume"))
    deadline = time.monotonic() + 30
    while esgctl(sock, "health").returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ok(esgctl(sock, "health")).strip() == "SERVING"

    ok(esgctl(sock, "log-level", "debug"))
    ok(esgctl(sock, "log-level", "info"))
    ok(esgctl(sock, "reopen-logs"))
    generation = status["generation"]
    reloaded = json.loads(ok(esgctl(sock, "--json", "reload", "--timeout", "30")))
    assert reloaded["outcome"] == "RELOAD_OUTCOME_SUCCEEDED" and int(reloaded["generation"]) > int(generation)

    rolled = esgctl(sock, "reload", "--release", "/nonexistent/release")
    assert rolled.returncode == 4 and "rolled back" in rolled.stderr, rolled.stderr
    assert ok(esgctl(sock, "health")).strip() == "SERVING", "the old generation still serves"

    bad = esgctl(sock, "log-level", "loud")
    assert bad.returncode == 2 and "unknown log level 'loud'" in bad.stderr
    assert esgctl(sock, "frobnicate").returncode == 2
    assert esgctl(sock, "scale", "0").returncode == 2

    assert ok(esgctl(sock, "stop")).strip() == "ok: stop"
    assert master.proc.wait(timeout=30) == 0


def test_events_and_quick_stop_through_esgctl(master):
    sock = master.control_socket
    watcher = subprocess.Popen([_esgctl(), "--socket", sock, "--json", "events", "--timeout", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # esgctl subscribes before printing anything; give it a moment to connect
    ok(esgctl(sock, "reload"))
    kinds = []
    for line in watcher.stdout:
        kinds.append(json.loads(line)["kind_name"])
        if kinds[-1] == "reload_finished":
            break
    watcher.terminate()
    watcher.wait(timeout=10)
    assert kinds[0] == "reload_started" and kinds.count("worker_spawned") == 2 and kinds.count("worker_ready") == 2
    ok(esgctl(sock, "stop", "--quick"))
    assert master.proc.wait(timeout=30) == 0


def test_no_server_gives_a_clear_message(sockdir):
    missing = esgctl(str(sockdir / "nothing.sock"), "status")
    assert missing.returncode == 3 and "no esg control socket at" in missing.stderr
    stale = sockdir / "stale.sock"
    import socket as socketlib
    s = socketlib.socket(socketlib.AF_UNIX)
    s.bind(str(stale))
    s.close()
    result = esgctl(str(stale), "status")
    assert result.returncode == 3 and "no esg master is listening" in result.stderr


def test_interactive_shell_through_a_pipe(master):
    script = "help\nstatus\n\n# a comment\nhealth\nscale 3\nbogus\nlog-level info\nquit\nstatus\n"
    result = esgctl(master.control_socket, input=script)
    assert result.returncode == 2, "the failed `bogus` sets the exit status"
    assert "(esgctl)" not in result.stdout, "no prompt when stdin is not a terminal"
    out = result.stdout
    assert "Commands:" in out and "reopen-logs" in out
    assert out.count("2 workers") == 1, "the status after `quit` never ran"
    assert "SERVING" in out and "3 workers serving" in out and "ok: log-level" in out
    assert "unknown command 'bogus'" in result.stderr


def test_shell_reconnects_after_the_master_restarts(esg_server, sockdir):
    sock = str(sockdir / "control.sock")
    first = esg_server(["--workers", "2", "--control-socket", sock], app="hello:app")
    shell = subprocess.Popen([_esgctl(), "--socket", sock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    shell.stdin.write("health\n")
    shell.stdin.flush()
    assert shell.stdout.readline().strip() == "SERVING"
    first.stop()
    second = esg_server(["--workers", "2", "--control-socket", sock], app="hello:app")
    shell.stdin.write("status\n")
    shell.stdin.flush()
    line = shell.stdout.readline()
    assert f"pid {second.proc.pid}" in line, line
    shell.stdin.close()
    assert shell.wait(timeout=30) == 0, shell.stderr.read()


def test_every_rpc_through_the_python_client(master, control_module):
    Client, pb = control_module.Client, control_module.pb
    with Client(master.control_socket) as esg:
        status = esg.status()
        assert status.state == pb.SERVER_STATE_SERVING and len(status.workers) == 2
        assert esg.health() == "SERVING"
        assert esg.scale(3) == 3
        assert esg.incr() == 4
        assert esg.decr(2) == 2
        esg.drain()
        assert esg.health() == "NOT_SERVING"
        assert esg.status().state == pb.SERVER_STATE_DRAINING
        esg.resume()
        esg.wait_healthy(timeout=30)
        esg.set_log_level("debug")
        esg.reopen_logs()
        result = esg.reload(timeout=30)
        assert result.outcome == pb.RELOAD_OUTCOME_SUCCEEDED and result.generation > status.generation
        with pytest.raises(control_module.ReloadRolledBack) as rolled:
            esg.reload(release="/nonexistent/release")
        assert rolled.value.response.reason
        assert esg.reload(release="/nonexistent/release", check=False).outcome == pb.RELOAD_OUTCOME_ROLLED_BACK
        with pytest.raises(control_module.ControlError) as bad:
            esg.scale(0)
        assert bad.value.code.name == "INVALID_ARGUMENT" and "count" in bad.value.message
        esg.stop()
    assert master.proc.wait(timeout=30) == 0


def test_events_observed_during_a_reload(master, control_module):
    esg = control_module.Client(master.control_socket)
    ready = threading.Event()
    seen = []

    def watch():
        for event in esg.watch(timeout=30, ready=ready.set):
            seen.append(event)
            if event.kind_name == "reload_finished":
                return

    thread = threading.Thread(target=watch)
    thread.start()
    assert ready.wait(10)
    result = esg.reload(timeout=30)
    thread.join(timeout=30)
    kinds = [e.kind_name for e in seen]
    assert kinds[0] == "reload_started" and kinds[-1] == "reload_finished", kinds
    new_pids = {e.pid for e in seen if e.kind_name == "worker_ready"}
    assert len(new_pids) == 2 and all(e.generation == result.generation for e in seen if e.pid in new_pids)
    esg.close()


def test_concurrent_reloads_are_serialised(master, control_module):
    esg = control_module.Client(master.control_socket)
    start = esg.status().generation
    ready = threading.Event()
    kinds = []

    def watch():
        for event in esg.watch(kinds=["EVENT_KIND_RELOAD_STARTED", "EVENT_KIND_RELOAD_FINISHED"], timeout=90,
                               ready=ready.set):
            kinds.append(event.kind_name)
            if kinds.count("reload_finished") == 3:
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert ready.wait(10)
    results, errors = [], []

    def reload():
        try:
            results.append(esg.reload(timeout=30))
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=reload) for _ in range(3)]
    for t in threads:
        t.start()
    # esgctl at the same time: it queues too.
    from_cli = esgctl(master.control_socket, "--json", "reload")
    for t in threads:
        t.join(timeout=120)
    watcher.join(timeout=30)
    assert not errors, errors
    assert from_cli.returncode == 0, from_cli.stderr
    generations = sorted(r.generation for r in results) + [int(json.loads(from_cli.stdout)["generation"])]
    assert len(set(generations)) == 4 and max(generations) == start + 4, generations
    assert kinds[:6] == ["reload_started", "reload_finished"] * 3, f"interleaved: {kinds}"
    esg.close()


def test_health_flips_on_drain_and_resume(master, control_module):
    esg = control_module.Client(master.control_socket)
    assert esg.health() == "SERVING"
    ok(esgctl(master.control_socket, "drain"))
    assert esg.health() == "NOT_SERVING"
    assert esgctl(master.control_socket, "health").returncode == 1
    esg.resume()
    esg.wait_healthy(timeout=30)
    assert ok(esgctl(master.control_socket, "health")).strip() == "SERVING"
    esg.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as uid 65534")
def test_another_uid_is_refused(master, sockdir):
    # esgctl and the package must be readable by uid 65534: copy them out of /root's Bazel cache.
    tool = sockdir / "esgctl"
    shutil.copy(_esgctl(), tool)
    os.chmod(tool, 0o755)
    pkg = sockdir / "py"
    shutil.copytree(_package_dir() / "esg", pkg / "esg", ignore=shutil.ignore_patterns("_esg*"))
    for root, dirs, files in os.walk(sockdir / "py"):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    nobody = {"user": 65534, "group": 65534, "extra_groups": []}

    # Mode 0600: the kernel refuses the connection.
    denied = subprocess.run([str(tool), "--socket", master.control_socket, "status"], capture_output=True,
                            text=True, timeout=30, **nobody)
    assert denied.returncode == 3 and "permission denied" in denied.stderr, denied.stderr
    # A widened mode still meets the SO_PEERCRED check: PERMISSION_DENIED with a sentence.
    os.chmod(master.control_socket, 0o666)
    refused = subprocess.run([str(tool), "--socket", master.control_socket, "drain"], capture_output=True,
                             text=True, timeout=30, **nobody)
    assert refused.returncode == 1, refused.stderr
    assert "PERMISSION_DENIED" in refused.stderr and "may not use this esg control socket" in refused.stderr
    code = ("import sys; from esg.control import Client, ControlError\n"
            "try:\n    Client(sys.argv[1]).status()\nexcept ControlError as e:\n"
            "    print(e.code.name, e.message); sys.exit(0)\nsys.exit(1)\n")
    env = dict(os.environ, PYTHONPATH=str(pkg))
    python = subprocess.run([sys.executable, "-c", code, master.control_socket], capture_output=True, text=True,
                            timeout=30, env=env, cwd="/", **nobody)
    assert python.returncode == 0 and python.stdout.startswith("PERMISSION_DENIED"), python.stdout + python.stderr
    assert ok(esgctl(master.control_socket, "health")).strip() == "SERVING", "not drained by the refused peer"
    assert "refused a connection from pid" in master.stderr()


def test_tcp_control_without_tls_is_refused(run_esg):
    result = run_esg(["--control-address", "127.0.0.1:0", "--port", "0", "hello:app"])  # port 0: never "in use"
    assert result.returncode == 2
    assert "--control-tls-cert" in result.stderr and "never served over plain TCP" in result.stderr


def test_orchestration_example(master, control_module, tmp_path):
    script = Path(__file__).resolve().parents[2] / "deploy" / "orchestrate.py"
    marker = tmp_path / "deployed"
    env = dict(os.environ, PYTHONPATH=str(_package_dir()))
    result = subprocess.run([sys.executable, str(script), "--socket", master.control_socket,
                             "--deploy-cmd", f"touch {marker}", "--ready-timeout", "30"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert marker.exists()
    assert "event reload_finished" in result.stdout and "healthy: generation" in result.stdout
    assert control_module.Client(master.control_socket).health() == "SERVING"


def test_out_of_range_reloads_are_invalid_arguments(master, control_module, tmp_path):
    # Issue 11, defect 21: a ready_timeout of 1e10 s overflowed (the new workers were killed at once and the
    # reload rolled back); a release_path naming a file was accepted and recorded as the app dir.
    a_file = tmp_path / "release.txt"
    a_file.write_text("not a release\n")
    with control_module.Client(master.control_socket) as esg:
        before = esg.status()
        for kwargs, words in (({"timeout": 1e10}, "ready_timeout must be at most 3600 s"),
                              ({"release": str(a_file)}, "is not a directory")):
            with pytest.raises(control_module.ControlError) as bad:
                esg.reload(**kwargs)
            assert bad.value.code.name == "INVALID_ARGUMENT", bad.value
            assert words in bad.value.message, bad.value.message
        after = esg.status()
        assert after.generation == before.generation
        assert dict((e.key, e.value) for e in after.config)["app_dir"] == \
            dict((e.key, e.value) for e in before.config)["app_dir"]
        assert esg.reload(timeout=3600).outcome == control_module.pb.RELOAD_OUTCOME_SUCCEEDED


def test_scaling_by_delta_respects_the_worker_cap(esg_server, sockdir, control_module, tmp_path):
    # `scale N` refused N > 10000, a delta did not. The interpreter is a wrapper that stops starting
    # Python once the test removes its permit, so a regression spawns short-lived shells, not 10000 apps.
    permit = tmp_path / "permit"
    permit.touch()
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{permit}" ] && exec "{os.environ["ESG_PYTHON"]}" "$@"\nexit 1\n')
    wrapper.chmod(0o755)
    sock = str(sockdir / "control.sock")
    server = esg_server(["--workers", "2", "--control-socket", sock], app="hello:app",
                        env={"ESG_PYTHON": str(wrapper)})
    permit.unlink()
    with control_module.Client(sock) as esg:
        with pytest.raises(control_module.ControlError) as bad:
            esg._call(esg._stub.ScaleWorkers, control_module.pb.ScaleWorkersRequest(delta=10000), 10)
        assert bad.value.code.name == "INVALID_ARGUMENT", bad.value
        assert "between 1 and 10000" in bad.value.message, bad.value.message
        assert dict((e.key, e.value) for e in esg.status().config)["workers"] == "2"
    assert server.alive()
