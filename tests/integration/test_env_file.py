"""--env-file through the `esg` command: dotenv syntax (comments, export, quotes, escapes, empty values,
multi-line double quotes), loaded before the app is imported, relative to the working directory; a
missing file is a start-up error naming the option. (The master reads the file for its workers,
server/master/env_file.h; esg.envfile, the worker-side loader for esg.run and gunicorn, accepts the
same syntax plus python-dotenv's ${VAR} expansion.)"""

import textwrap

ENV = textwrap.dedent("""\
    # settings for the test
    CFG_PLAIN=value
    export CFG_EXPORTED=yes
    CFG_SPACED = two words   # trailing comment
    CFG_EMPTY=
    CFG_SINGLE='literal \\n'
    CFG_DOUBLE="line1\\nline2"
    CFG_MULTI="first
    second"
    CFG_HASH=a#b
    """)


def test_env_file_loaded_before_import(esg_server, tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text(ENV)
    server = esg_server(["--env-file", str(env_file)], app="cfg_app:app")
    data = server.get("/env").json()
    expected = {
        "CFG_PLAIN": "value",
        "CFG_EXPORTED": "yes",
        "CFG_SPACED": "two words",
        "CFG_EMPTY": "",
        "CFG_SINGLE": "literal \\n",
        "CFG_DOUBLE": "line1\nline2",
        "CFG_MULTI": "first\nsecond",
        "CFG_HASH": "a#b",
    }
    assert data["import"] == expected


def test_relative_env_file_from_cwd(esg_server, tmp_path):
    (tmp_path / "rel.env").write_text("CFG_REL=1\n")
    server = esg_server(["--env-file", "rel.env"], app="cfg_app:app", cwd=tmp_path)
    assert server.get("/env").json()["import"] == {"CFG_REL": "1"}


def test_missing_env_file_is_a_startup_error(run_esg, tmp_path):
    missing = tmp_path / "missing.env"
    result = run_esg(["--port", "0", "--env-file", str(missing), "cfg_app:app"])
    assert result.returncode != 0, result
    assert "--env-file" in result.stderr and "missing.env" in result.stderr, result.stderr
