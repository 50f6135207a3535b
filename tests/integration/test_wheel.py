"""The wheel (`bazel build //:wheel`): installs into a fresh virtualenv made from /usr/bin/python3
(--system-site-packages), then `esg --version`, a served request (console script and the executable inside the
package called directly), esg.run and gunicorn's worker from the installed package, and `esgctl status`.

The wheel is found at $ESG_WHEEL, or in the bazel-bin that ESG_BIN comes from (bazel-bin/tools/wheel/)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deploy_support import APPS, bazel_bin, free_port, get, procs, try_get, wait_until  # noqa: F401


def find_wheel() -> Path:
    forced = os.environ.get("ESG_WHEEL")
    if forced:
        return Path(forced)
    # Under `bazel test` the runfiles hold exactly the //:wheel of this build; bazel-bin may also hold wheels
    # built for other CPythons (tools/build-wheels.sh), so only this interpreter's tag is taken.
    runfiles = os.environ.get("RUNFILES_DIR")
    where = Path(runfiles or "/nonexistent") / "esg" / "tools" / "wheel"
    if not where.is_dir():  # run by hand, RUNFILES_DIR naming another target's runfiles
        where = bazel_bin() / "tools" / "wheel"
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = sorted(where.glob(f"esg-*-{tag}-{tag}-*.whl"))
    if not found:
        pytest.fail(f"no {tag} wheel in {where}: run `bazel build //:wheel` or set $ESG_WHEEL", pytrace=False)
    return found[-1]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    wheel = find_wheel()
    root = tmp_path_factory.mktemp("wheel") / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(root)], check=True,
                   capture_output=True, timeout=120)
    proc = subprocess.run([str(root / "bin" / "pip"), "install", "--no-index", "--no-deps", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def clean_env(venv: Path, **extra) -> dict:
    """No trace of the build tree: the installed package must stand on its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ESG_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "WEB_CONCURRENCY",
                                                     "FORWARDED_ALLOW_IPS", "RUNFILES_DIR", "TEST_SRCDIR")}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    env.update(extra)
    return env


def test_wheel_contents(venv):
    site = next(venv.glob("lib/python3*/site-packages"))
    assert (site / "esg" / "bin" / "esg").stat().st_mode & 0o111
    assert list((site / "esg").glob("_esg*.so"))
    assert (venv / "bin" / "esg").exists()


def test_esg_version(venv):
    proc = subprocess.run([str(venv / "bin" / "esg"), "--version"], capture_output=True, text=True,
                          env=clean_env(venv), timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "esg" in proc.stdout.lower() and "0.1.0" in proc.stdout, proc.stdout


@pytest.mark.parametrize("entry", ["console-script", "package-executable"])
def test_serves_a_request(venv, procs, tmp_path, entry):
    site = next(venv.glob("lib/python3*/site-packages"))
    exe = venv / "bin" / "esg" if entry == "console-script" else site / "esg" / "bin" / "esg"
    port = free_port()
    env = clean_env(venv)
    if entry == "package-executable":
        env["PATH"] = "/usr/bin:/bin"  # as from systemd: no venv on PATH, no VIRTUAL_ENV
    p = procs([exe, "--port", str(port), "--app-dir", APPS, "dep_app:app"], name="wheel-esg", env=env)
    p.wait_output("ESG running on", timeout=30)
    assert get(f"http://127.0.0.1:{port}/").text == "hello"
    assert p.stop() == 0, p.describe()


def test_esg_run_and_gunicorn_worker_from_the_installed_package(venv, procs, tmp_path):
    port = free_port()
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(f"""
        import esg
        if __name__ == "__main__":
            esg.run("dep_app:app", port={port}, app_dir={str(APPS)!r})
    """))
    p = procs([venv / "bin" / "python", script], name="wheel-run", env=clean_env(venv))
    p.wait_output("ESG running on", timeout=30)
    assert get(f"http://127.0.0.1:{port}/").text == "hello"
    p.send_signal(signal.SIGINT)
    assert p.wait() == 0, p.describe()
    gunicorn = "/usr/bin/gunicorn"
    if not os.access(gunicorn, os.X_OK):
        pytest.fail("Debian's gunicorn is not installed (apt-get install gunicorn)", pytrace=False)
    port = free_port()
    # Debian's gunicorn runs /usr/bin/python3; the venv's site-packages makes the installed esg importable.
    site = next(venv.glob("lib/python3*/site-packages"))
    g = procs([gunicorn, "-k", "esg.workers.ESGWorker", "-b", f"127.0.0.1:{port}", "--chdir", APPS, "dep_app:app"],
              name="wheel-gunicorn", env=clean_env(venv, PYTHONPATH=str(site)))
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None, 30, what="gunicorn serving",
               describe=g.describe)


def test_esgctl_status(venv, procs, tmp_path):
    site = next(venv.glob("lib/python3*/site-packages"))
    if not (site / "esg" / "bin" / "esgctl").exists():
        pytest.fail("the wheel has no esgctl", pytrace=False)
    port = free_port()
    env = clean_env(venv, ESG_CONTROL_SOCKET=str(tmp_path / "control.sock"))
    p = procs([venv / "bin" / "esg", "--port", str(port), "--app-dir", APPS, "dep_app:app"], name="wheel-esg",
              env=env)
    p.wait_output("ESG running on", timeout=30)
    proc = subprocess.run([str(venv / "bin" / "esgctl"), "status"], capture_output=True, text=True, env=env,
                          timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr + p.describe()
    assert str(p.pid) in proc.stdout or "worker" in proc.stdout.lower(), proc.stdout
