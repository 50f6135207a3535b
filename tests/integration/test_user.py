"""User space: with --user/--group the workers run unprivileged (checked in /proc), the master keeps root to
own the sockets; running the app as root without them prints a warning; unknown users are an error.
The suite runs as root (Debian CI container); these tests need it.
"""

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from test_supervision import get_info, wait_workers

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs the suite to run as root")

USER = "esgtest"


@pytest.fixture(scope="module")
def app_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True)
        return pwd.getpwnam(USER)


def proc_ids(pid: int) -> dict:
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(x) for x in value.split()]
    return ids


def test_workers_run_as_user_and_group(esg_server, app_user, tmp_path):
    uds = tmp_path / "esg.sock"
    server = esg_server(["--workers", "2", "--user", USER, "--group", "nogroup", "--uds", str(uds)],
                        app="sup_info:app")
    nogroup = 65534
    for pid in wait_workers(server, 2):
        ids = proc_ids(pid)
        assert ids["Uid"] == [app_user.pw_uid] * 4, ids  # real, effective, saved, filesystem
        assert ids["Gid"] == [nogroup] * 4, ids
        assert 0 not in ids["Groups"], ids
    assert proc_ids(server.proc.pid)["Uid"][1] == 0  # the master keeps root
    info = get_info(server)
    assert (info["uid"], info["euid"], info["gid"]) == (app_user.pw_uid, app_user.pw_uid, nogroup)
    assert "Running the application as root" not in server.stderr()


def test_user_alone_uses_its_primary_group(esg_server):
    nobody = pwd.getpwnam("nobody")
    server = esg_server(["--user", "nobody"], app="sup_info:app")
    info = get_info(server)
    assert (info["uid"], info["gid"]) == (nobody.pw_uid, nobody.pw_gid)


def test_root_without_user_warns(esg_server):
    server = esg_server([], app="sup_info:app")
    server.wait_for_output(r"^WARNING:  Running the application as root: pass --user")
    assert get_info(server)["uid"] == 0


def test_unknown_user_is_an_error(run_esg):
    result = run_esg(["--user", "no-such-user-esg", "--port", "0", "sup_info:app"])
    assert result.returncode == 1
    assert "--user no-such-user-esg: no such user." in result.stderr


def test_group_without_user_as_root_is_refused(run_esg):
    # Issue 11, defect 20: the workers ran with the group changed and uid 0, without a word.
    result = run_esg(["--group", "nogroup", "--port", "0", "sup_info:app"], timeout=20)
    assert result.returncode == 2, result.stderr
    assert "Error: --group needs --user when esg runs as root" in result.stderr


@pytest.fixture
def shared_dir():
    """A directory under /tmp the unprivileged user can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="esg-user-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_log_config_files_are_created_by_the_user(esg_server, app_user, shared_dir):
    # The files --log-config's handlers open were created before the privilege drop, owned by root.
    logs = shared_dir / "logs"
    logs.mkdir()
    os.chmod(logs, 0o777)
    config = shared_dir / "logging.json"
    config.write_text(json.dumps({
        "version": 1, "disable_existing_loggers": False,
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(logs / "esg.log")}},
        "loggers": {"esg.error": {"handlers": ["file"], "level": "INFO"}},
    }))
    os.chmod(config, 0o644)
    server = esg_server(["--user", USER, "--log-config", str(config)], app="sup_info:app")
    info = get_info(server)
    assert info["uid"] == app_user.pw_uid
    st = os.stat(logs / "esg.log")
    assert (st.st_uid, st.st_gid) == (app_user.pw_uid, app_user.pw_gid), st
    assert "Started server process" in (logs / "esg.log").read_text()
