"""Unit test of split.py's arithmetic (the server vs framework+app split of tests/bench/run.py --callgrind):
pure functions on hand-made numbers, no valgrind, no server."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import split  # noqa: E402

CALIB = {"asgi-null": 5000, "asgi-send8": 5000 + 8 * 700, "asgi-null-r": 3400, "asgi-recv8": 3400 + 8 * 400,
         "wsgi-null": 2000, "wsgi-sr8": 2000 + 8 * 250}


def test_per_request_is_the_difference_over_n():
    assert split.per_request(1_000_000, 1_600_000, 300) == 2000


def test_driver_costs_per_call_from_the_8_call_apps():
    c = split.driver_costs(CALIB)
    assert c == {"asgi": 5000, "send": 700, "receive": 400, "wsgi": 2000, "start_response": 250}


def test_driver_costs_only_what_was_measured():
    c = split.driver_costs({k: v for k, v in CALIB.items() if k.startswith("wsgi")})
    assert c == {"wsgi": 2000, "start_response": 250}


def test_app_cost_subtracts_base_and_every_callback_call():
    c = split.driver_costs(CALIB)
    # 2 sends, 2 receives: 100,000 - 5,000 - 2 x 700 - 2 x 400
    assert split.app_cost("asgi", 100_000, {"send": 2, "receive": 2}, c) == 92_800
    assert split.app_cost("wsgi", 50_000, {"start_response": 1}, c) == 47_750
    # an app doing nothing but its callbacks comes out at zero
    assert split.app_cost("asgi", 5000 + 3 * 700, {"send": 3, "receive": 0}, c) == 0


def test_split_server_part_share_and_ratio_against_esg():
    totals = {("esg", "fastapi"): 120_000, ("uvicorn", "fastapi"): 160_000, ("granian", "fastapi"): 140_000,
              ("esg", "hello"): 15_000}
    rows = {(r["server"], r["workload"]): r for r in split.split(totals, {"fastapi": 100_000})}
    assert set(rows) == {("esg", "fastapi"), ("uvicorn", "fastapi"), ("granian", "fastapi")}  # hello: no app figure
    assert rows[("esg", "fastapi")]["server_part"] == 20_000
    assert rows[("uvicorn", "fastapi")]["server_part"] == 60_000
    assert rows[("uvicorn", "fastapi")]["server_share"] == 60_000 / 160_000
    assert rows[("uvicorn", "fastapi")]["esg_vs"] == 20_000 / 60_000
    assert rows[("granian", "fastapi")]["esg_vs"] == 0.5
    assert rows[("esg", "fastapi")]["esg_vs"] is None


def test_split_no_ratio_without_esg_or_with_a_non_positive_peer_part():
    rows = split.split({("uvicorn", "flask"): 90_000, ("granian", "flask"): 100_000}, {"flask": 100_000})
    assert [r["esg_vs"] for r in rows] == [None, None]
    rows = split.split({("esg", "flask"): 110_000, ("granian", "flask"): 100_000}, {"flask": 100_000})
    assert {r["server"]: r["esg_vs"] for r in rows} == {"esg": None, "granian": None}


def test_markdown_has_a_row_per_server_esg_first():
    rows = split.split({("uvicorn", "fastapi"): 160_000, ("esg", "fastapi"): 120_000}, {"fastapi": 100_000})
    m = {"n": 300, "costs": split.driver_costs(CALIB),
         "apps": {"fastapi": {"counts": {"send": 2, "receive": 0}, "app": 100_000}}}
    text = "\n".join(split.markdown(rows, m))
    assert "| fastapi | esg | 120,000 | 100,000 | 20,000 | 17% | – |" in text
    assert "| fastapi | uvicorn | 160,000 | 100,000 | 60,000 | 38% | 0.33 |" in text
    assert text.index("| fastapi | esg |") < text.index("| fastapi | uvicorn |")
