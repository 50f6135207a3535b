"""Signals to the master with several workers: SIGTERM lets a slow in-flight request finish and exits 0;
a second SIGINT stops at once; SIGTTIN/SIGTTOU add and remove a worker (never below one); SIGUSR1
(reopen logs) keeps serving.
"""

import signal
import time

from esgtest import STOP_TIMEOUT, http_request, wait_for_file
from test_supervision import get_info, wait_workers


def test_sigterm_lets_slow_requests_finish_on_every_worker(esg_server, markers):
    server = esg_server(["--workers", "2"], app="sup_info:app")
    wait_workers(server, 2)
    conns = [server.connect() for _ in range(4)]
    try:
        for i, conn in enumerate(conns):
            conn.send(http_request("GET", f"/slow?id=t{i}&delay=1.5"))
        for i in range(4):
            wait_for_file(markers / f"started-t{i}")
        server.send_signal(signal.SIGTERM)
        for conn in conns:
            resp = conn.read_response()
            assert resp.status == 200
    finally:
        for conn in conns:
            conn.close()
    assert server.wait(STOP_TIMEOUT) == 0, server.describe()
    assert "Finished server process" in server.stderr()


def test_second_sigint_stops_at_once(esg_server, markers):
    server = esg_server(["--workers", "2"], app="sup_info:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/slow?id=q&delay=600"))
        wait_for_file(markers / "started-q")
        server.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert server.alive(), "the first SIGINT must wait for the in-flight request"
        server.send_signal(signal.SIGINT)
        assert server.wait(STOP_TIMEOUT) is not None, server.describe()
    assert "stopping at once" in server.stderr()


def test_ttin_and_ttou_change_the_worker_count(esg_server):
    server = esg_server(["--workers", "2"], app="sup_info:app")
    wait_workers(server, 2)
    server.send_signal(signal.SIGTTIN)
    three = wait_workers(server, 3)
    server.wait_for_output(r"Received SIGTTIN: 2 -> 3 workers\.")
    server.send_signal(signal.SIGTTOU)
    wait_workers(server, 2)
    server.send_signal(signal.SIGTTOU)
    [last] = wait_workers(server, 1)
    assert last in three
    server.send_signal(signal.SIGTTOU)
    server.wait_for_output(r"already at 1 worker")
    assert get_info(server)["pid"] == last
    assert wait_workers(server, 1) == [last]


def test_sigusr1_reopens_logs_and_keeps_serving(esg_server):
    server = esg_server(["--workers", "2"], app="sup_info:app")
    pids = wait_workers(server, 2)
    server.send_signal(signal.SIGUSR1)
    server.wait_for_output(r"Reopening log files")
    assert get_info(server)["pid"] in pids
    assert wait_workers(server, 2) == pids
