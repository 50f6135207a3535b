#!/work/main/.venv/bin/python
"""HTTP/2 benchmark: h2c (prior knowledge) and h2 over TLS (ALPN), driven by h2load, for ESG `--http2`,
Granian and Hypercorn (uvicorn `--http2` when its `zttp` module is importable), interleaved rounds.

Not part of the pass/fail suite; see "HTTP/2 (h2bench.py)" in tests/bench/README.md.

    .venv/bin/python tests/bench/h2bench.py                         # esg,granian,hypercorn; h2c + h2; hello + get10k
    .venv/bin/python tests/bench/h2bench.py --servers granian,hypercorn --protocols h2c --rounds 2

Per (round, server, protocol) one server start (pinned with taskset to --server-cpu), one check that every
workload answers 200 with the right body over HTTP/2 (curl), then per workload an h2load warm-up run and a
measured run `h2load -c 64 -m 10 -n N -t 1` (pinned to --client-cpu). Reported: h2load's req/s and the
server process tree's CPU time (utime + stime from /proc) ÷ requests = CPU-µs per request. Protocol `h1`
is a reference row for ESG alone: `h2load --h1 -c 64 -m 1` (no pipelining) against ESG without --http2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers as S  # noqa: E402

WORKLOADS = {  # name -> (path, expected body)
    "hello": ("/", b"Hello, world!"),
    "get10k": ("/10k", b"x" * 10240),
}
PROTOCOLS = ("h2c", "h2", "h1")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ servers


def _esg(port, a, proto, certs):
    argv = [a.esg_bin, "app:app", "--app-dir", S.BENCH_DIR, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning"]
    if proto != "h1":
        argv.append("--http2")
    if proto == "h2":
        argv += ["--ssl-certfile", certs["cert"], "--ssl-keyfile", certs["key"]]
    return argv, {"ESG_PYTHON": S.VENV_PY}


def _granian(port, a, proto, certs):
    # Its best single-worker settings here (as in servers.py), HTTP/2 only.
    argv = [S.VENV_PY, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--http", "2", "--no-ws",
            "--workers", "1", "--runtime-mode", "st", "--runtime-threads", "1", "--log-level", "warning",
            "--no-access-log", "--working-dir", S.BENCH_DIR, "--host", "127.0.0.1", "--port", str(port)]
    if proto == "h2":
        argv += ["--ssl-certificate", certs["cert"], "--ssl-keyfile", certs["key"]]
    return argv + ["app:app"], {}


def _hypercorn(port, a, proto, certs):
    # Hypercorn serves h2c with prior knowledge on a cleartext bind and offers h2 by ALPN with TLS.
    argv = [S.VENV_PY, "-m", "hypercorn", "-c", os.path.join(S.BENCH_DIR, "hypercorn.toml"),
            "--bind", f"127.0.0.1:{port}", "--worker-class", "uvloop", "--workers", "1", "--log-level", "warning"]
    if proto == "h2":
        argv += ["--certfile", certs["cert"], "--keyfile", certs["key"]]
    return argv + ["app:app"], {"PYTHONPATH": S.BENCH_DIR}


def _uvicorn(port, a, proto, certs):
    argv = [S.VENV_PY, "-m", "uvicorn", "app:app", "--app-dir", S.BENCH_DIR, "--host", "127.0.0.1",
            "--port", str(port), "--http", "zttp", "--http2", "--loop", "uvloop", "--no-access-log",
            "--log-level", "warning"]
    if proto == "h2":
        argv += ["--ssl-certfile", certs["cert"], "--ssl-keyfile", certs["key"]]
    return argv, {}


def _esg_needs(a, proto):
    if not (os.path.isfile(a.esg_bin) and os.access(a.esg_bin, os.X_OK)):
        return f"ESG binary not found at {a.esg_bin}"
    out = subprocess.run([a.esg_bin, "--help"], capture_output=True, text=True).stdout
    if proto != "h1" and "--http2" not in out:
        return f"{a.esg_bin} has no --http2 option"
    return None


def _uvicorn_needs(a, proto):
    r = subprocess.run([S.VENV_PY, "-c", "import zttp"], capture_output=True, text=True)
    return None if r.returncode == 0 else "uvicorn --http zttp needs the `zttp` module, not installed in .venv"


SLOW = ("hypercorn",)  # measured with --slow-requests, so a round takes minutes, not a quarter of an hour
SERVERS = {  # name -> (build, needs, stop signal)
    "esg": (_esg, _esg_needs, signal.SIGTERM),
    "granian": (_granian, None, signal.SIGINT),
    "hypercorn": (_hypercorn, None, signal.SIGINT),
    "uvicorn": (_uvicorn, _uvicorn_needs, signal.SIGINT),
}


def make_certs(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   cwd=d, check=True, capture_output=True, timeout=60)
    # Granian reads PKCS#8 keys only; openssl req writes PKCS#8 already ("BEGIN PRIVATE KEY").
    return {"cert": os.path.join(d, "cert.pem"), "key": os.path.join(d, "key.pem")}


def url(proto, port, path):
    return f"{'https' if proto == 'h2' else 'http'}://127.0.0.1:{port}{path}"


def curl_get(proto, port, path, timeout=10):
    """(http_version, status, body) of one GET with curl over the protocol."""
    flag = {"h2c": "--http2-prior-knowledge", "h2": "--http2", "h1": "--http1.1"}[proto]
    with tempfile.NamedTemporaryFile() as body:
        p = subprocess.run(["curl", "-sk", flag, "--max-time", str(timeout), "-o", body.name,
                            "-w", "%{http_version} %{http_code}", url(proto, port, path)],
                           capture_output=True, text=True, timeout=timeout + 5)
        version, _, status = p.stdout.partition(" ")
        return version, status, open(body.name, "rb").read()


class Server:
    def __init__(self, name, a, proto, certs, logdir, tag):
        build, _, self.stop_signal = SERVERS[name]
        self.name, self.proto = name, proto
        self.port = S.free_port()
        argv, env_extra = build(self.port, a, proto, certs)
        argv = ["taskset", "-c", a.server_cpu] + argv
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", **env_extra)
        self.log_path = os.path.join(logdir, f"{tag}.log")
        with open(self.log_path, "ab") as logf:
            logf.write(("$ " + " ".join(f"{k}={v}" for k, v in env_extra.items()) + " " + shlex.join(argv)
                        + "\n").encode())
            logf.flush()
            self.proc = subprocess.Popen(argv, cwd=S.BENCH_DIR, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=S.raise_nofile)
        self.argv = argv
        try:
            self._wait_ready(30.0)
        except BaseException:
            self.stop()
            raise

    def log_tail(self, n=20):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        want = "1.1" if self.proto == "h1" else "2"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode} before it was ready:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f}s:\n{self.log_tail()}")
            if S.tree_listens(self.proc.pid, self.port):
                version, status, body = curl_get(self.proto, self.port, "/")
                if status == "200":
                    if version != want:
                        raise RuntimeError(f"GET / answered over HTTP/{version}, not HTTP/{want}")
                    return
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, self.stop_signal)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session only
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        return self.proc.returncode


# ------------------------------------------------------------------------------------------ h2load

H2LOAD_FINISHED = re.compile(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s")
H2LOAD_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                             r"(\d+) errored, (\d+) timeout")
H2LOAD_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
H2LOAD_PROTO = re.compile(r"Application protocol: (\S+)")


def h2load_argv(a, proto, port, path, n):
    argv = ["taskset", "-c", a.client_cpu, "h2load", "-t", "1", "-c", str(a.clients), "-n", str(n)]
    argv += ["--h1", "-m", "1"] if proto == "h1" else ["-m", str(a.streams)]
    return argv + [url(proto, port, path)]


def h2load(a, proto, port, path, n):
    argv = h2load_argv(a, proto, port, path, n)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    out = p.stdout
    fin, req, st = H2LOAD_FINISHED.search(out), H2LOAD_REQUESTS.search(out), H2LOAD_STATUS.search(out)
    if p.returncode != 0 or not (fin and req and st):
        raise RuntimeError(f"h2load failed ({p.returncode}): {out[-800:]} {p.stderr[-400:]}")
    pm = H2LOAD_PROTO.search(out)
    return {"argv": argv, "rps": float(fin.group(3)), "succeeded": int(req.group(4)), "failed": int(req.group(5)),
            "errored": int(req.group(6)), "ok_2xx": int(st.group(1)), "protocol": pm.group(1) if pm else None,
            "raw": out}


# ------------------------------------------------------------------------------------------ driver


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="esg,granian,hypercorn,uvicorn",
                   help=f"comma list from {', '.join(SERVERS)} (default: %(default)s; a server that cannot run "
                        "here is reported and skipped)")
    p.add_argument("--protocols", default="h2c,h2,h1",
                   help="comma list from h2c, h2 (TLS + ALPN), h1 (ESG only, HTTP/1.1 reference)")
    p.add_argument("--workloads", default="hello,get10k", help=f"comma list from {', '.join(WORKLOADS)}")
    p.add_argument("--esg-bin", default=S.DEFAULT_ESG_BIN)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("-n", "--requests", type=int, default=100000, help="requests per measured h2load run")
    p.add_argument("--slow-requests", type=int, default=20000,
                   help="requests per measured run for the servers in SLOW (Hypercorn: ~1,200 req/s here)")
    p.add_argument("--warmup-requests", type=int, default=10000)
    p.add_argument("--clients", type=int, default=64, help="h2load -c")
    p.add_argument("--streams", type=int, default=10, help="h2load -m (HTTP/2 only)")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--out", default=os.path.join(S.BENCH_DIR, "results"))
    a = p.parse_args(argv)
    a.servers = [s for s in a.servers.split(",") if s]
    a.protocols = [s for s in a.protocols.split(",") if s]
    a.workloads = [s for s in a.workloads.split(",") if s]
    for s in a.servers:
        if s not in SERVERS:
            p.error(f"--servers: unknown server {s!r}")
    for s in a.protocols:
        if s not in PROTOCOLS:
            p.error(f"--protocols: unknown protocol {s!r}")
    for s in a.workloads:
        if s not in WORKLOADS:
            p.error(f"--workloads: unknown workload {s!r}")
    return a


def one_start(a, rnd, name, proto, certs, logdir, records, skipped):
    tag = f"{name}-{proto}-r{rnd}"
    try:
        server = Server(name, a, proto, certs, logdir, tag)
    except Exception as e:  # noqa: BLE001
        skipped[f"{name} {proto}"] = f"could not start: {str(e).splitlines()[0]}"
        log(f"  {name} {proto}: could not start: {e}")
        return
    try:
        for wl in a.workloads:
            path, expect = WORKLOADS[wl]
            version, status, body = curl_get(proto, server.port, path)
            if status != "200" or body != expect:
                skipped[f"{name} {proto} {wl}"] = f"wrong response: HTTP/{version} {status}, {len(body)} bytes"
                log(f"  {name} {proto} {wl}: WRONG RESPONSE, not measured")
                continue
            n_wanted = a.slow_requests if name in SLOW else a.requests
            try:
                h2load(a, proto, server.port, path, a.warmup_requests)
                cpu = S.TreeCpu(server.proc.pid, S.parse_cpulist(a.server_cpu))
                cpu.start()
                res = h2load(a, proto, server.port, path, n_wanted)
                cpu.stop()
            except Exception as e:  # noqa: BLE001
                skipped[f"{name} {proto} {wl} round {rnd}"] = f"load run failed: {str(e).splitlines()[0]}"
                log(f"  {name} {proto} {wl}: {e}")
                continue
            n = res["succeeded"]
            rec = {"round": rnd, "server": name, "protocol": proto, "workload": wl, "rps": res["rps"],
                   "requests": n, "wanted": n_wanted, "failed": res["failed"], "errored": res["errored"],
                   "ok_2xx": res["ok_2xx"],
                   "alpn": res["protocol"], "cpu_s": cpu.seconds, "wall_s": cpu.wall,
                   "cpu_us_per_req": cpu.seconds * 1e6 / n if n else None,
                   "server_util": cpu.seconds / cpu.wall if cpu.wall else None,
                   "server_cpus_other_busy": cpu.other_busy_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
                   "h2load_argv": res["argv"], "server_argv": server.argv}
            records.append(rec)
            log(f"  {name} {proto} {wl}: {res['rps']:,.0f} req/s, {rec['cpu_us_per_req']:.1f} CPU-µs/req, "
                f"{res['ok_2xx']}/{n_wanted} 2xx, protocol {res['protocol']}")
    finally:
        server.stop()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def table(a, records):
    lines = ["| workload | protocol | server | req/s (median) | req/s (best round) | CPU-µs/req (median) | "
             "others' load on the server CPU (median) | rounds | all 2xx |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for wl in a.workloads:
        for proto in a.protocols:
            for name in a.servers:
                rs = [r for r in records if (r["server"], r["protocol"], r["workload"]) == (name, proto, wl)]
                if not rs:
                    continue
                all_ok = all(r["ok_2xx"] == r["wanted"] for r in rs)
                other = median([r["server_cpus_other_busy"] for r in rs])
                lines.append(f"| {wl} | {proto} | {name} | {median([r['rps'] for r in rs]):,.0f} | "
                             f"{max(r['rps'] for r in rs):,.0f} | {median([r['cpu_us_per_req'] for r in rs]):.1f} | "
                             f"{'-' if other is None else f'{other:.0%}'} | {len(rs)} | "
                             f"{'yes' if all_ok else 'NO'} |")
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outdir = os.path.join(a.out, f"h2-{stamp}")
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    certdir = tempfile.mkdtemp(prefix="esg-h2bench-")
    certs = make_certs(certdir)
    skipped, records = {}, []
    runnable = []
    for name in a.servers:
        for proto in a.protocols:
            if proto == "h1" and name != "esg":
                continue
            needs = SERVERS[name][1]
            why = needs(a, proto) if needs else None
            if why:
                skipped[f"{name} {proto}"] = why
                log(f"skipping {name} {proto}: {why}")
            else:
                runnable.append((name, proto))
    for rnd in range(1, a.rounds + 1):
        for name, proto in runnable:
            log(f"[round {rnd}/{a.rounds}] {name} {proto}")
            one_start(a, rnd, name, proto, certs, logdir, records, skipped)
    md = table(a, records)
    cmd = "tests/bench/h2bench.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    h2load_cmd = (f"h2load -t 1 -c {a.clients} -m {a.streams} -n {a.requests}` (`-n {a.slow_requests}` for "
                  f"{', '.join(SLOW)})")
    text = (f"# HTTP/2 benchmark {stamp}\n\n`{cmd}` — each measured run `{h2load_cmd} after a "
            f"{a.warmup_requests}-request warm-up; server on CPU {a.server_cpu}, h2load on CPU {a.client_cpu}; "
            f"{a.rounds} interleaved rounds.\n\n{md}\n")
    if skipped:
        text += "\nNot measured:\n" + "".join(f"- {k}: {v}\n" for k, v in skipped.items())
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"args": vars(a), "records": records, "skipped": skipped}, f, indent=1)
    print(text)
    log(f"results in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
