"""A throw-away "machine" on which test_guide.py runs the snippets of deploy/GUIDE.md, one runner per `test=`
kind (file, run, serve, nginx, systemctl, kubernetes).

The machine is a short temporary directory standing for `/` (UNIX socket paths must stay under 108 bytes):
  srv/esg/current          the project directory: commands run here, snippets' files are written here, and
                           venv/bin/esg is the built esg (a user's virtualenv with the wheel installed)
  run/esg, etc/ssl/esg     runtime directory; a self-signed fullchain.pem + privkey.pem for 127.0.0.1
  etc/systemd/system       where the guide copies its units
  bin                      first on PATH: esg, esgctl, python(3), gunicorn, circusd, circusctl
Machine.sub() maps the guide's paths onto these and its well-known ports onto free ones; that is the only
change made to a snippet. Everything started is stopped by close().
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from deploy_support import (REPO, Proc, env_for, esg_bin, free_port, make_cert, need_program, python, try_get,
                            wait_until)

HELLO = "Hello from ESG"
PORTS = (8000, 8443, 5555, 5556)
PATHS = ("/srv/esg", "/run/esg", "/etc/ssl/esg", "/etc/systemd/system", "/tmp/esg.sock")
START_TIMEOUT = 90.0


def esgctl_bin() -> str:
    candidates = [os.environ.get("ESGCTL_BIN", ""),
                  os.path.join(os.environ.get("RUNFILES_DIR", ""), "esg", "control", "esgctl"),
                  str(Path(os.path.realpath(esg_bin())).parents[2] / "control" / "esgctl")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail(f"esgctl not found (tried {candidates}); build //control:esgctl", pytrace=False)


def tools_bin(name: str) -> str:
    """A program from the tools virtualenv that tools/setup.sh creates (circus, kubernetes-validate)."""
    path = REPO / ".venv-tools" / "bin" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run tools/setup.sh (it installs the pinned tools into .venv-tools)",
                    pytrace=False)
    return str(path)


def fetch(url: str, timeout: float = 5.0):
    """GET url ("unix:/path" for a UNIX socket); the response or None."""
    if url.startswith("unix:"):
        return try_get("http://localhost/", uds=url[5:], timeout=timeout)
    return try_get(url, timeout=timeout)


def says_hello(url: str) -> bool:
    response = fetch(url)
    return response is not None and response.status_code == 200 and HELLO in response.text


def logical_lines(text: str) -> list[str]:
    """The block's commands: backslash-continued lines joined, blanks and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def unit_sections(text: str) -> dict:
    """A systemd unit as {section: {key: value}} (the last value of a repeated key wins)."""
    sections: dict = {}
    current = sections.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


