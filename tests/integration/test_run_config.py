"""esg.config (the Python copy of ESG's option defaults) against the native `esg`, so the two cannot drift:
the defaults `esg --help` prints, the complete config the master hands a worker, and the flags esg.run()
derives from keyword arguments."""

from __future__ import annotations

import json
import re
import subprocess

from deploy_support import env_for, esg_bin, python


def py(code: str) -> str:
    proc = subprocess.run([python(), "-c", code], env=env_for(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def python_defaults() -> dict:
    return json.loads(py("import json, esg.config as c; print(json.dumps(c.DEFAULTS))"))


def help_defaults() -> dict:
    """{python_name: "shown default"} for every option whose help shows [default: X]."""
    text = subprocess.run([str(esg_bin()), "--help"], capture_output=True, text=True, timeout=30).stdout
    entries, current = [], None
    for line in text.splitlines():
        m = re.match(r"^  (--[a-z0-9-]+)", line)
        if m:
            current = [m.group(1), line]
            entries.append(current)
        elif current is not None and line.startswith("   "):
            current[1] += " " + line.strip()
    out = {}
    for flag, body in entries:
        m = re.search(r"\[default:\s*([^\]]+?)\s*\]", body)
        if m:
            out[flag[2:].replace("-", "_")] = m.group(1).replace(" ", "")
    return out


def shown(value) -> str:
    """How the CLI prints a default: booleans of --x/--no-x pairs as enabled/disabled, the rest as is."""
    return {True: "enabled", False: "disabled"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def test_python_defaults_match_esg_help():
    defaults = python_defaults()
    shown_defaults = help_defaults()
    assert len(shown_defaults) >= 15, shown_defaults
    mismatched = {name: (shown_value, defaults.get(name, "<missing>"))
                  for name, shown_value in shown_defaults.items()
                  if name not in defaults or shown_value not in (shown(defaults[name]), str(defaults[name]))}
    assert not mismatched, f"esg --help default vs esg.config.DEFAULTS: {mismatched}"


def test_python_defaults_match_the_config_the_master_hands_a_worker(tmp_path):
    """The master's complete default config (captured by a stand-in interpreter) equals esg.config.DEFAULTS."""
    capture = tmp_path / "worker-config.json"
    fake_python = tmp_path / "fake-python"
    fake_python.write_text(f"#!/bin/sh\nprintf '%s' \"$ESG_WORKER_CONFIG\" > {capture}\nexit 3\n")
    fake_python.chmod(0o755)
    env = env_for({"ESG_PYTHON": str(fake_python)})  # env_for drops WEB_CONCURRENCY, FORWARDED_ALLOW_IPS
    subprocess.run([str(esg_bin()), "--port", "0", "dep_app:app"], env=env, capture_output=True, timeout=30,
                   cwd=tmp_path)
    assert capture.exists(), "the master did not start a worker"
    master = json.loads(capture.read_text())["config"]
    for not_an_option in ("app", "python"):
        master.pop(not_an_option, None)
    master["port"] = 8000  # we asked for port 0
    if master.get("app_dir") == str(tmp_path):
        master["app_dir"] = "."  # the master hands workers the default "." made absolute (the cwd)
    # Resolved the way the CLI resolves them with an empty environment ($WEB_CONCURRENCY, $FORWARDED_ALLOW_IPS);
    # an older master passed them unresolved (null).
    defaults = json.loads(py("import json, esg.config as c; print(json.dumps(c.build({}, {})))"))
    for resolved_by_environment in ("workers", "forwarded_allow_ips"):
        if master.get(resolved_by_environment) is None:
            master[resolved_by_environment] = defaults[resolved_by_environment]
    assert sorted(master) == sorted(defaults), (
        f"only in the master: {sorted(set(master) - set(defaults))}; "
        f"only in esg.config: {sorted(set(defaults) - set(master))}")
    differing = {k: (master[k], defaults[k]) for k in master if master[k] != defaults[k]}
    assert not differing, f"master default vs esg.config.DEFAULTS: {differing}"


def test_cli_args_from_keyword_arguments():
    args = json.loads(py(
        "import json, esg.config as c; print(json.dumps(c.cli_args(dict("
        "host='0.0.0.0', port=5000, log_level='info', workers=4, access_log=False, proxy_headers=True, "
        "forwarded_allow_ips=['10.0.0.1', 'unix'], headers=[('X-A', '1'), 'X-B: 2'], reload_dirs='src', "
        "factory=True, timeout_graceful_shutdown=30.0, http='h11'))))"))
    assert args == ["--host", "0.0.0.0", "--port", "5000", "--workers", "4", "--no-access-log",
                    "--forwarded-allow-ips", "10.0.0.1,unix", "--header", "X-A:1", "--header", "X-B:2",
                    "--reload-dir", "src", "--factory", "--timeout-graceful-shutdown", "30"]


def test_cli_args_are_accepted_by_esg(tmp_path):
    """Every flag esg.config.cli_args can produce is one the native CLI knows (checked by parsing --help)."""
    text = subprocess.run([str(esg_bin()), "--help"], capture_output=True, text=True, timeout=30).stdout
    known = set(re.findall(r"(--[a-z0-9-]+)", text))
    flags = json.loads(py("import json, esg.config as c; print(json.dumps({n: c.flag_name(n) for n in c.DEFAULTS}))"))
    missing = [(n, f) for n, f in flags.items() if f not in known]
    assert not missing, f"esg.config options without an `esg` flag: {missing}"
