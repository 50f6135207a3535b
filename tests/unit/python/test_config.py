"""esg.config: keyword arguments of esg.run() and gunicorn's CONFIG_KWARGS -> a worker config, and -> flags."""

import pytest

from esg import config


def test_unknown_or_misspelled_option_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'prot'"):
        config.check_options({"prot": 5000})
    with pytest.raises(TypeError, match="unexpected keyword argument 'prot'"):
        config.build({"prot": 5000}, {})
    with pytest.raises(TypeError, match="unexpected keyword argument 'log-level'"):
        config.cli_args({"log-level": "debug"})


def test_choices_are_checked():
    with pytest.raises(ValueError, match="loop='tokio' is not one of auto, asyncio, uvloop"):
        config.check_options({"loop": "tokio"})
    with pytest.raises(ValueError, match="http='h2' is not one of"):
        config.check_options({"http": "h2"})
    config.check_options({"http": "h11", "loop": "asyncio"})


def test_build_fills_defaults_and_resolves_the_environment():
    built = config.build({}, {"WEB_CONCURRENCY": "3", "FORWARDED_ALLOW_IPS": "10.0.0.1"})
    assert built["workers"] == 3 and built["forwarded_allow_ips"] == "10.0.0.1"
    assert built["port"] == 8000 and built["limit_request_line"] == 8190
    built = config.build({"forwarded_allow_ips": ["10.0.0.1", "unix"], "reload_dirs": "src",
                          "headers": ["X-A: 1", ("X-B", 2)], "http": "h11"}, {})
    assert built["workers"] == 1
    assert built["forwarded_allow_ips"] == "10.0.0.1,unix"
    assert built["reload_dirs"] == ["src"]
    assert built["headers"] == [["X-A", "1"], ["X-B", "2"]]
    assert "http" not in built, "a no-op uvicorn option is not handed to the engine"


def test_build_does_not_share_mutable_defaults():
    first = config.build({}, {})
    first["reload_dirs"].append("x")
    assert config.build({}, {})["reload_dirs"] == []


def test_cli_args_only_for_values_that_differ():
    assert config.cli_args({"port": 8000, "host": "0.0.0.0", "access_log": False, "reload": True}) == [
        "--host", "0.0.0.0", "--no-access-log", "--reload"]
    with pytest.raises(ValueError, match="whole number"):
        config.cli_args({"timeout_graceful_shutdown": 1.5})


def test_normalize_headers_rejects_a_header_without_colon():
    with pytest.raises(ValueError, match="not a Name:Value pair"):
        config.normalize_headers(["X-A 1"])


def test_defaults_come_from_the_generated_schema():
    from esg import _schema

    assert config.DEFAULTS == {name: spec[0] for name, spec in _schema.SETTINGS.items()}
    assert config.flag_name("headers") == "--header" and config.flag_name("reload_dirs") == "--reload-dir"
    assert config.CHOICES["loop"] == ("auto", "asyncio", "uvloop")
    assert "uds_mode" not in config.DEFAULTS and "control_socket" not in config.DEFAULTS, "master-only settings"


def test_engine_refuses_an_unknown_or_mistyped_setting():
    import asyncio

    from esg import _esg

    loop = asyncio.new_event_loop()
    try:
        for settings, message in (({"prot": 5000}, "unknown setting 'prot'"),
                                  ({"limit_request_line": "8190"}, "'limit_request_line' must be an integer")):
            with pytest.raises(ValueError, match=message):
                _esg.Engine(lambda *args: None, loop, {**config.build({}, {}), **settings}, [], None)
    finally:
        loop.close()


def test_master_only_options_pass_to_the_master_and_are_named_where_there_is_none():
    assert config.master_only_in({"limit_worker_memory": 200, "metrics_bind": "", "port": 1}) == ["limit_worker_memory"]
    assert config.master_only_in({"limit_worker_lifetime": None}) == []
    args = config.cli_args({"limit_worker_memory": 200, "limit_worker_lifetime": 3600.0,
                            "metrics_bind": "127.0.0.1:9100"})
    assert args == ["--limit-worker-memory", "200", "--limit-worker-lifetime", "3600.0",
                    "--metrics-bind", "127.0.0.1:9100"]


def test_timeout_request_is_off_by_default_and_range_checked():
    assert config.DEFAULTS["timeout_request"] == 0
    config.check_options({"timeout_request": 0})
    config.check_options({"timeout_request": 2.5})
    assert config.cli_args({"timeout_request": 2.5}) == ["--timeout-request", "2.5"]
    assert config.cli_args({"timeout_request": 0}) == []
    for bad in (-1, float("nan"), float("inf"), "abc", True):
        with pytest.raises(ValueError, match=r"timeout_request=.*\(--timeout-request\)"):
            config.check_options({"timeout_request": bad})


def test_http2_settings_reach_the_worker_config_and_the_flags():
    assert config.DEFAULTS["http2"] is False and config.DEFAULTS["http2_max_concurrent_streams"] == 100
    built = config.build({"http2": True, "http2_max_concurrent_streams": 16}, {})
    assert built["http2"] is True and built["http2_max_concurrent_streams"] == 16
    assert config.cli_args({"http2": True, "http2_max_concurrent_streams": 16}) == [
        "--http2", "--http2-max-concurrent-streams", "16"]


@pytest.mark.parametrize("bad", [0, -1, 2**31, True, "8", 1.5])
def test_http2_max_concurrent_streams_is_checked_like_the_cli(bad):
    with pytest.raises(ValueError, match=r"http2_max_concurrent_streams=.* must be an integer from 1 to 2147483647 "
                                         r"\(--http2-max-concurrent-streams\)"):
        config.check_options({"http2_max_concurrent_streams": bad})
    config.check_options({"http2_max_concurrent_streams": 2**31 - 1})
