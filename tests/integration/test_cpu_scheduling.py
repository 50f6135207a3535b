"""--cpu-scheduling batch|normal through the `esg` command, esg.run() and gunicorn's ESGWorker: the thread that
runs the app (event loop, WSGI pool) has the asked-for Linux policy; batch is the default; a policy set from
outside with chrt is left alone; a bad value is a usage error naming the option."""

import os
import pytest

from esgtest import esg_bin


@pytest.mark.parametrize("args, expected", [([], "SCHED_BATCH"), (["--cpu-scheduling", "batch"], "SCHED_BATCH"),
                                            (["--cpu-scheduling", "normal"], "SCHED_OTHER")])
def test_asgi_worker_policy(serve, args, expected):
    server = serve("sched_app:app", *args)
    assert server.get("/").text == expected


@pytest.mark.parametrize("args, expected", [([], "SCHED_BATCH"), (["--cpu-scheduling", "normal"], "SCHED_OTHER")])
def test_wsgi_pool_threads_inherit_the_policy(esg_server, args, expected):
    server = esg_server(["--interface", "wsgi", *args], app="sched_app:wsgi_app")
    assert {server.get("/").text for _ in range(6)} == {expected}


def test_every_worker_of_several(esg_server):
    server = esg_server(["--workers", "2"], app="sched_app:app")
    assert {server.get("/").text for _ in range(20)} == {"SCHED_BATCH"}


def test_policy_set_from_outside_with_chrt_is_left_alone(esg_server, monkeypatch, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("setting SCHED_RR needs root (CI runs as root)")
    # `chrt --rr 1 esg ...`: the master, and so the workers, start with SCHED_RR; the worker keeps it.
    wrapper = tmp_path / "esg-under-chrt"
    wrapper.write_text(f"#!/bin/sh\nexec chrt --rr 1 {esg_bin()} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("ESG_BIN", str(wrapper))
    server = esg_server([], app="sched_app:app")
    assert server.get("/").text == "SCHED_RR"


def test_bad_value_is_a_usage_error(run_esg):
    result = run_esg(["--cpu-scheduling", "fifo", "sched_app:app"])
    assert result.returncode == 2, result
    assert "--cpu-scheduling" in result.stderr and "fifo" in result.stderr, result.stderr
