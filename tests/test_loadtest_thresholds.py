"""Load-test thresholds: parsing k6-like expressions and judging recorded Locust statistics.

Statistics are built offline the way Locust's own ``test_stats.py`` does: synthetic requests
fed into ``locust.stats.RequestStats``; then written with Locust's ``save_stats_json`` (what
``--json-file`` writes) and read back by the harness.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtests.locust_stats import stats_module
from loadtests.results import load_locust_stats, per_second_rps, stats_summary, write_junit
from loadtests.thresholds import (
    Threshold,
    ThresholdError,
    evaluate,
    merge_thresholds,
    parse_threshold,
    slo_thresholds,
)
from simulator.scenario import load_scenario

RequestStats = stats_module().RequestStats
save_stats_json = stats_module().save_stats_json

ORDERS = "POST /marketplace/v1/orders"
LIST = "POST /v3/posting/fbs/list"


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit", "endpoint"),
    [
        ("p95<200ms", "p95", "<", 200, None),
        ("p99 < 0.5s", "p99", "<", 500, None),
        ("p(99.9)<=2s", "p99.9", "<=", 2000, None),
        ("avg<80", "avg", "<", 80, None),
        ("median<50ms", "p50", "<", 50, None),
        ("max<2s", "max", "<", 2000, None),
        ("errors<0.1%", "errors", "<", 0.001, None),
        ("errors<=0.01", "errors", "<=", 0.01, None),
        ("rps>=500", "rps", ">=", 500, None),
        ("rps>=500/s", "rps", ">=", 500, None),
        ("requests>1000", "requests", ">", 1000, None),
        ("POST /marketplace/v1/orders: p95<150ms", "p95", "<", 150, ORDERS),
        ("post   /marketplace/v1/orders :errors<1%", "errors", "<", 0.01, ORDERS),
        ("/v3/product/list: p99<1s", "p99", "<", 1000, "/v3/product/list"),
    ],
)
def test_parse_good_expressions(text, metric, op, limit, endpoint):
    t = parse_threshold(text)
    assert (t.metric, t.op, t.endpoint) == (metric, op, endpoint)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not of the form"),
        ("p95", "not of the form"),
        ("p95 200ms", "not of the form"),
        ("p95<abc", "not of the form"),
        ("p95==200", "operator"),
        ("p95!=200", "operator"),
        ("p95<200kg", "latency takes"),
        ("p100<200", "between 0 and 100"),
        ("latency<200", "unknown metric"),
        ("errors<5", "percentage"),
        ("errors<200%", "between 0% and 100%"),
        ("errors<1ms", "errors take"),
        ("rps>=5ms", "rps takes"),
        ("requests>5s", "count"),
        ("p95<-3ms", "negative"),
        ("orders: p95<200", "endpoint"),
        ("FETCH /x: p95<200", "endpoint"),
    ],
)
def test_parse_bad_expressions_name_the_problem(text, why):
    with pytest.raises(ThresholdError, match=why):
        parse_threshold(text)


@given(
    metric=st.sampled_from(["p50", "p90", "p95", "p99", "p99.9", "avg", "max", "min"]),
    op=st.sampled_from(["<", "<=", ">", ">="]),
    limit=st.floats(0, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
    endpoint=st.sampled_from([None, ORDERS, "/v3/product/list"]),
)
def test_label_parses_back_to_the_same_threshold(metric, op, limit, endpoint):
    t = Threshold(metric, op, limit, endpoint)
    assert parse_threshold(t.label) == t


def test_scenario_slo_becomes_thresholds_and_cli_overrides(smoke_path):
    slo = load_scenario(smoke_path).slo
    scenario = slo_thresholds(slo)
    assert [t.label for t in scenario] == ["p95<=500ms", "p99<=1500ms", "errors<=1%"]
    assert {t.source for t in scenario} == {"scenario"}
    merged = merge_thresholds(scenario, [parse_threshold("p95<0.001ms"),
                                         parse_threshold(f"{ORDERS}: p95<150ms")])
    assert [t.label for t in merged] == ["p99<=1500ms", "errors<=1%", "p95<0.001ms",
                                         f"{ORDERS}: p95<150ms"]


# --------------------------------------------------------------------------- evaluation


def recorded_stats() -> RequestStats:
    """200 orders (2 failed) of 10..209 ms and 100 list calls of 5 ms, as Locust records them."""
    stats = RequestStats()
    for i in range(200):
        stats.log_request("POST", ORDERS, 10 + i, 100)
    stats.log_error("POST", ORDERS, "HTTPError 500")
    stats.log_error("POST", ORDERS, "HTTPError 500")
    for _ in range(100):
        stats.log_request("POST", LIST, 5, 2000)
    return stats


def judged(texts: list[str], stats: RequestStats) -> dict[str, tuple[float | None, bool]]:
    results = evaluate([parse_threshold(t) for t in texts], stats)
    return {r.threshold.label: (r.measured, r.passed) for r in results}


def test_evaluation_against_recorded_stats():
    stats = recorded_stats()
    out = judged(
        ["p95<250ms", "p95<150ms", "p50<100ms", "errors<1%", "max<300", "requests>=300",
         f"{ORDERS}: p95<150ms", f"{ORDERS}: p50<=110", f"{ORDERS}: errors<=1%",
         f"{LIST}: p99<=5ms", "POST /orders: failures<3", "/v3/posting/fbs/list: avg<6"],
        stats,
    )
    total = stats.total
    # overall: 300 requests; the 95th percentile is Locust's, from its histogram
    p95 = total.get_response_time_percentile(0.95)
    assert 190 <= p95 <= 210  # 10..209 ms are the slowest 200 of 300
    assert out["p95<250ms"] == (p95, True)
    assert out["p95<150ms"] == (p95, False)
    assert out["p50<100ms"] == (total.get_response_time_percentile(0.5), True)
    assert out["errors<1%"] == (pytest.approx(2 / 300), True)
    assert out["max<300ms"] == (209, True)
    assert out["requests>=300"] == (300, True)
    # per endpoint: 10..209 ms
    orders = stats.get(ORDERS, "POST")
    assert out[f"{ORDERS}: p95<150ms"] == (orders.get_response_time_percentile(0.95), False)
    assert out[f"{ORDERS}: p50<=110ms"] == (orders.get_response_time_percentile(0.5), True)
    assert out[f"{ORDERS}: errors<=1%"] == (pytest.approx(0.01), True)
    assert out[f"{LIST}: p99<=5ms"] == (5, True)
    assert out["POST /orders: failures<3"] == (2, True)  # a path suffix names one endpoint
    assert out["/v3/posting/fbs/list: avg<6ms"] == (5, True)


def test_missing_or_ambiguous_endpoint_fails_with_a_note():
    stats = recorded_stats()
    stats.log_request("GET", "GET /marketplace/v1/orders", 3, 10)
    results = evaluate([parse_threshold("POST /v9/nothing: p95<1s"),
                        parse_threshold("/orders: p95<1s")], stats)
    assert [r.passed for r in results] == [False, False]
    assert "no requests" in results[0].note
    assert "ambiguous" in results[1].note and ORDERS in results[1].note


def test_rps_uses_the_recorded_time_span():
    stats = RequestStats()
    stats.log_request("POST", ORDERS, 12, 1)
    for _ in range(99):
        stats.log_request("POST", ORDERS, 12, 1)
    stats.total.start_time -= 10  # the run started 10 s before the last request
    (measured, passed), = judged(["rps>=5"], stats).values()
    assert measured == pytest.approx(100 / 10, rel=0.01) and passed


def test_no_requests_at_all_fails_every_threshold():
    results = evaluate([parse_threshold("errors<1%")], RequestStats())
    assert not results[0].passed and results[0].measured is None


# --------------------------------------------------------------------------- recorded files


def test_locust_json_file_round_trips(tmp_path: Path):
    stats = recorded_stats()
    qs = (0.5, 0.95, 0.99)
    expected = {(name, q): stats.get(name, "POST").get_response_time_percentile(q)
                for name in (ORDERS, LIST) for q in qs}
    expected_total = {q: stats.total.get_response_time_percentile(q) for q in qs}
    save_stats_json(stats, str(tmp_path / "locust_stats"))  # what --json-file writes
    loaded = load_locust_stats(tmp_path / "locust_stats.json")
    assert loaded.total.num_requests == 300 and loaded.total.num_failures == 2
    for q in qs:
        assert loaded.total.get_response_time_percentile(q) == expected_total[q]
        for name in (ORDERS, LIST):
            assert loaded.get(name, "POST").get_response_time_percentile(q) == expected[name, q]
    summary = stats_summary(loaded)
    assert [e["name"] for e in summary["endpoints"]] == [ORDERS, LIST]
    assert summary["total"]["p95_ms"] == expected_total[0.95]


@settings(max_examples=40, deadline=None)
@given(times=st.lists(st.integers(0, 30_000), min_size=1, max_size=300))
def test_reloaded_percentiles_equal_locusts(tmp_path_factory, times):
    stats = RequestStats()
    for t in times:
        stats.log_request("GET", "GET /x", t, 0)
    path = tmp_path_factory.mktemp("stats") / "s"
    save_stats_json(stats, str(path))
    loaded = load_locust_stats(Path(f"{path}.json"))
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        assert loaded.total.get_response_time_percentile(q) == \
            stats.total.get_response_time_percentile(q)


def test_junit_has_one_testcase_per_threshold_and_names_breaches(tmp_path: Path):
    results = evaluate([parse_threshold("p95<250ms"), parse_threshold(f"{ORDERS}: p95<150ms")],
                       recorded_stats())
    path = write_junit(results, tmp_path / "junit.xml", suite="peakline.loadtest.smoke",
                       seconds=12.5, properties={"rps": 42})
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["p95<250ms", f"{ORDERS}: p95<150ms"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith(f"{ORDERS}: p95<150ms breached: measured 2")


def test_per_second_throughput_from_locusts_counts():
    stats = RequestStats()
    entry = stats.total
    entry.num_reqs_per_sec.update({100: 3, 101: 10, 102: 12, 103: 11, 104: 50, 105: 2})
    out = per_second_rps(entry)  # 100 and 105 are partial seconds
    assert out["median"] == 12 and out["best_10s"] == pytest.approx((10 + 12 + 11 + 50) / 4)
