"""User-space instructions per request with callgrind.

For each (server, workload) the server is started twice under
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=DIR/callgrind.out.%p
once answering N requests and once 2N requests (our client, one keep-alive connection,
sequential requests, identical bytes), then stopped gracefully (callgrind writes its data when
each process exits). Startup, the readiness probe, the first N requests' warm-up effects and
shutdown are the same in both runs, so

    instructions/request = (I(2N) - I(N)) / N

counts warm requests only. I is the `totals:` (or `summary:`) of the callgrind.out file of the
*serving process* only: the process that owns the server side of the client's TCP connection,
found through /proc/net/tcp{,6} and /proc/PID/fd while the connection is open. For uvicorn that
is the uvicorn process; for granian and ESG it is the worker, not the master (a master that
ticks on a timer would add wall-clock-dependent noise, and valgrind makes the run long). The
same difference over all callgrind.out files of the run (master + workers + anything spawned)
is recorded too, as `tree_instr_per_req`.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import time

import servers as S
from client import Client
import workloads as W


def _sock_inode(server_port: int, client_port: int):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            lport = int(f[1].rsplit(":", 1)[1], 16)
            rport = int(f[2].rsplit(":", 1)[1], 16)
            if lport == server_port and rport == client_port:
                return f[9]
    return None


def serving_pid(root: int, server_port: int, client_port: int):
    """The pid in root's tree holding the accepted socket of our connection."""
    inode = _sock_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in S.descendants(root):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


def totals(path: str) -> int | None:
    with open(path, "rb") as f:
        for line in f:
            m = re.match(rb"(?:totals|summary):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    return None


def one_run(spec, opts, workload, n, outdir, log_path, ready_timeout):
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)  # workers that drop privileges (nginx as root -> nobody) must write here too
    port = S.free_port()
    wrapper = ["valgrind", "--tool=callgrind", "--trace-children=yes",
               f"--callgrind-out-file={outdir}/callgrind.out.%p"]
    run = S.start(spec, opts, port, log_path, cpu="0", wrapper=wrapper, ready_timeout=ready_timeout)
    try:
        raw = W.WORKLOADS[workload].raw_request
        c = Client("127.0.0.1", port, timeout=300)
        c.send_raw(raw)
        try:
            st, _, _ = c.read_response()
        except ConnectionError as e:
            raise RuntimeError(f"request 1 of {n}: {e}") from e
        worker = serving_pid(run.pid, port, c.local_port())
        t = time.monotonic()
        for i in range(n - 1):
            c.send_raw(raw)
            try:
                st2, _, _ = c.read_response()
            except ConnectionError as e:
                raise RuntimeError(f"request {i + 2} of {n}: {e}") from e
            if st2 != 200:
                raise RuntimeError(f"status {st2}")
        elapsed = time.monotonic() - t
        c.close()
        time.sleep(0.2)  # let the server notice the close before we stop it
    finally:
        rc = run.stop(timeout=180)
    files = {}
    for p in glob.glob(os.path.join(outdir, "callgrind.out.*")):
        pid = int(p.rsplit(".", 1)[1])
        files[pid] = totals(p)
    if worker is None or worker not in files:
        raise RuntimeError(f"could not find the callgrind output of the serving process "
                           f"(serving pid {worker}, files {sorted(files)}); see {log_path}")
    if files[worker] is None:
        raise RuntimeError(f"callgrind.out.{worker} has no totals (process killed before it could dump?)")
    return {"n": n, "serving_pid": worker, "root_pid": run.pid, "exit_code": rc,
            "serving_instr": files[worker], "tree_instr": sum(v or 0 for v in files.values()),
            "files": {str(k): v for k, v in files.items()}, "client_seconds": elapsed,
            "argv": run.argv}


def measure(spec, opts, workload, n, workdir, log_dir, ready_timeout=300, keep=False):
    if not shutil.which("valgrind"):
        raise RuntimeError("valgrind is not installed")
    runs = []
    for k in (n, 2 * n):
        d = os.path.join(workdir, f"{spec.name}-{workload}-{k}")
        runs.append(one_run(spec, opts, workload, k, d,
                            os.path.join(log_dir, f"callgrind-{spec.name}-{workload}-{k}.log"), ready_timeout))
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
    a, b = runs
    return {"server": spec.name, "workload": workload, "n": n,
            "instr_per_req": (b["serving_instr"] - a["serving_instr"]) / n,
            "tree_instr_per_req": (b["tree_instr"] - a["tree_instr"]) / n,
            "runs": runs}
