"""deploy/kubernetes/ run as a cluster would run it, on this machine, through a rolling update under load.

What plays which part:
- pod: a directory. Each container's `command`/`args` (the esg container's command; the nginx image's default
  `nginx -g 'daemon off;'` with the ConfigMap's default.conf as /etc/nginx/conf.d) starts as a local process
  group. Volumes are directories: each emptyDir a fresh one per pod, the ConfigMap its data files.
- image: a release directory standing in for /app (venv/bin/esg and esgctl = the built ones, example.py =
  apps/deploy_example.py, VERSION = the image's version). v1 -> v2 is the update.
- kubelet: probes as configured (httpGet on the named port, periodSeconds, timeoutSeconds, failureThreshold,
  successThreshold; readiness and liveness wait for the startup probe; liveness failure restarts the
  container); pod Ready when every container is ready. Termination: preStop hook (exec, the container's
  environment), then SIGTERM, SIGKILL at terminationGracePeriodSeconds (counted from the start of preStop).
- Deployment controller: `strategy.rollingUpdate` maxSurge 1 / maxUnavailable 0 with the manifest's replicas:
  start one new pod, wait until it is Ready, then delete one old pod, repeat.
- endpoints controller + kube-proxy: an outer nginx (the Service) whose upstream lists the Ready pods that are not
  terminating; every change rewrites it and reloads nginx (SIGHUP). As in a cluster, deleting a pod starts its
  removal from the Service and its preStop hooks at the same time.
Substitutions are only what a pod gives for free: paths (mount points, /app, a per-pod ESG_CONTROL_SOCKET as the
pod's own /tmp would) and addresses (each pod's nginx listens on 127.0.0.1:<own port> instead of podIP:8080).
The processes run as the test's user, not the securityContext's uid 10001.

Time: the manifest's real periods, thresholds, preStop sleeps and grace period are used unchanged (about a
minute for the whole rollout); ESG_POD_TIME_SCALE (default 1) divides the probe periods if that ever gets too
slow. Under steady GET+POST load through the Service, no request fails; the timeline is printed.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deploy_support import (APPS, REPO, Proc, bazel_bin, env_for, esg_bin, free_port, need_program, nginx_argv,
                            nginx_prefix, nginx_reload, tools_bin, wait_port, wait_until)

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))

from steady_load import SteadyLoad  # noqa: E402

K8S = REPO / "deploy" / "kubernetes"
SCALE = float(os.environ.get("ESG_POD_TIME_SCALE", "1"))


def manifests() -> dict:
    code = ("import json, sys, yaml\n"
            "print(json.dumps([d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]))")
    proc = subprocess.run([tools_bin("python"), "-c", code, *map(str, sorted(K8S.glob("*.yaml")))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {d["kind"]: d for d in json.loads(proc.stdout)}


class Timeline:
    def __init__(self):
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.events: list[tuple[float, str]] = []

    def __call__(self, text: str) -> None:
        with self.lock:
            self.events.append((time.monotonic() - self.start, text))

    def text(self) -> str:
        with self.lock:
            return "\n".join(f"{t:7.2f}s  {e}" for t, e in self.events)


def image(tmp_path: Path, version: str) -> Path:
    """The container image's /app: a release directory of the given version."""
    app = tmp_path / f"image-{version}"
    (app / "venv" / "bin").mkdir(parents=True)
    (app / "venv" / "bin" / "esg").symlink_to(esg_bin())
    (app / "venv" / "bin" / "esgctl").symlink_to(bazel_bin() / "control" / "esgctl")
    shutil.copy(APPS / "deploy_example.py", app / "example.py")
    (app / "VERSION").write_text(version)
    return app


