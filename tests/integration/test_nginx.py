"""Debian's nginx with the shipped nginx/ config (rewritten for a temporary prefix: own pid, logs, temp paths,
free ports, a temporary socket path and certificate) in front of `esg --uds ... --proxy-headers
--forwarded-allow-ips unix`: real client address and https scheme reach the app, 50 MB both ways, static
files, WebSockets, and `nginx -t` accepts the shipped files."""

from __future__ import annotations

import json
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from deploy_support import (APPS, REPO, free_port, make_cert, need_program, procs,  # noqa: F401
                            try_get, wait_until)

NGINX_DIR = REPO / "nginx"
MB50 = 50 * 1024 * 1024


def nginx() -> str:
    return need_program("/usr/sbin/nginx")


def rewrite_site(text: str, *, http_port: int, https_port: int, sock: str, cert: Path, key: Path,
                 static_root: Path) -> str:
    """The shipped esg.conf with only the host-specific parts replaced."""
    text = re.sub(r"^\s*listen \[::\]:.*$\n", "", text, flags=re.M)  # the test box may lack IPv6
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = text.replace("/etc/ssl/esg/fullchain.pem", str(cert)).replace("/etc/ssl/esg/privkey.pem", str(key))
    text = text.replace("unix:/tmp/esg.sock", f"unix:{sock}")
    return text.replace("root /srv/esg/current;", f"root {static_root};")


def main_conf(prefix: Path, site: Path) -> str:
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {prefix}/access.log;
{temp}
    include {site};
}}
"""


@pytest.fixture
def short_dir():
    d = Path(tempfile.mkdtemp(prefix="esgngx", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def stack(esg_server, procs, tmp_path, short_dir):
    """ESG on a UNIX socket behind nginx; returns (http_url, https_url)."""
    sock = str(short_dir / "esg.sock")
    esg_server(["--uds", sock, "--proxy-headers", "--forwarded-allow-ips", "unix"], app="dep_app:app",
               app_dir=APPS)
    cert, key = make_cert(tmp_path)
    static_root = tmp_path / "release"
    (static_root / "static").mkdir(parents=True)
    (static_root / "static" / "hello.txt").write_text("static hello\n")
    http_port, https_port = free_port(), free_port()
    site = tmp_path / "esg.conf"
    site.write_text(rewrite_site((NGINX_DIR / "esg.conf").read_text(), http_port=http_port,
                                 https_port=https_port, sock=sock, cert=cert, key=key, static_root=static_root))
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_conf(tmp_path, site))
    p = procs([nginx(), "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"], name="nginx")
    wait_until(lambda: try_get(f"http://127.0.0.1:{http_port}/") is not None or not p.alive(), 20,
               what="nginx serving", describe=lambda: p.describe() + (tmp_path / "error.log").read_text())
    assert p.alive(), p.describe()
    return f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}"


def client(**kwargs) -> httpx.Client:
    # From 127.0.0.2, so the address the app sees can only have come from X-Forwarded-For.
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=False)
    return httpx.Client(transport=transport, trust_env=False, timeout=60, verify=False, **kwargs)


def test_nginx_accepts_the_shipped_config(tmp_path):
    cert, key = make_cert(tmp_path)
    site = tmp_path / "esg.conf"
    text = (NGINX_DIR / "esg.conf").read_text()
    site.write_text(text.replace("/etc/ssl/esg/fullchain.pem", str(cert)).replace("/etc/ssl/esg/privkey.pem",
                                                                                   str(key)))
    conf = tmp_path / "check.conf"
    conf.write_text(main_conf(tmp_path, site))
    proc = subprocess.run([nginx(), "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "syntax is ok" in proc.stderr
    # The complete nginx.conf, with the Debian paths that need a real install pointed at the temp prefix.
    full = (NGINX_DIR / "nginx.conf").read_text()
    full = full.replace("/run/nginx.pid", str(tmp_path / "full.pid"))
    full = re.sub(r"/var/log/nginx/(\w+)\.log", lambda m: str(tmp_path / (m.group(1) + ".log")), full)
    full = full.replace("include /etc/nginx/conf.d/esg.conf;", f"include {site};")
    full = full.replace("http {", "http {\n" + "\n".join(
        f"    {k}_temp_path {tmp_path}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")), 1)
    (tmp_path / "full.conf").write_text(full)
    proc = subprocess.run([nginx(), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "full.conf")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_real_client_address_and_https_scheme_reach_the_app(stack):
    http_url, https_url = stack
    with client() as c:
        over_https = c.get(f"{https_url}/scope").json()
        over_http = c.get(f"{http_url}/scope").json()
    assert over_https["scheme"] == "https", over_https
    assert over_http["scheme"] == "http", over_http
    assert over_https["client"] and over_https["client"][0] == "127.0.0.2", over_https
    headers = dict(over_https["headers"])
    assert headers["host"].startswith("127.0.0.1:"), "Host is passed through ($http_host)"


def test_a_clients_forwarded_host_headers_never_reach_the_app(stack):
    # ESG believes X-Forwarded-Host/-Port and Forwarded from a trusted peer (nginx here), so the shipped config
    # must not pass on a client's: otherwise any client could choose the host the app builds URLs with.
    http_url, https_url = stack
    sent = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "1234",
            "Forwarded": 'for=10.9.9.9;host="evil.example";proto=https'}
    with client() as c:
        seen = [c.get(f"{url}/scope", headers=sent).json() for url in (http_url, https_url)]
    for scope in seen:
        headers = dict(scope["headers"])
        assert headers["host"].startswith("127.0.0.1:"), scope
        assert not any(name in headers for name in ("x-forwarded-host", "x-forwarded-port", "forwarded")), scope
        assert "evil" not in json.dumps(scope), scope
        assert scope["client"][0] == "127.0.0.2", scope


def test_upload_50mb(stack):
    http_url, _ = stack
    body = bytes(range(256)) * (MB50 // 256)
    with client() as c:
        r = c.post(f"{http_url}/upload", content=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"size": MB50, "sha256": hashlib.sha256(body).hexdigest()}


def test_download_50mb(stack):
    http_url, _ = stack
    pattern = bytes(range(256)) * 4096
    expected = hashlib.sha256(pattern * (MB50 // len(pattern))).hexdigest()
    digest, size = hashlib.sha256(), 0
    with client() as c, c.stream("GET", f"{http_url}/download?n={MB50}") as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    assert size == MB50
    assert digest.hexdigest() == expected


def test_static_files_are_served_by_nginx(stack):
    http_url, _ = stack
    with client() as c:
        r = c.get(f"{http_url}/static/hello.txt")
    assert r.status_code == 200 and r.text == "static hello\n"
    assert "cache-control" in r.headers  # from `expires 1h`


def test_keepalive_connections_to_esg_are_reused(stack):
    http_url, _ = stack
    with client() as c:
        for _ in range(20):
            assert c.get(f"{http_url}/").text == "hello"


def test_websocket_through_nginx(stack):
    from websockets.sync.client import connect

    http_url, _ = stack
    with connect(http_url.replace("http://", "ws://") + "/ws", open_timeout=10) as ws:
        ws.send("ping through nginx")
        assert ws.recv(timeout=10) == "ping through nginx"
        ws.send(b"\x00\x01binary")
        assert ws.recv(timeout=10) == b"\x00\x01binary"
