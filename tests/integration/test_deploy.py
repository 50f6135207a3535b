"""deploy/: circus (its mechanism: a pre-bound socket handed over by fd), systemd units (systemd-analyze
verify, READY=1 over $NOTIFY_SOCKET, socket activation), Kubernetes manifests (structural lint) and
release.sh (per-release directory and virtualenv, switch, reload, health check, rollback)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from deploy_support import (APPS, REPO, env_for, esg_bin, free_port, get, need_program, package_root, procs,  # noqa: F401,E501
                            try_get, wait_until)

DEPLOY = REPO / "deploy"


# ------------------------------------------------------------------------------------------------------ circus


def test_circus_mechanism_prebound_socket_shared_by_fd(procs, tmp_path):
    """What circus does for `--fd $(circus.sockets.web)`: bind once, start N esg processes with the fd."""
    ini = (DEPLOY / "circus" / "circus.ini").read_text()
    assert "--fd $(circus.sockets.web)" in ini and "use_sockets = True" in ini
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port, fd = listener.getsockname()[1], listener.fileno()
    os.set_inheritable(fd, True)
    processes = [procs([esg_bin(), "--fd", str(fd), "--app-dir", APPS, "dep_app:app"], name=f"esg{i}",
                       env=env_for(), pass_fds=[fd]) for i in range(2)]
    listener.close()  # like circusd after the spawn: the processes own the socket now
    for p in processes:
        p.wait_output("ESG running on socket ('127.0.0.1'")
    seen: set[int] = set()
    wait_until(lambda: seen.add(int(get(f"http://127.0.0.1:{port}/pid").text)) or len(seen) >= 2, 20,
               what="both processes answering on the shared fd")
    processes[0].stop()
    for _ in range(5):
        assert get(f"http://127.0.0.1:{port}/").text == "hello", "the other process keeps serving"


# ----------------------------------------------------------------------------------------------------- systemd


def installed_units(tmp_path: Path) -> Path:
    """The shipped units with ExecStart pointing at a real executable (verify checks it exists)."""
    out = tmp_path / "units"
    out.mkdir()
    for name in ("esg.service", "esg.socket"):
        text = (DEPLOY / "systemd" / name).read_text()
        (out / name).write_text(text.replace("/srv/esg/current/venv/bin/esg", str(esg_bin())))
    return out


def test_systemd_units_verify(tmp_path):
    units = installed_units(tmp_path)
    service = (units / "esg.service").read_text()
    for needed in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Requires=esg.socket", "KillMode=mixed"):
        assert needed in service
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (structural checks above only)")
    proc = subprocess.run([analyze, "verify", str(units / "esg.socket"), str(units / "esg.service")],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if "esg." in line and "Failed to" not in line and "User" not in line]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not problems, problems
    timeout_stop = int(re.search(r"^TimeoutStopSec=(\d+)", service, re.M).group(1))
    graceful = int(re.search(r"--timeout-graceful-shutdown (\d+)", service).group(1))
    assert timeout_stop > graceful, "systemd must not SIGKILL before ESG's graceful shutdown ends"


def test_systemd_notify_ready(esg_server, tmp_path):
    """Type=notify: the master sends READY=1 on $NOTIFY_SOCKET once it serves."""
    path = tempfile.mktemp(prefix="esgnotify", dir="/tmp")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(path)
    notify.settimeout(20)
    try:
        esg_server([], app="dep_app:app", env={"NOTIFY_SOCKET": path})
        messages = ""
        try:
            while "READY=1" not in messages:
                messages += notify.recv(4096).decode() + "\n"
        except socket.timeout:
            pass
        assert "READY=1" in messages, f"no READY=1 on $NOTIFY_SOCKET (got {messages!r})"
    finally:
        notify.close()
        os.unlink(path)


def test_systemd_socket_activation(procs, tmp_path):
    """esg.socket: systemd passes the listening socket as fd 3 with $LISTEN_FDS (systemd-socket-activate)."""
    activate = need_program("systemd-socket-activate")
    port = free_port()
    p = procs([activate, "-l", f"127.0.0.1:{port}", "-E", "ESG_PYTHON", "-E", "ESG_PYTHONPATH", "-E", "PYTHONPATH",
               esg_bin(), "--app-dir", APPS, "dep_app:app"], name="activate",
              env=env_for({"ESG_PYTHONPATH": str(package_root())}))
    wait_until(lambda: "Listening on" in p.output() or not p.alive(), 10, what="systemd-socket-activate listening",
               describe=p.describe)
    r = get(f"http://127.0.0.1:{port}/", timeout=20)  # the first connection starts esg
    assert r.text == "hello", p.describe()


# -------------------------------------------------------------------------------------------------- kubernetes


def load_yaml(path: Path) -> list:
    """YAML documents as Python objects, parsed by Debian's python3-yaml (PyYAML is not a venv dependency)."""
    code = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"
    proc = subprocess.run(["/usr/bin/python3", "-c", code, str(path)], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 and "No module named 'yaml'" in proc.stderr:
        pytest.fail("python3-yaml is missing (apt-get install python3-yaml)", pytrace=False)
    assert proc.returncode == 0, proc.stderr
    return [d for d in json.loads(proc.stdout) if d]


def test_kubernetes_manifests_lint(tmp_path):
    k8s = DEPLOY / "kubernetes"
    docs = {d["kind"]: d for f in sorted(k8s.glob("*.yaml")) for d in load_yaml(f)}
    assert {"Deployment", "Service", "ConfigMap"} <= set(docs), sorted(docs)
    for doc in docs.values():
        assert doc.get("apiVersion") and doc.get("metadata", {}).get("name"), doc
    deployment, service = docs["Deployment"], docs["Service"]
    assert deployment["apiVersion"] == "apps/v1"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    pod = deployment["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert {"esg", "nginx"} <= set(containers)
    port_names = {p["name"] for c in containers.values() for p in c.get("ports", [])}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names, port
    esg = containers["esg"]
    args = esg["command"]
    assert "--uds" in args and "--proxy-headers" in args and "--forwarded-allow-ips" in args
    sock = args[args.index("--uds") + 1]
    graceful = int(args[args.index("--timeout-graceful-shutdown") + 1])
    assert esg["readinessProbe"]["httpGet"]["port"] in port_names
    pre_stop = " ".join(esg["lifecycle"]["preStop"]["exec"]["command"])
    sleep = int(re.search(r"sleep (\d+)", pre_stop).group(1))
    assert "drain" in pre_stop
    assert pod["terminationGracePeriodSeconds"] >= graceful + sleep, "kubelet would SIGKILL mid-drain"
    mounts = {m["name"]: m["mountPath"] for c in containers.values() for m in c.get("volumeMounts", [])}
    assert sock.startswith(mounts["run"] + "/"), "the socket must be on the volume shared with nginx"
    for c in containers.values():
        for m in c.get("volumeMounts", []):
            assert m["name"] in {v["name"] for v in pod["volumes"]}, m
    # The sidecar's nginx config: same upstream socket, and nginx accepts it.
    nginx_conf = docs["ConfigMap"]["data"]["default.conf"]
    assert f"server unix:{sock}" in nginx_conf
    site = tmp_path / "default.conf"
    site.write_text(nginx_conf)
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{ client_body_temp_path {tmp_path}/b; proxy_temp_path {tmp_path}/p; include {site}; }}\n")
    proc = subprocess.run([need_program("/usr/sbin/nginx"), "-t", "-p", str(tmp_path), "-c", str(main)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------------------------------------- release.sh

APP_V = """
import os
VERSION = {version!r}
{extra}

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = (VERSION + " " + open("RELEASE").read().strip()).encode()
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": body}})
"""

RESTART = """#!/bin/sh
# The test's "service manager": restart esg from $ROOT/current with the release's own virtualenv.
set -e
if [ -f "$ROOT/esg.pid" ]; then
    old=$(cat "$ROOT/esg.pid")
    kill -TERM "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
fi
cd "$ROOT/current"
ESG_PYTHON="$ROOT/current/venv/bin/python" setsid "$ESG_BIN" --port "$PORT" app:app \
    >> "$ROOT/esg.log" 2>&1 < /dev/null &
echo $! > "$ROOT/esg.pid"
"""


@pytest.fixture
def release_env(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    port = free_port()
    restart = tmp_path / "restart.sh"
    restart.write_text(RESTART)
    restart.chmod(0o755)
    env = env_for({"ROOT": str(root), "PORT": str(port), "ESG_BIN": str(esg_bin()),
                   "ESG_PYTHONPATH": str(package_root()), "ESG_ROOT": str(root), "ESG_RELOAD": str(restart),
                   "ESG_HEALTH_URL": f"http://127.0.0.1:{port}/", "ESG_HEALTH_EXPECT": "@RELEASE@",
                   "ESG_HEALTH_TRIES": "40", "ESG_HEALTH_INTERVAL": "0.25", "ESG_PYTHON": "/usr/bin/python3",
                   "ESG_KEEP": "2"})
    env.pop("ESG_PYTHON_WORKERS", None)
    yield root, port, env
    pid_file = root / "esg.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def release(tmp_path: Path, env: dict, version: str, extra: str = "") -> subprocess.CompletedProcess:
    source = tmp_path / f"src-{version}"
    source.mkdir()
    (source / "app.py").write_text(textwrap.dedent(APP_V.format(version=version, extra=extra)))
    return subprocess.run([str(DEPLOY / "release.sh"), str(source)], env=env, capture_output=True, text=True,
                          timeout=180)


def test_release_switch_and_rollback(release_env, tmp_path):
    root, port, env = release_env
    first = release(tmp_path, env, "v1")
    assert first.returncode == 0, first.stderr + (root / "esg.log").read_text()
    id1 = (root / "current" / "RELEASE").read_text().strip()
    assert os.readlink(root / "current") == f"releases/{id1}"
    assert (root / "current" / "venv" / "bin" / "python").exists(), "each release has its own virtualenv"
    assert get(f"http://127.0.0.1:{port}/").text == f"v1 {id1}"

    second = release(tmp_path, env, "v2")
    assert second.returncode == 0, second.stderr
    id2 = (root / "current" / "RELEASE").read_text().strip()
    assert id2 != id1 and get(f"http://127.0.0.1:{port}/").text == f"v2 {id2}"
    assert (root / "releases" / id1).is_dir(), "the previous release stays for rollbacks"

    broken = release(tmp_path, env, "v3", extra="raise RuntimeError('v3 cannot start')")
    assert broken.returncode == 1, broken.stderr
    assert "rolled back" in broken.stderr
    assert os.readlink(root / "current") == f"releases/{id2}"
    assert get(f"http://127.0.0.1:{port}/").text == f"v2 {id2}"
    assert any(p.name.endswith(".failed") for p in (root / "releases").iterdir())

    fourth = release(tmp_path, env, "v4")
    assert fourth.returncode == 0, fourth.stderr
    kept = sorted(p.name for p in (root / "releases").iterdir() if not p.name.endswith(".failed"))
    assert len(kept) == 2 and id1 not in kept, kept  # ESG_KEEP=2: current and previous