def http_probe(port: int, path: str, timeout: float) -> bool:
    """The kubelet's httpGet probe: success is a status in [200, 400) within timeoutSeconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "kube-probe/1.37", "Accept": "*/*",
                                           "Connection": "close"})
        return 200 <= conn.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Container:
    def __init__(self, pod: "Pod", spec: dict):
        self.pod, self.spec, self.name = pod, spec, spec["name"]
        self.proc: Proc | None = None
        self.started = "startupProbe" not in spec
        self.ready = "readinessProbe" not in spec
        self.restarts = 0

    # Paths a pod provides: the image's /app and the volume mounts.
    def localize(self, text: str) -> str:
        mapping = {"/app": str(self.pod.app)}
        for mount in self.spec.get("volumeMounts", []):
            mapping[mount["mountPath"]] = str(self.pod.volumes[mount["name"]])
        for path in sorted(mapping, key=len, reverse=True):
            text = text.replace(path, mapping[path])
        return text

    def env(self) -> dict:
        env = env_for({e["name"]: e["value"] for e in self.spec.get("env", [])})
        env["ESG_CONTROL_SOCKET"] = str(self.pod.dir / "tmp" / "control.sock")  # the pod's own /tmp
        return env

    def argv(self) -> list[str]:
        if self.name == "nginx":  # the nginx image's CMD, with its nginx.conf including conf.d/*.conf
            return nginx_argv(self.pod.nginx_prefix, "-g", "daemon off;")
        return [self.localize(a) for a in self.spec.get("command", []) + self.spec.get("args", [])]

    def start(self) -> None:
        workdir = self.localize(self.spec.get("workingDir", str(self.pod.dir)))
        self.proc = Proc(self.argv(), self.pod.dir, f"{self.name}-{self.restarts}", env=self.env(), cwd=workdir)
        self.pod.log(f"container {self.name} started (pid {self.proc.pid})")

    def pre_stop(self) -> None:
        hook = self.spec.get("lifecycle", {}).get("preStop", {}).get("exec")
        if not hook:
            return
        command = [self.localize(a) for a in hook["command"]]
        if self.name == "nginx":  # `nginx -s quit` finds the image's default config: give it ours
            command = [c.replace("nginx -s", shlex.join(nginx_argv(self.pod.nginx_prefix)) + " -s") for c in command]
        self.pod.log(f"preStop {self.name}: {hook['command'][-1]!r}")
        proc = subprocess.run(command, env=self.env(), capture_output=True, text=True,
                              timeout=self.pod.grace + 30)
        self.pod.log(f"preStop {self.name} done (exit {proc.returncode}) {proc.stdout.strip()} {proc.stderr.strip()}")


class Pod:
    """One replica: volumes, containers, the kubelet's probe loops and its termination sequence."""

    def __init__(self, rollout: "Rollout", name: str, app: Path, template: dict, config_map: dict):
        self.rollout, self.name, self.app = rollout, name, app
        self.dir = rollout.tmp / name
        (self.dir / "tmp").mkdir(parents=True)
        spec = template["spec"]
        self.grace = spec.get("terminationGracePeriodSeconds", 30)
        self.port = free_port()  # podIP:8080
        self.volumes: dict[str, Path] = {}
        for volume in spec["volumes"]:
            path = self.dir / "volumes" / volume["name"]
            path.mkdir(parents=True)
            if "configMap" in volume:
                assert volume["configMap"]["name"] == config_map["metadata"]["name"]
                for key, value in config_map["data"].items():
                    (path / key).write_text(value)
            self.volumes[volume["name"]] = path
        self.containers = [Container(self, c) for c in spec["containers"]]
        self.terminating = False
        self.stopping = threading.Event()
        nginx = next(c for c in self.containers if c.name == "nginx")
        self.http_port = {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
        conf_dir = next(Path(nginx.localize(m["mountPath"])) for m in nginx.spec["volumeMounts"]
                        if m["mountPath"] == "/etc/nginx/conf.d")
        site = "\n".join(nginx.localize(p.read_text()) for p in sorted(conf_dir.glob("*.conf")))
        for port in self.http_port.values():
            site = site.replace(f"listen {port};", f"listen 127.0.0.1:{self.port};")
        self.nginx_prefix = self.dir / "nginx"
        nginx_prefix(self.nginx_prefix, site)

    def log(self, text: str) -> None:
        self.rollout.timeline(f"{self.name}: {text}")

    @property
    def is_ready(self) -> bool:
        return all(c.ready and c.started for c in self.containers) and not self.terminating

    def start(self) -> None:
        self.log(f"created ({self.app.name}, port {self.port})")
        for c in self.containers:
            c.start()
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if kind in c.spec:
                    threading.Thread(target=self.probe_loop, args=(c, kind), daemon=True).start()

    def probe_loop(self, c: Container, kind: str) -> None:
        probe = c.spec[kind]
        period = probe.get("periodSeconds", 10) / SCALE
        timeout = probe.get("timeoutSeconds", 1)
        failure_threshold = probe.get("failureThreshold", 3)
        success_threshold = probe.get("successThreshold", 1)
        port = probe["httpGet"]["port"]
        port = self.port if isinstance(port, str) or port in self.http_port.values() else port
        if probe.get("initialDelaySeconds"):
            self.stopping.wait(probe["initialDelaySeconds"] / SCALE)
        successes = failures = 0
        while not self.stopping.is_set():
            if kind == "startupProbe" and c.started:
                return
            if kind == "startupProbe" or c.started:
                ok = http_probe(port, probe["httpGet"]["path"], timeout)
                successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
                if kind == "startupProbe":
                    if ok:
                        c.started = True
                        self.log(f"{c.name} startup probe succeeded")
                        return
                    if failures >= failure_threshold:
                        self.restart(c, "startup probe failed")
                        successes = failures = 0
                elif kind == "readinessProbe":
                    if not c.ready and successes >= success_threshold:
                        c.ready = True
                        self.log(f"{c.name} ready")
                        self.rollout.sync_service()
                    elif c.ready and failures >= failure_threshold:
                        c.ready = False
                        self.log(f"{c.name} NOT ready ({failures} failed probes)")
                        self.rollout.sync_service()
                elif kind == "livenessProbe" and failures >= failure_threshold:
                    self.restart(c, f"liveness probe failed {failures} times")
                    successes = failures = 0
            self.stopping.wait(period)

    def restart(self, c: Container, why: str) -> None:
        if self.terminating:
            return
        self.log(f"{c.name}: {why}; restarting the container")
        self.rollout.restarts.append(f"{self.name}/{c.name}: {why}")
        c.proc.stop(signal.SIGTERM, timeout=self.grace)
        c.restarts += 1
        c.started = "startupProbe" not in c.spec
        c.start()

    def terminate(self) -> None:
        """Pod deletion: out of the Service and preStop hooks at once; SIGTERM after each hook; SIGKILL when
        terminationGracePeriodSeconds have passed."""
        self.terminating = True
        deadline = time.monotonic() + self.grace
        self.log(f"deleted: leaves the Service; preStop hooks start (grace period {self.grace}s)")
        self.rollout.sync_service()

        def stop(c: Container) -> None:
            c.pre_stop()
            if c.proc.alive():
                self.log(f"SIGTERM {c.name}")
                c.proc.send_signal(signal.SIGTERM)
            while c.proc.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if c.proc.alive():
                self.log(f"SIGKILL {c.name}: still running at terminationGracePeriodSeconds")
                self.rollout.killed.append(f"{self.name}/{c.name}")
            c.proc.stop(signal.SIGKILL, timeout=5)
            self.log(f"{c.name} exited ({c.proc.proc.returncode})")
        threads = [threading.Thread(target=stop, args=(c,)) for c in self.containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.grace + 60)
        self.stopping.set()
        self.log("gone")

    def kill(self) -> None:
        self.stopping.set()
        for c in self.containers:
            if c.proc:
                c.proc.stop(signal.SIGKILL, timeout=5)


class Rollout:
    """The Deployment and ReplicaSet controllers, the endpoints controller and the Service (outer nginx)."""

    def __init__(self, tmp: Path, docs: dict):
        self.tmp, self.docs = tmp, docs
        self.timeline = Timeline()
        self.pods: list[Pod] = []
        self.restarts: list[str] = []
        self.killed: list[str] = []
        self.lock = threading.Lock()
        self.service_port = free_port()
        self.service_prefix = tmp / "service"
        self.members: tuple[int, ...] | None = None
        self.service: Proc | None = None

    def service_conf(self, ports) -> str:
        servers = "".join(f"        server 127.0.0.1:{p};\n" for p in ports) or "        server 127.0.0.1:1 down;\n"
        return (f"upstream service {{\n{servers}    }}\n"
                f"server {{\n    listen 127.0.0.1:{self.service_port};\n    client_max_body_size 10m;\n"
                f"    location / {{ proxy_pass http://service; proxy_set_header Host $http_host; }}\n}}\n")

    def sync_service(self) -> None:
        """Endpoints = Ready pods not terminating; kube-proxy's part: rewrite the upstream, reload nginx."""
        with self.lock:
            members = tuple(sorted(p.port for p in self.pods if p.is_ready))
            if members == self.members or (not members and self.service is None):
                return
            self.members = members
            nginx_prefix(self.service_prefix, self.service_conf(members))
            names = [p.name for p in self.pods if p.port in members]
            if self.service is None:
                self.service = Proc(nginx_argv(self.service_prefix, "-g", "daemon off;"), self.tmp, "service")
                wait_port(self.service_port, 30, self.service)
            else:
                nginx_reload(self.service)
            self.timeline(f"Service endpoints: {', '.join(names) or '(none)'}")

    def create(self, name: str, app: Path) -> Pod:
        pod = Pod(self, name, app, self.docs["Deployment"]["spec"]["template"], self.docs["ConfigMap"])
        with self.lock:
            self.pods.append(pod)
        pod.start()
        return pod

    def wait_ready(self, pod: Pod, timeout: float = 180.0) -> None:
        def describe():
            return self.timeline.text() + "\n" + "\n".join(c.proc.describe() for c in pod.containers)
        wait_until(lambda: pod.is_ready, timeout, interval=0.1, what=f"{pod.name} Ready", describe=describe)

    def rolling_update(self, old: list[Pod], app: Path, version: str) -> list[Pod]:
        strategy = self.docs["Deployment"]["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}, strategy
        self.timeline(f"rolling update to {version} (maxSurge 1, maxUnavailable 0)")
        new, terminations = [], []
        for i, victim in enumerate(old):
            pod = self.create(f"{version}-{i + 1}", app)  # surge: replicas + 1
            self.wait_ready(pod)
            new.append(pod)
            t = threading.Thread(target=victim.terminate)  # back to replicas (terminating pods do not count)
            t.start()
            terminations.append(t)
        for t in terminations:
            t.join(max(p.grace for p in old) + 90)
        self.timeline("rolling update complete")
        return new

    def shutdown(self) -> None:
        for pod in self.pods:
            pod.kill()
        if self.service:
            self.service.stop(signal.SIGQUIT, timeout=10)


@pytest.mark.timeout(600)
def test_rolling_update_behind_a_service_drops_nothing(tmp_path):
    need_program("/usr/sbin/nginx")
    docs = manifests()
    replicas = docs["Deployment"]["spec"]["replicas"]
    rollout = Rollout(tmp_path, docs)
    try:
        v1, v2 = image(tmp_path, "1"), image(tmp_path, "2")
        old = [rollout.create(f"v1-{i + 1}", v1) for i in range(replicas)]
        for pod in old:
            rollout.wait_ready(pod)
        wait_until(lambda: rollout.members and len(rollout.members) == replicas, 60, interval=0.1,
                   what=f"{replicas} pods in the Service", describe=rollout.timeline.text)
        with SteadyLoad(port=rollout.service_port, clients=4) as load:
            load.wait_requests(50)
            rollout.timeline(f"load running: {load.stats.summary()}")
            new = rollout.rolling_update(old, v2, "v2")
            load.wait_requests(50)
        stats = load.stats
        rollout.timeline(f"load stopped: {stats.summary()}")
        timeline = rollout.timeline.text()
        print(f"\n--- pod rollout timeline\n{timeline}\n")
        assert stats.failed == 0, f"{stats.summary()}\n{stats.errors}\n{timeline}\n" \
                                  f"{(rollout.service_prefix / 'error.log').read_text()[-3000:]}"
        assert stats.posts > 0 and set(stats.versions) == {"1", "2"}, stats.summary()
        assert not rollout.restarts, rollout.restarts
        assert not rollout.killed, f"killed at the grace period: {rollout.killed}\n{timeline}"
        assert all(not c.proc.alive() for p in old for c in p.containers)
        assert {p.port for p in new} == set(rollout.members)
        with SteadyLoad(port=rollout.service_port, clients=2) as after:
            after.wait_requests(20)
        assert after.stats.failed == 0 and set(after.stats.versions) == {"2"}, after.stats.summary()
    finally:
        rollout.shutdown()
