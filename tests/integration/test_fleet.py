"""A fleet rolled over gRPC: three esg masters (each its own --uds and --control-socket) behind one Debian
nginx running the shipped nginx/fleet.conf (paths and port rewritten), steady GETs and POSTs through nginx,
and deploy/orchestrate.py rolling releases across the nodes one at a time:

- a good release: 0 failed requests, every node ends on it (GetStatus app_dir, and the X-Release header of
  answers through nginx), never two nodes out of rotation at once;
- a broken release (the app cannot start): the first node's reload rolls back, the other nodes are never
  touched (same generation, no deploy hook run), 0 failed requests;
- a release that starts but fails --check on the second node: that node and the first one go back to the
  previous release, the third is never touched, 0 failed requests.
The three rolls share one fleet (module fixture) and run in this order.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy_support import REPO, Proc, env_for, esg_bin, free_port, need_program, package_root, python, wait_until

NODES = ("a", "b", "c")

APP = '''
import hashlib
import os

RELEASE = {release!r}
NODE = os.environ.get("FLEET_NODE", "?")
{extra}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 200
    if scope["path"] == "/healthz":
        status = {healthz}
    text = f"{{RELEASE}} {{NODE}} {{len(body)}} {{hashlib.sha256(body).hexdigest()}}"
    await send({{"type": "http.response.start", "status": status,
                "headers": [(b"x-release", RELEASE.encode()), (b"x-node", NODE.encode())]}})
    await send({{"type": "http.response.body", "body": text.encode()}})
'''


def write_release(root: Path, name: str, extra: str = "", healthz: str = "200") -> Path:
    path = root / "releases" / name
    path.mkdir(parents=True)
    (path / "app.py").write_text(APP.format(release=name, extra=extra, healthz=healthz))
    return path


@dataclass
class Stats:
    ok: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)
    releases: set = field(default_factory=set)


class Load:
    """Two keep-alive clients sending GETs and two sending 20 kB POSTs through nginx until stopped; a POST
    counts as answered only if the node echoes the body's length and digest."""

    def __init__(self, port: int):
        self.port = port
        self.stats = Stats()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(method, i), daemon=True)
                        for i, method in enumerate(("GET", "POST", "GET", "POST"))]

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(60)

    def run(self, method: str, index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        n = 0
        while not self.stopping.is_set():
            n += 1
            body = (f"{index}-{n}-".encode() * 2000)[:20000] if method == "POST" else None
            try:
                conn.request(method, f"/{method.lower()}/{n}", body=body)
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
                parts = text.split()
                good = response.status == 200 and len(parts) == 4
                if good and body is not None:
                    good = parts[2:] == [str(len(body)), hashlib.sha256(body).hexdigest()]
                with self.lock:
                    if good:
                        self.stats.ok += 1
                        self.stats.releases.add(parts[0])
                    else:
                        self.stats.failed += 1
                        self.stats.errors.append(f"{method} -> {response.status} {text[:200]!r}")
            except (OSError, http.client.HTTPException) as error:
                with self.lock:
                    self.stats.failed += 1
                    self.stats.errors.append(f"{method} -> {type(error).__name__}: {error}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            time.sleep(0.005)
        conn.close()


def nginx_conf(prefix: Path, site: Path) -> str:
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
            f"events {{ worker_connections 512; }}\nhttp {{\n    access_log off;\n{temp}\n    include {site};\n}}\n")


class Fleet:
    def __init__(self, base: Path, work: Path):
        self.base = base        # short: socket paths must stay under 108 bytes
        self.work = work
        self.procs: list[Proc] = []
        self.releases = {name: write_release(work, name) for name in ("v1", "v2")}
        self.releases["v3"] = write_release(work, "v3", extra="raise RuntimeError('v3 cannot start')")
        self.releases["v4"] = write_release(work, "v4", healthz='500 if NODE == "b" else 200')
        (base / "fleet").mkdir()
        for node in NODES:
            (base / node).mkdir()
            env = env_for({"FLEET_NODE": node})
            p = Proc([esg_bin(), "--uds", base / node / "esg.sock", "--control-socket", base / node / "control.sock",
                      "--no-access-log", "--app-dir", self.releases["v1"], "app:app"], work, f"esg-{node}", env=env)
            self.procs.append(p)
        for node, p in zip(NODES, self.procs):
            p.wait_output("ESG running on", timeout=60)
            os.symlink(base / node / "esg.sock", base / "fleet" / f"{node}.sock")
        self.port = free_port()
        shipped = (REPO / "nginx" / "fleet.conf").read_text()
        site = work / "fleet.conf"
        site.write_text(shipped.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
                        .replace("unix:/run/esg/fleet/", f"unix:{base}/fleet/"))
        (work / "nginx.conf").write_text(nginx_conf(work, site))
        self.nginx = Proc([need_program("/usr/sbin/nginx"), "-p", work, "-c", work / "nginx.conf", "-e",
                           work / "error.log", "-g", "daemon off;"], work, "nginx")
        wait_until(lambda: self.answers() or not self.nginx.alive(), 30, what="nginx answering",
                   describe=self.nginx.describe)
        assert self.nginx.alive(), self.nginx.describe()

    def answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def control(self, node: str) -> str:
        return str(self.base / node / "control.sock")

    def status(self, node: str) -> dict:
        code = ("import json, sys\nfrom esg.control import Client\ns = Client(sys.argv[1]).status()\n"
                "print(json.dumps({'generation': s.generation, "
                "'app_dir': {e.key: e.value for e in s.config}['app_dir']}))")
        proc = subprocess.run([python(), "-c", code, self.control(node)], capture_output=True, text=True,
                              timeout=60, env=env_for())
        assert proc.returncode == 0, proc.stderr
        import json
        return json.loads(proc.stdout)

    def roll(self, release: str, *extra: str) -> subprocess.CompletedProcess:
        log = self.work / "hooks.log"
        argv = [python(), str(REPO / "deploy" / "orchestrate.py"), "--release", str(self.releases[release]),
                "--deploy-cmd", f'echo "deploy $ESG_NODE $(basename $ESG_RELEASE)" >> {log}',
                "--out-cmd", f'echo "out $ESG_NODE" >> {log}', "--in-cmd", f'echo "in $ESG_NODE" >> {log}',
                "--ready-timeout", "60", *extra]
        for node in NODES:
            argv += ["--node", f"control={self.control(node)},link={self.base}/fleet/{node}.sock,name={node}"]
        log.write_text("")
        return subprocess.run(argv, capture_output=True, text=True, timeout=270, env=env_for())

    def hooks(self) -> list[str]:
        return (self.work / "hooks.log").read_text().splitlines()

    def describe(self) -> str:
        return "\n".join(p.describe()[-3000:] for p in self.procs + [self.nginx])

    def stop(self) -> None:
        for p in [self.nginx, *self.procs]:
            p.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    base = Path(tempfile.mkdtemp(prefix="esgfleet", dir="/tmp"))
    fleet = Fleet(base, tmp_path_factory.mktemp("fleet"))
    yield fleet
    fleet.stop()
    shutil.rmtree(base, ignore_errors=True)


def roll_under_load(fleet: Fleet, release: str, *extra: str):
    with Load(fleet.port) as load:
        time.sleep(0.5)  # load flowing before the roll starts
        result = fleet.roll(release, *extra)
        time.sleep(0.5)
    print(result.stdout)  # the timeline, shown by pytest on failure (and with -s)
    stats = load.stats
    assert stats.failed == 0, (f"{stats.failed} of {stats.ok + stats.failed} requests failed: {stats.errors[:5]}\n"
                               f"{result.stdout}\n{result.stderr}\n{fleet.describe()}")
    assert stats.ok > 0
    return result, stats


@pytest.mark.timeout(300)
def test_good_release_rolls_every_node_without_a_failed_request(fleet):
    result, stats = roll_under_load(fleet, "v2")
    assert result.returncode == 0, result.stdout + result.stderr
    v2 = os.path.realpath(fleet.releases["v2"])
    for node in NODES:
        assert fleet.status(node)["app_dir"] == v2, node
    # One node out at a time, in order, each deployed while out.
    assert fleet.hooks() == [line for n in NODES for line in (f"out {n}", f"deploy {n} v2", f"in {n}")]
    assert stats.releases <= {"v1", "v2"} and "v2" in stats.releases
    seen: set = set()

    def every_node_answers_v2() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", fleet.port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.getheader("x-release") == "v2"
        seen.add(response.getheader("x-node"))
        return seen == set(NODES)

    wait_until(every_node_answers_v2, 60, interval=0.1, what="answers from all three nodes on v2")


@pytest.mark.timeout(300)
def test_broken_release_stops_at_the_first_node(fleet):
    before = {node: fleet.status(node) for node in NODES}
    result, _ = roll_under_load(fleet, "v3")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "reload rolled back" in result.stdout and "v3 cannot start" in result.stderr
    after = {node: fleet.status(node) for node in NODES}
    assert after["a"]["app_dir"] == before["a"]["app_dir"], "the first node serves its previous release"
    assert after["a"]["generation"] > before["a"]["generation"]
    for node in ("b", "c"):
        assert after[node] == before[node], f"node {node} was touched"
    assert fleet.hooks() == ["out a", "deploy a v3", "in a"]
    assert os.path.islink(fleet.base / "fleet" / "a.sock"), "the first node is back in rotation"


@pytest.mark.timeout(300)
def test_failing_check_on_the_second_node_rolls_the_first_back(fleet):
    before = {node: fleet.status(node) for node in NODES}
    result, _ = roll_under_load(fleet, "v4", "--check", "/healthz")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--check /healthz answered 500" in result.stdout and "rolled back 1 node(s)" in result.stdout
    after = {node: fleet.status(node) for node in NODES}
    for node in ("a", "b"):
        assert after[node]["app_dir"] == before[node]["app_dir"], f"node {node} is not back on its release"
    assert after["c"] == before["c"], "node c was touched"
    assert fleet.hooks() == ["out a", "deploy a v4", "in a", "out b", "deploy b v4", "in b", "out a", "in a"]
    for node in NODES:
        assert os.path.islink(fleet.base / "fleet" / f"{node}.sock")
