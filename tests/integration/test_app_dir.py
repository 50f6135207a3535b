"""--app-dir given as a relative path (resolved against the working directory) and used from another
working directory than the app's; the worker's own cwd stays where esg was started."""

from esgtest import APPS


def test_relative_app_dir(esg_server):
    # From tests/integration, "apps/sub" is relative.
    server = esg_server(["--app-dir", "apps/sub"], app="in_subdir:app", app_dir=None, cwd=APPS.parent)
    assert server.get("/").status_code == 200


def test_relative_app_dir_with_dot_dot(esg_server, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    rel = "../" * len(work.parts[1:]) + str(APPS).lstrip("/")
    server = esg_server(["--app-dir", rel], app="cfg_app:app", app_dir=None, cwd=work)
    where = server.get("/where").json()
    assert where["file"] == str(APPS / "cfg_app.py")
    assert where["cwd"] == str(work)


def test_absolute_app_dir_from_another_cwd(esg_server, tmp_path):
    server = esg_server(["--app-dir", str(APPS)], app="cfg_app:app", app_dir=None, cwd=tmp_path)
    where = server.get("/where").json()
    assert where["file"] == str(APPS / "cfg_app.py")
    assert where["cwd"] == str(tmp_path)


def test_app_dir_module_shadows_cwd_module(esg_server, tmp_path):
    # A module of the same name in the working directory must not win over --app-dir's.
    (tmp_path / "cfg_app.py").write_text("raise SystemExit('wrong cfg_app imported')\n")
    server = esg_server(["--app-dir", str(APPS)], app="cfg_app:app", app_dir=None, cwd=tmp_path)
    assert server.get("/where").json()["file"] == str(APPS / "cfg_app.py")