class Machine:
    def __init__(self, work: Path):
        self.work = work
        self.root = Path(tempfile.mkdtemp(prefix="esgguide", dir="/tmp"))
        self.procs: list[Proc] = []
        self.ports = {port: free_port() for port in PORTS}
        self.project = self.root / "srv/esg/current"
        for d in ("srv/esg/current/venv/bin", "run/esg", "etc/ssl/esg", "etc/systemd/system", "home", "bin", "tmp"):
            (self.root / d).mkdir(parents=True)
        cert, key = make_cert(self.root / "etc/ssl/esg")
        cert.rename(self.root / "etc/ssl/esg/fullchain.pem")
        key.rename(self.root / "etc/ssl/esg/privkey.pem")
        bin_dir = self.root / "bin"
        wrapper = f'#!/bin/sh\nexec "{python()}" "$@"\n'
        for name, target in (("esg", str(esg_bin())), ("esgctl", esgctl_bin()),
                             ("gunicorn", os.path.join(os.path.dirname(python()), "gunicorn")),
                             ("circusd", None), ("circusctl", None)):
            (bin_dir / name).symlink_to(target or tools_bin(name))
        for name in ("python", "python3"):
            (bin_dir / name).write_text(wrapper)
            (bin_dir / name).chmod(0o755)
        (self.project / "venv/bin/esg").symlink_to(esg_bin())
        (self.project / "venv/bin/python").write_text(wrapper)
        (self.project / "venv/bin/python").chmod(0o755)
        self.env = env_for({"HOME": str(self.root / "home"), "ESG_SRC": str(REPO),
                            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin"})
        self.notify: socket.socket | None = None
        self.main: Proc | None = None   # the systemd service's main process

    # --- substitutions ------------------------------------------------------------------------------
    def sub(self, text: str) -> str:
        """The guide's paths under the machine's root, its well-known ports onto free ones."""
        paths = "|".join(re.escape(p) for p in sorted(PATHS, key=len, reverse=True))
        text = re.sub(paths, lambda m: f"{self.root}{m.group(0)}", text)
        return re.sub(r"(?<![\d.])(" + "|".join(map(str, PORTS)) + r")(?!\d)",
                      lambda m: str(self.ports[int(m.group(0))]), text)

    def start(self, argv, name: str, **kwargs) -> Proc:
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("cwd", self.project)
        p = Proc(argv, self.work, f"{name}-{len(self.procs)}", **kwargs)
        self.procs.append(p)
        return p

    def describe(self) -> str:
        return "\n".join(p.describe()[-2500:] for p in self.procs)

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop(timeout=30)
        if self.notify:
            self.notify.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- test=file, run, serve -------------------------------------------------------------------------
    def write_file(self, name: str, text: str) -> None:
        path = self.project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.sub(text))

    def run(self, text: str, expect: str = "") -> None:
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", self.sub(text)], cwd=self.project,
                              env=self.env, capture_output=True, text=True, timeout=300)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"exit {proc.returncode}:\n{output[-4000:]}\n{self.describe()}"
        assert expect in output, f"{expect!r} not in the output:\n{output[-4000:]}"

    def serve(self, text: str, url: str = "http://127.0.0.1:8000/", keep: str = "no") -> None:
        started = [self.start(["bash", "-c", "exec " + line], "serve") for line in logical_lines(self.sub(text))]
        urls = self.sub(url).split(",")

        def up() -> bool:
            assert all(p.alive() for p in started), "a server exited:\n" + self.describe()
            return all(says_hello(u) for u in urls)

        wait_until(up, START_TIMEOUT, interval=0.2, what=f"{HELLO!r} from {urls}", describe=self.describe)
        if keep != "yes":
            for p in started:
                assert p.stop(timeout=40) is not None, p.describe()

    # --- test=nginx ------------------------------------------------------------------------------------
    def nginx(self, text: str) -> None:
        listens: list[tuple[int, bool]] = []

        def listen(m: re.Match) -> str:
            port = free_port()
            listens.append((port, bool(m.group(2))))
            return f"listen 127.0.0.1:{port}{m.group(2) or ''};"

        site_text = re.sub(r"^\s*listen\s+\[::\]:.*$\n", "", self.sub(text), flags=re.M)
        site_text = re.sub(r"listen\s+(\d+)(\s+ssl)?\s*;", listen, site_text)
        assert listens, "an nginx block needs a `listen` to be tested"
        prefix = Path(tempfile.mkdtemp(prefix="nginx", dir=self.root))
        site = prefix / "site.conf"
        site.write_text(site_text)
        temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = prefix / "nginx.conf"
        conf.write_text(f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
                        f"events {{ worker_connections 256; }}\nhttp {{\n    include /etc/nginx/mime.types;\n"
                        f"    access_log off;\n{temp}\n    include {site};\n}}\n")
        nginx = need_program("/usr/sbin/nginx")
        check = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
        p = self.start([nginx, "-p", prefix, "-c", conf, "-e", prefix / "error.log", "-g", "daemon off;"], "nginx")
        for port, tls in listens:
            url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/"
            wait_until(lambda: says_hello(url) or not p.alive(), 30, interval=0.1, what=f"{HELLO!r} through {url}",
                       describe=lambda: p.describe() + (prefix / "error.log").read_text(errors="replace"))
            assert p.alive(), p.describe()

    # --- test=systemctl ------------------------------------------------------------------------------
    def unit(self, name: str) -> dict:
        path = self.root / "etc/systemd/system" / name
        assert path.exists(), f"no unit {name} in /etc/systemd/system"
        return unit_sections(path.read_text())

    def notifications(self, until: bytes, timeout: float = 60.0) -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while not any(until in m for m in got):
            self.notify.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                got.append(self.notify.recv(4096))
            except socket.timeout:
                pytest.fail(f"no {until!r} on $NOTIFY_SOCKET within {timeout}s (got {got})\n{self.describe()}",
                            pytrace=False)
        return got

    def systemctl(self, text: str) -> None:
        for line in logical_lines(text):
            words = shlex.split(line)
            assert words[0] == "systemctl", f"not a systemctl command: {line}"
            command, units = words[1], [w for w in words[2:] if not w.startswith("-")]
            if command == "daemon-reload":
                self.verify_units()
            elif command in ("enable", "start") and ("--now" in words or command == "start"):
                for unit in units:
                    self.start_unit(unit)
            elif command == "status":
                assert self.main and self.main.alive(), "the service is not running\n" + self.describe()
            elif command == "reload":
                self.reload_unit(units[0])
            elif command == "stop":
                self.stop_units(units)
            else:
                pytest.fail(f"test_guide cannot play `{line}`; teach tools/guide_machine.py", pytrace=False)

    def verify_units(self) -> None:
        units = sorted(str(p) for p in (self.root / "etc/systemd/system").iterdir())
        proc = subprocess.run([need_program("systemd-analyze"), "verify", *units], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def service_argv(self, service: dict) -> tuple[list[str], dict, str]:
        argv = shlex.split(service["ExecStart"])
        extra = dict(item.split("=", 1) for item in shlex.split(service.get("Environment", "")))
        return argv, extra, service.get("WorkingDirectory", "/")

    def start_unit(self, unit: str) -> None:
        name, _, kind = unit.rpartition(".")
        service = self.unit(f"{name}.service")["Service"]
        argv, extra, cwd = self.service_argv(service)
        notify_path = self.root / "run/notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(notify_path))
        passed = ["-E", f"NOTIFY_SOCKET={notify_path}"] + [f"-E{k}={v}" for k, v in extra.items()]
        for var in ("PATH", "HOME", "ESG_PYTHON", "PYTHONPATH"):
            passed.append(f"-E{var}")
        if kind == "socket":
            listen = self.unit(unit)["Socket"]["ListenStream"]
            activate = need_program("systemd-socket-activate")
            self.main = self.start([activate, "-l", listen, *passed, *argv], "service", cwd=cwd)
            wait_until(lambda: os.path.exists(listen) or not self.main.alive(), 30, what=f"{listen} bound",
                       describe=self.describe)
            url = f"unix:{listen}" if listen.startswith("/") else f"http://{listen}/"
            # The first connection starts the service, as with systemd.
            wait_until(lambda: says_hello(url), START_TIMEOUT, interval=0.2, what=f"{HELLO!r} from {url}",
                       describe=self.describe)
            self.url = url
        else:
            self.main = self.start(argv, "service", cwd=cwd, env=dict(self.env, NOTIFY_SOCKET=str(notify_path)))
            self.url = None
        got = self.notifications(b"READY=1")
        assert any(b"MAINPID=%d" % self.main.pid in m for m in got), got

    def reload_unit(self, unit: str) -> None:
        service = self.unit(f"{unit.removesuffix('.service')}.service")["Service"]
        command = service["ExecReload"].replace("$MAINPID", str(self.main.pid))
        subprocess.run(shlex.split(command), check=True, timeout=30)
        got = self.notifications(b"READY=1")
        assert got[0].startswith(b"RELOADING=1"), got
        if self.url:
            assert says_hello(self.url), self.describe()

    def stop_units(self, units: list[str]) -> None:
        service = self.unit(f"{units[0].removesuffix('.service')}.service")["Service"]
        sig = getattr(signal, service.get("KillSignal", "SIGTERM"))
        self.main.send_signal(sig)
        code = self.main.wait(timeout=float(service.get("TimeoutStopSec", "90")))
        assert code == 0, self.main.describe()

    # --- test=kubernetes -------------------------------------------------------------------------------
    def kubernetes(self, text: str) -> None:
        manifests = self.root / "manifests.yaml"
        manifests.write_text(self.sub(text))
        check = subprocess.run([tools_bin("kubernetes-validate"), "--strict", str(manifests)], capture_output=True,
                               text=True, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        code = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"
        parsed = subprocess.run(["/usr/bin/python3", "-c", code, str(manifests)], capture_output=True, text=True,
                                timeout=30)
        assert parsed.returncode == 0, parsed.stderr + " (python3-yaml is in tools/debian-packages.txt)"
        docs = [d for d in json.loads(parsed.stdout) if d]
        deployments = [d for d in docs if d["kind"] == "Deployment"]
        assert deployments, "the manifests have no Deployment to run"
        for deployment in deployments:
            self.run_pod(deployment, [d for d in docs if d["kind"] == "Service"])

    def run_pod(self, deployment: dict, services: list) -> None:
        """One replica of the Deployment's pod as local processes, driven the way the kubelet drives it."""
        template = deployment["spec"]["template"]
        labels, pod = template["metadata"]["labels"], template["spec"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ports = {p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports", []) if "name" in p}
        for service in services:
            if service["spec"]["selector"].items() <= labels.items():
                for port in service["spec"]["ports"]:
                    target = port.get("targetPort", port["port"])
                    assert target in ports or target in ports.values(), f"Service targetPort {target} not exposed"
        started = []
        for container in pod["containers"]:
            env = dict(self.env, **{e["name"]: e["value"] for e in container.get("env", [])})
            argv = container.get("command", []) + container.get("args", [])
            p = self.start(argv, container["name"], env=env, cwd=container.get("workingDir", str(self.project)))
            started.append((container, p, env))

        def probe(spec: dict, env: dict) -> bool:
            if "httpGet" in spec:
                port = spec["httpGet"]["port"]
                port = ports.get(port, port)
                response = fetch(f"http://127.0.0.1:{port}{spec['httpGet'].get('path', '/')}",
                                 timeout=spec.get("timeoutSeconds", 1) + 4)
                return response is not None and 200 <= response.status_code < 400
            if "exec" in spec:
                return subprocess.run(spec["exec"]["command"], env=env, timeout=30).returncode == 0
            pytest.fail(f"test_guide cannot run probe {spec}", pytrace=False)

        for container, p, env in started:
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                spec = container.get(kind)
                if not spec:
                    continue
                time.sleep(spec.get("initialDelaySeconds", 0))
                period, threshold = spec.get("periodSeconds", 10), spec.get("failureThreshold", 3)
                # The kubelet's budget (period x threshold), tripled for a loaded test machine.
                deadline = time.monotonic() + 3 * period * threshold
                while not probe(spec, env):
                    assert p.alive(), f"{container['name']} exited during its {kind}\n{p.describe()}"
                    assert time.monotonic() < deadline, f"{kind} never passed\n{p.describe()}"
                    time.sleep(min(period, 1))
        grace = pod.get("terminationGracePeriodSeconds", 30)
        for container, p, env in started:
            began = time.monotonic()
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec")
            if pre_stop:
                hook = subprocess.run(pre_stop["command"], env=env, capture_output=True, text=True, timeout=grace)
                assert hook.returncode == 0, hook.stdout + hook.stderr
            if container.get("readinessProbe"):  # still serving what the Service sent before it learnt
                assert probe(container["readinessProbe"], env), f"not serving after preStop\n{p.describe()}"
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=max(1.0, grace - (time.monotonic() - began)))
            assert code == 0, p.describe()
