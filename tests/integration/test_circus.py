"""circus for real: circusd and circusctl (circus 0.19 from PyPI, in the tools virtualenv tools/setup.sh creates)
run deploy/circus/circus.ini and circus-uds.ini as shipped, with ESG serving a release directory laid out like
deploy/release.sh's (venv/bin/esg, example.py).

The only substitutions are the site values the files read from circus's [env] (release directory, address,
socket directory, circus's own endpoints): the test writes them into an ini named by $ESG_CIRCUS_SITE, which
the shipped files include before defaults.ini. Then the deployment guide's circusctl session: status -> active,
`stop web` -> stopped, `start web`, a graceful `reload` under steady GET+POST load with no failed request, and
`incr`/`decr`. Waits are bounded; nothing asserts on timing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from deploy_support import (APPS, REPO, env_for, esg_bin, free_port, get, nginx_argv, nginx_prefix, procs,  # noqa: F401
                            tools_bin, try_get, wait_until)

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))

from steady_load import SteadyLoad  # noqa: E402

CIRCUS = REPO / "deploy" / "circus"


def release_dir(tmp_path: Path) -> Path:
    """/srv/esg/current in miniature: the built esg as venv/bin/esg, the app as example.py."""
    rel = tmp_path / "current"
    (rel / "venv" / "bin").mkdir(parents=True)
    (rel / "venv" / "bin" / "esg").symlink_to(esg_bin())
    shutil.copy(APPS / "deploy_example.py", rel / "example.py")
    return rel


class Circus:
    """circusd on a shipped file, its site values in $ESG_CIRCUS_SITE, and circusctl against it."""

    def __init__(self, procs, tmp_path: Path, ini: str, **site):
        self.endpoint = f"ipc://{tmp_path}/circus.ctl"
        values = {"ESG_CIRCUS_APP_DIR": release_dir(tmp_path), "ESG_CIRCUS_HOST": "127.0.0.1",
                  "ESG_CIRCUS_ENDPOINT": self.endpoint, "ESG_CIRCUS_PUBSUB_ENDPOINT": f"ipc://{tmp_path}/circus.pub",
                  **site}
        site_ini = tmp_path / "site.ini"
        site_ini.write_text("[env]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
        self.proc = procs([tools_bin("circusd"), CIRCUS / ini], name="circusd",
                          env=env_for({"ESG_CIRCUS_SITE": str(site_ini)}))

    def ctl(self, *args: str, session: str | None = None) -> str:
        """One circusctl command, or with `session` an interactive circusctl fed those lines (as the guide)."""
        argv = [tools_bin("circusctl"), "--endpoint", self.endpoint, "--timeout", "60", *args]
        proc = subprocess.run(argv, input=session, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, f"circusctl {args}: {proc.stdout}{proc.stderr}\n{self.proc.describe()}"
        return proc.stdout

    def pids(self) -> set[int]:
        return {int(p) for p in self.ctl("list", "web").strip().split(",") if p.strip()}

    def wait_status(self, status: str, timeout: float = 60.0) -> None:
        wait_until(lambda: self.ctl("status", "web").strip() == status, timeout, interval=0.5,
                   what=f"circusctl status web: {status}", describe=self.proc.describe)

    def wait_processes(self, n: int, not_in: set[int] = frozenset(), timeout: float = 90.0) -> set[int]:
        found: set[int] = set()

        def check():
            found.clear()
            found.update(self.pids())
            return len(found) == n and not (found & not_in)
        wait_until(check, timeout, interval=0.5, what=f"{n} circus processes (not {sorted(not_in)})",
                   describe=self.proc.describe)
        return set(found)


def distinct_pids(url: str, uds: str | None = None, want: int = 2, timeout: float = 60.0) -> set[int]:
    """Bursts of concurrent GETs until `want` different worker pids answered (bounded)."""
    seen: set[int] = set()

    def one(_):
        r = try_get(url, uds=uds, timeout=30)
        return int(r.text.split()[0]) if r is not None and r.status_code == 200 else None

    def burst():
        with ThreadPoolExecutor(16) as pool:
            seen.update(p for p in pool.map(one, range(32)) if p)
        return len(seen) >= want
    wait_until(burst, timeout, interval=0.2, what=f"{want} different processes answering")
    return seen


@pytest.mark.timeout(240)
def test_circus_ini_shared_fd_session(procs, tmp_path):
    port = free_port()
    circus = Circus(procs, tmp_path, "circus.ini", ESG_CIRCUS_PORT=port)
    url = f"http://127.0.0.1:{port}/"
    wait_until(lambda: try_get(url, timeout=5), 60, interval=0.2, what="circus serving", describe=circus.proc.describe)
    first = circus.wait_processes(4)
    assert len(distinct_pids(url)) >= 2, "requests are answered by several of the 4 processes"

    # The guide's session, in an interactive circusctl.
    out = circus.ctl(session="status\nstop web --waiting\nstatus\n")
    assert re.search(r"web: active.*\bok\b.*web: stopped", out, re.S), out
    # Stopped: circusd keeps the socket, so a connection waits in its backlog (or is refused), never lost:
    # it is answered once `start web` runs. Bounded by the client timeout.
    waiting: dict = {}

    def request_while_stopped():
        try:
            waiting["outcome"] = f"HTTP {get(url, timeout=120).status_code}"
        except httpx.ConnectError as exc:  # refused: acceptable
            waiting["outcome"] = f"refused ({exc})"
        except httpx.HTTPError as exc:  # a timeout or a reset: the request was lost or hung
            waiting["outcome"] = f"{type(exc).__name__}: {exc}"
    client = threading.Thread(target=request_while_stopped, daemon=True)
    client.start()
    out = circus.ctl(session="start web --waiting\nstatus\n")
    assert re.search(r"\bok\b.*web: active", out, re.S), out
    client.join(150)
    assert not client.is_alive(), "a request sent while stopped hung after `start web`"
    assert waiting["outcome"] == "HTTP 200" or waiting["outcome"].startswith("refused"), waiting
    started = circus.wait_processes(4, not_in=first)

    # Graceful reload under steady GET + POST load: circus starts 4 new processes on the same socket, then
    # stops the old ones with SIGTERM (ESG's graceful stop).
    with SteadyLoad(port=port, clients=4) as load:
        load.wait_requests(40)
        before = set(load.stats.pids)
        assert "ok" in circus.ctl("reload", "web", "--waiting")
        circus.wait_processes(4, not_in=started)
        load.wait_requests(40)
    stats = load.stats
    print(f"circus reload under load: {stats.summary()}")
    assert stats.failed == 0, f"{stats.summary()}\n{stats.errors}\n{circus.proc.describe()}"
    assert stats.posts > 0 and stats.pids - before, "requests reached the new processes"

    assert circus.ctl("incr", "web", "--waiting").strip() == "5"
    circus.wait_processes(5)
    assert circus.ctl("numprocesses", "web").strip() == "5"
    assert circus.ctl("decr", "web", "--waiting").strip() == "4"
    circus.wait_processes(4)
    assert circus.ctl("numprocesses", "web").strip() == "4"
    assert get(url, timeout=30).status_code == 200


@pytest.mark.timeout(240)
def test_circus_uds_behind_nginx_session(procs, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    circus = Circus(procs, tmp_path, "circus-uds.ini", ESG_CIRCUS_RUN_DIR=run)
    port = free_port()
    site = (REPO / "nginx" / "circus-uds.conf").read_text()
    site = site.replace("unix:/run/esg/", f"unix:{run}/").replace("listen 80;", f"listen 127.0.0.1:{port};")
    prefix = tmp_path / "nginx"
    nginx_prefix(prefix, site)
    nginx = procs(nginx_argv(prefix, "-g", "daemon off;"), name="nginx")
    url = f"http://127.0.0.1:{port}/"
    sockets = [run / f"web-{i}.sock" for i in range(1, 5)]
    wait_until(lambda: all(s.exists() for s in sockets), 60, interval=0.2, what="web-1..4.sock",
               describe=circus.proc.describe)
    wait_until(lambda: (r := try_get(url, timeout=5)) is not None and r.status_code == 200, 60, interval=0.2,
               what="nginx -> circus serving", describe=nginx.describe)
    circus.wait_processes(4)
    assert len(distinct_pids(url, want=4)) >= 4, "nginx spreads requests over the 4 processes"

    out = circus.ctl(session="status\nstop web --waiting\nstatus\n")
    assert re.search(r"web: active.*\bok\b.*web: stopped", out, re.S), out
    # Every process removed its socket: nginx answers at once (502), nothing hangs.
    r = try_get(url, timeout=60)
    assert r is not None and r.status_code == 502, r
    out = circus.ctl(session="start web --waiting\nstatus\n")
    assert re.search(r"\bok\b.*web: active", out, re.S), out
    wait_until(lambda: (r := try_get(url, timeout=5)) is not None and r.status_code == 200, 60, interval=0.2,
               what="serving again after start", describe=circus.proc.describe)

    # `circusctl reload` = SIGHUP to each esg master (send_hup): new workers, readiness-gated, same sockets.
    reloaded = re.compile(rb"Reload finished")
    done_before = len(reloaded.findall(circus.proc.output().encode()))
    with SteadyLoad(port=port, clients=4) as load:
        load.wait_requests(40)
        before = set(load.stats.pids)
        assert "ok" in circus.ctl("reload", "web", "--waiting")
        wait_until(lambda: len(reloaded.findall(circus.proc.output().encode())) >= done_before + 4, 120,
                   interval=0.2, what="4 ESG reloads finished", describe=circus.proc.describe)
        load.wait_requests(40)
    stats = load.stats
    print(f"circus (uds, nginx) reload under load: {stats.summary()}")
    assert stats.failed == 0, f"{stats.summary()}\n{stats.errors}\nnginx: {nginx.describe()}\n" \
                              f"{(prefix / 'error.log').read_text()[-3000:]}"
    assert stats.posts > 0 and stats.pids - before, "requests reached the new workers"

    assert circus.ctl("incr", "web", "--waiting").strip() == "5"
    circus.wait_processes(5)
    fifth = run / "web-5.sock"
    wait_until(fifth.exists, 60, interval=0.2, what="web-5.sock", describe=circus.proc.describe)
    wait_until(lambda: try_get("http://localhost/", uds=str(fifth), timeout=5), 60, interval=0.2,
               what="the 5th process answering on its socket")
    assert circus.ctl("decr", "web", "--waiting").strip() == "4"
    circus.wait_processes(4)
    assert get(url, timeout=30).status_code == 200
