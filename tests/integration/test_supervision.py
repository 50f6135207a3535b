"""Supervision through the `esg` command: --workers N (and $WEB_CONCURRENCY) all inherit one listening socket;
a SIGKILLed worker is replaced; a worker that cannot boot ends ESG with exit status 3; a worker that blocks
its event loop past --timeout-worker-healthcheck is killed and replaced; --limit-max-requests recycles
workers without a failed request; worker stdout/stderr reach the master's output prefixed with the pid;
--env-file reaches the workers.

Helpers here (worker_pids, wait_until, pids_serving) are shared by the other supervision test files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from esgtest import IO_TIMEOUT, children

WAIT = 30.0  # seconds any supervision change may take (no timing is asserted)


def wait_until(predicate, timeout: float = WAIT, what: str = "condition", server=None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout}s" + (f"\n{server.describe()}" if server else ""),
                        pytrace=False)
        time.sleep(0.05)


def worker_pids(server) -> list[int]:
    return children(server.proc.pid)


def wait_workers(server, count: int, timeout: float = WAIT) -> list[int]:
    """Wait until exactly `count` workers run and all of them answer; returns their pids."""
    def check():
        pids = worker_pids(server)
        return pids if len(pids) == count else None
    pids = wait_until(check, timeout, f"{count} worker processes", server)
    return pids


def get_info(server, path: str = "/") -> dict:
    with server.client(headers={"connection": "close"}) as c:
        resp = c.get(path)
    assert resp.status_code == 200, resp.text
    return resp.json()


def pids_serving(server, requests: int = 40) -> set[int]:
    """Pids seen answering `requests` fresh-connection requests."""
    return {get_info(server)["pid"] for _ in range(requests)}


def count_lines(server, pattern: str) -> int:
    return len(re.findall(pattern, server.stderr(), re.M))


def socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


def listener_inode(pid: int, fd: int = 3) -> str:
    return os.readlink(f"/proc/{pid}/fd/{fd}")


# ------------------------------------------------------------------------------------------------- tests


def test_workers_share_the_masters_listening_socket(esg_server):
    server = esg_server(["--workers", "3"], app="sup_info:app")
    pids = wait_workers(server, 3)
    master_sockets = socket_inodes(server.proc.pid)
    for pid in pids:
        assert listener_inode(pid) in master_sockets, "a worker listens on a socket the master does not hold"
    assert len({listener_inode(pid) for pid in pids}) == 1
    assert pids_serving(server, 60) <= set(pids)


def test_web_concurrency_sets_the_default(esg_server):
    server = esg_server([], app="sup_info:app", env={"WEB_CONCURRENCY": "2"})
    wait_workers(server, 2)


def test_readiness_gated_start_announces_once(esg_server):
    server = esg_server(["--workers", "2"], app="sup_info:app")
    assert count_lines(server, r"Application startup complete\.$") == 2
    assert count_lines(server, r"ESG running on") == 1


def test_sigkilled_worker_comes_back(esg_server):
    server = esg_server(["--workers", "2"], app="sup_info:app")
    before = wait_workers(server, 2)
    os.kill(before[0], signal.SIGKILL)
    after = wait_until(lambda: (lambda p: p if len(p) == 2 and before[0] not in p else None)(worker_pids(server)),
                       what="a replacement worker", server=server)
    assert before[1] in after
    server.wait_for_output(rf"Worker \[{before[0]}\] died \(killed by SIGKILL\)")
    wait_until(lambda: count_lines(server, r"Application startup complete\.$") == 3, what="replacement ready",
               server=server)
    assert get_info(server)["pid"] in after


@pytest.mark.parametrize("app", ["broken_import:app", "lifespan_fail:app"])
def test_app_that_cannot_boot_exits_3_with_its_error(run_esg, app):
    result = run_esg(["--workers", "2", "--port", "0", "--lifespan", "on", app])
    assert result.returncode == 3, result.stderr
    assert "failed to start" in result.stderr
    assert "ESG running on" not in result.stderr
    # At most the two first workers ran: no respawn loop.
    assert len(re.findall(r"Started server process", result.stderr)) <= 2, result.stderr


def test_blocked_worker_is_killed_after_healthcheck_timeout(esg_server):
    server = esg_server(["--timeout-worker-healthcheck", "1"], app="sup_info:app")
    [before] = wait_workers(server, 1)
    conn = server.connect(timeout=IO_TIMEOUT)
    try:
        conn.send(b"GET /block?delay=8 HTTP/1.1\r\nHost: x\r\n\r\n")
        server.wait_for_output(rf"Worker \[{before}\] sent no heartbeat for 1s; killing it", timeout=WAIT)
    finally:
        conn.close()
    after = wait_until(lambda: (lambda p: p if len(p) == 1 and p[0] != before else None)(worker_pids(server)),
                       what="a replacement worker", server=server)
    wait_until(lambda: count_lines(server, r"Application startup complete\.$") == 2, what="replacement ready",
               server=server)
    assert get_info(server)["pid"] == after[0]


def test_limit_max_requests_recycles_without_failures(esg_server):
    server = esg_server(["--workers", "2", "--limit-max-requests", "10", "--limit-max-requests-jitter", "3"],
                        app="sup_info:app")
    first = set(wait_workers(server, 2))
    seen = set()
    for _ in range(120):  # every request must succeed while workers are replaced
        seen.add(get_info(server)["pid"])
        time.sleep(0.01)
    assert seen - first, "no worker was recycled after --limit-max-requests"
    server.wait_for_output(r"served \d+ requests \(--limit-max-requests\): starting its replacement")
    wait_workers(server, 2)


def test_worker_output_is_captured_with_its_pid(esg_server):
    server = esg_server([], app="sup_info:app")
    pid = get_info(server, "/print")["pid"]
    server.wait_for_output(rf"^\[{pid}\] hello from stdout {pid}$", "stdout")
    server.wait_for_output(rf"^\[{pid}\] hello from stderr {pid}$", "stderr")
    # ESG's own log lines keep their format.
    server.wait_for_output(rf"^INFO:     Started server process \[{pid}\]$")


def test_env_file_reaches_workers_and_is_reread_on_reload(esg_server, tmp_path: Path):
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nexport ESG_TEST_VALUE='one'\n")
    server = esg_server(["--env-file", str(env_file)], app="sup_info:app")
    assert get_info(server)["value"] == "one"
    env_file.write_text('ESG_TEST_VALUE="two"  # changed\n')
    server.send_signal(signal.SIGHUP)
    server.wait_for_output(r"Reload finished: generation 2", timeout=WAIT)
    assert get_info(server)["value"] == "two"


def test_missing_env_file_is_an_error(run_esg, tmp_path: Path):
    result = run_esg(["--env-file", str(tmp_path / "nope.env"), "--port", "0", "sup_info:app"])
    assert result.returncode == 1
    assert "nope.env" in result.stderr


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_worker_flooding_its_control_channel_is_killed_and_replaced(esg_server):
    # Issue 11, defect 5: the master buffered a worker's control line without limit (64 MiB here).
    server = esg_server([], app="master_channel:app")
    [before] = wait_workers(server, 1)
    master_before = rss_kib(server.proc.pid)
    conn = server.connect(timeout=IO_TIMEOUT)
    try:
        conn.send(b"GET /huge?mib=64 HTTP/1.1\r\nHost: x\r\n\r\n")
        server.wait_for_output(rf"Worker \[{before}\] sent a control message longer than 1048576 bytes; "
                               r"killing it\.", timeout=WAIT)
    finally:
        conn.close()
    after = wait_until(lambda: (lambda p: p if len(p) == 1 and p[0] != before else None)(worker_pids(server)),
                       what="a replacement worker", server=server)
    server.wait_for_output(rf"Worker \[{before}\] died \(killed by SIGKILL, control message too long\)")
    wait_until(lambda: count_lines(server, r"Application startup complete\.$") == 2, what="replacement ready",
               server=server)
    with server.client(headers={"connection": "close"}) as c:
        assert c.get("/").text == str(after[0])
    assert rss_kib(server.proc.pid) - master_before < 16 * 1024, "the master's memory grew with the line"


def test_control_messages_with_wrong_types_are_ignored(esg_server):
    # A startup_failed whose message is not a string used to throw out of the master's event loop.
    server = esg_server(["--log-level", "debug"], app="master_channel:app")
    [pid] = wait_workers(server, 1)
    with server.client(headers={"connection": "close"}) as c:
        assert c.get("/bad-types").status_code == 200
    server.wait_for_output(rf"Ignoring a malformed control message from worker \[{pid}\]", timeout=WAIT)
    assert server.alive()
    with server.client(headers={"connection": "close"}) as c:
        assert c.get("/").text == str(pid)
    assert worker_pids(server) == [pid]
