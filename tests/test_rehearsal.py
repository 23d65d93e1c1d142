"""``peakline rehearse``: the gate's grammar, the ledger's measures, and whole rehearsals of the
reference integration (examples/reference_integration.py) against the real backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from loadtests.arrivals import order_stream
from loadtests.rehearsal.gate import DEFAULTS, evaluate, parse
from loadtests.rehearsal.ledger import Ledger, PostingTrack
from loadtests.rehearsal.proxy import posting_numbers
from loadtests.thresholds import ThresholdError
from peakline.cli import app
from simulator.model import Simulation
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = f"{sys.executable} {ROOT / 'examples' / 'reference_integration.py'}"


@pytest.mark.parametrize(("text", "metric", "limit"), [
    ("late_shipments<0.5%", "late_shipments", 0.005), ("throttled<=0.01", "throttled", 0.01),
    ("first_seen_p95<60s", "first_seen_p95", 60), ("first_seen_p95<2m", "first_seen_p95", 120),
    ("ship_p99<1500ms", "ship_p99", 1.5), ("unshipped<=0", "unshipped", 0),
])
def test_thresholds_parse_in_the_load_tests_grammar(text, metric, limit):
    t = parse(text)
    assert (t.metric, t.limit) == (metric, pytest.approx(limit))
    assert parse(t.label).limit == pytest.approx(t.limit)


@pytest.mark.parametrize(("text", "why"), [
    ("late_shipments<5", "percentage"), ("first_seen_p95<60kg", "ms, s, m or h"),
    ("speed>3", "unknown measure"), ("POST /x: p95<1s", "METRIC OP VALUE"),
    ("unshipped<1%", "count"),
])
def test_bad_thresholds_name_the_problem(text, why):
    with pytest.raises(ThresholdError, match=why):
        parse(text)


MEASURES = {"late_shipments": 0.004, "first_seen_p95": 12.0, "throttled": 0.02,
            "errors": 0.0, "unshipped": 3, "ship_p99": None}


@pytest.mark.parametrize(("text", "passed"), [
    ("late_shipments<0.5%", True), ("late_shipments<0.3%", False),
    ("first_seen_p95<60s", True), ("first_seen_p95<10s", False),
    ("throttled<1%", False), ("throttled<5%", True), ("errors<1%", True),
    ("errors>1%", False), ("unshipped<=3", True), ("unshipped<3", False),
    ("ship_p99<10s", False),  # nothing shipped: nothing measured fails
])
def test_each_threshold_passes_and_fails(text, passed):
    [result] = evaluate([parse(text)], MEASURES)
    assert result.passed is passed


def test_late_means_shipped_after_the_deadline_or_not_shipped_by_it():
    ledger = Ledger()
    ledger.postings = {
        "a": PostingTrack(0, 10, first_seen_at=1, shipped_at=5, label_at=6),
        "b": PostingTrack(0, 10, first_seen_at=9, shipped_at=12),
        "c": PostingTrack(5, 15),  # not shipped, deadline passed at the end (20)
        "d": PostingTrack(18, 40),  # not shipped, not due yet: not counted either way
    }
    ledger.ended_at = 20.0
    m = ledger.measures()
    assert m["late_count"] == 2 and m["late_shipments"] == pytest.approx(2 / 3)
    assert m["unshipped"] == 2 and m["never_seen"] == 2
    assert m["labels_missing"] == pytest.approx(1 / 2)
    assert m["first_seen_max"] == 9
    series = ledger.series()
    assert [series["waiting"][s] for s in (4, 13, 19)] == [2, 1, 2]
    assert series["late"][11] == 1 and series["late"][20] == 2


def test_the_proxy_finds_posting_numbers_anywhere_in_an_answer():
    answer = {"result": {"postings": [{"posting_number": "1-1", "products": []},
                                      {"posting_number": "2-1", "x": {"posting_number": "3"}}]}}
    assert posting_numbers(answer) == {"1-1", "2-1", "3"}


def test_a_window_replays_the_simulators_orders_of_those_hours(smoke_path):
    smoke = load_scenario(smoke_path)
    sim = Simulation(smoke, seed=3).arrivals
    stream = order_stream(smoke, 3, speed=720, window=(12 * 60, 14 * 60))
    inside = (sim.time >= 720) & (sim.time < 840)
    assert len(stream) == int(inside.sum())
    np.testing.assert_allclose(stream.send_s, (sim.time[inside] - 720) * 60 / 720)
    assert stream.duration_s == pytest.approx(10)
    regions = np.bincount(stream.region, minlength=2)
    assert regions.tolist() == np.bincount(sim.region[inside], minlength=2).tolist()


@pytest.mark.parametrize(("args", "message"), [
    ([], "--integration"),
    (["--integration", "true"], "one of --duration"),
    (["--integration", "true", "--speed", "48", "--duration", "1m"], "one of --duration"),
    (["--integration", "true", "--speed", "48", "-T", "late<1%"], "unknown measure"),
    (["--integration", "true", "--speed", "48", "--window", "22h-18h"], "--window"),
    (["--integration", "true", "--integration-url", "http://127.0.0.1:9/health",
      "--speed", "48"], "one of --integration"),
    (["--integration-url", "127.0.0.1:9/health", "--speed", "48"], "not an http(s) URL"),
    (["--integration", "true", "--push-url", "push", "--speed", "48"], "--push-url"),
    (["--integration", "true", "--listen", "8080", "--speed", "48"], "not HOST:PORT"),
    (["--integration", "true", "--credentials", "c.json", "--speed", "48"], "needs --db"),
])
def test_bad_input_exits_2(smoke_path, tmp_path, args, message):
    result = CliRunner().invoke(app, ["rehearse", str(smoke_path), "--out", str(tmp_path),
                                      *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def rehearse(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "peakline", "rehearse", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_an_integration_that_dies_exits_3(smoke_path, tmp_path):
    done = rehearse(str(smoke_path), "--integration", "echo starting; exit 7", "--speed", "4320",
                    "--window", "12h-13h", "--out", str(tmp_path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "exited with code 7" in " ".join(done.stderr.split())


@pytest.mark.slow
@pytest.mark.timeout(300)  # two whole rehearsals (~50 s in CI): tests/conftest.py runs it early
@pytest.mark.parametrize(("poll", "passes"), [("1", True), ("60", False)])
def test_the_gate_tells_a_keeping_up_integration_from_a_slow_one(smoke_path, tmp_path, poll,
                                                                 passes):
    """An hour of the smoke day (about 80 orders) in under a second at 4320x: shipment
    deadlines of 20 s. Polling every second ships all in time; polling every minute ships
    none in time."""
    out = tmp_path / "out"
    done = rehearse(str(smoke_path), "--integration", f"{INTEGRATION} --poll {poll}",
                    "--speed", "4320", "--window", "12h-13h", "--out", str(out))
    assert done.returncode == (0 if passes else 1), done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    m = summary["measures"]
    assert m["orders"] == summary["orders_scheduled"] > 40
    assert m["postings"] >= m["orders_placed"] > 0
    if passes:
        assert m["late_shipments"] == 0 and m["shipped"] == m["postings"]
        assert m["labels_missing"] == 0 and m["first_seen_p95"] < 20
    else:
        assert m["late_shipments"] == 1.0
        assert summary["breaches"] == ["late_shipments<0.5%"] or (
            "late_shipments<0.5%" in summary["breaches"])
    cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot().iter("testcase")}
    assert set(cases) == set(DEFAULTS)
    assert (cases["late_shipments<0.5%"].find("failure") is None) is passes
    html = (out / "report.html").read_text()
    assert "plot-backlog" in html and ("PASS" if passes else "FAIL") in html


@pytest.mark.slow
def test_faults_are_injected_at_their_rates_and_reported_beside_the_results(smoke_path,
                                                                            tmp_path):
    profile = tmp_path / "slow-day.yaml"
    profile.write_text("name: slow day\nseed: 2\nslow: {rate: 0.5, delay_ms: 100}\n"
                       "throttle_storms: {rate: 0.05, burst: 2}\n")
    out = tmp_path / "out"
    done = rehearse(str(smoke_path), "--integration", f"{INTEGRATION} --poll 1",
                    "--speed", "4320", "--window", "12h-13h", "--ozon-faults", str(profile),
                    "-T", "late_shipments<0.5%", "-T", "throttled>1%", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "faults injected: slow" in " ".join(done.stdout.split())
    summary = json.loads((out / "summary.json").read_text())
    faults = summary["faults"]
    assert faults["profile"] == "slow day"
    slow, storms = faults["kinds"]["slow"], faults["kinds"]["throttle_storms"]
    assert slow["of"] == summary["measures"]["requests"] > 50
    assert 0.3 <= slow["share"] <= 0.7  # 0.5 of what the storms let through
    assert 0 < storms["injected"] <= summary["measures"]["throttled_count"]
    assert "faults-table" in (out / "report.html").read_text()
