"""``peakline loadtest`` end to end: the real reference backend, real Locust, the exit-code gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadtests.arrivals import order_stream
from loadtests.cli import parse_duration
from peakline.cli import app
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def peakline(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``peakline ARGS`` (seeding and starting a backend takes a minute or two on a busy
    machine: the timeout is for a hang, not for speed)."""
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "peakline", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("15s", 15), ("5m", 300),
                                               ("1m30s", 90), ("1h", 3600), ("2.5s", 2.5)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "fast", "0s", "-5s", "5x"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-T", "p95<<200ms"], "not of the form"),
        (["-T", "errors<5"], "percentage"),
        (["--duration", "soon"], "duration"),
        (["--shape", "zigzag"], "--shape"),
        (["--host", "127.0.0.1:8000"], "not an http(s) URL"),
        (["--host", "http://127.0.0.1:9"], "--credentials"),
        (["--no-scenario-slo"], "no thresholds"),
        (["--remote-workers", "2"], "--remote-workers needs --host"),
        (["--host", "http://127.0.0.1:9", "--ozon-rate-limits"], "PEAKLINE_OZON_RATE_LIMITS"),
        (["--master-bind", "5557"], "not HOST:PORT"),
        (["--time-budget", "later"], "duration"),
        (["--model", "zigzag"], "--model"),
        (["--model", "open", "--shape", "flat"], "goes with --shape curve"),
    ],
)
def test_bad_input_exits_2_before_starting_anything(smoke_path, tmp_path, args, message):
    result = CliRunner().invoke(app, ["loadtest", str(smoke_path), "--out", str(tmp_path),
                                      *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "summary.json").exists()


def test_broken_scenario_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nclock: {horizon_hours: -1}\n")
    result = CliRunner().invoke(app, ["loadtest", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "clock.horizon_hours" in result.output


@pytest.mark.slow
def test_fifteen_second_run_passes_and_writes_every_report(smoke_path, tmp_path):
    out = tmp_path / "out"
    done = peakline("loadtest", str(smoke_path), "--model", "closed", "--duration", "15s",
                    "--users", "12", "--think", "0.5", "--out", str(out), "-T", "errors<1%",
                    "-T", "POST /marketplace/v1/orders: p99<3s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout and "FAIL" not in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] is True and summary["breaches"] == []
    assert summary["backend"] == {"started": True, "database": "sqlite", "uvicorn_workers": 1}
    names = {e["name"] for e in summary["stats"]["endpoints"]}
    assert {"POST /marketplace/v1/orders", "POST /v4/posting/fbs/ship"} <= names
    assert summary["stats"]["total"]["requests"] > 50
    assert summary["stats"]["total"]["failures"] == 0, summary["failures"]
    assert summary["outcomes"]["orders_created"] > 0
    assert summary["outcomes"].get("idempotency_violations", 0) == 0
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == len(summary["thresholds"]) == 4  # 2 slo + 2 cli
    for name in ("locust.html", "locust_stats.csv", "locust_failures.csv",
                 "locust_stats_history.csv", "report.html"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.slow
def test_impossible_threshold_with_two_workers_exits_1_naming_the_breach(smoke_path, tmp_path):
    out = tmp_path / "out"
    done = peakline("loadtest", str(smoke_path), "--model", "closed", "--duration", "6s",
                    "--users", "8", "--workers", "2", "--think", "0.5", "--out", str(out),
                    "-T", "p95<0.001ms")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL: 1 threshold(s) breached: p95<0.001ms" in " ".join(done.stdout.split())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["breaches"] == ["p95<0.001ms"] and summary["workers"] == 2
    assert summary["outcomes"]["orders_created"] > 0  # counted by the workers, summed by master
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    failed = {c.get("name"): c.find("failure") for c in cases}
    assert failed["p95<0.001ms"] is not None
    assert "p95<0.001ms breached" in failed["p95<0.001ms"].get("message", "")
    assert failed["errors<=1%"] is None


@pytest.mark.slow
def test_ozon_rate_limits_count_throttled_requests_apart_from_errors(smoke_path, tmp_path):
    """A backend that throttles like Ozon: its 429s are 'throttled' rows and outcomes; the
    run passes its error threshold. (The load is well past one worker's capacity, so the
    latency thresholds are loosened: a busy CI machine put p95 at 520 ms.)"""
    out = tmp_path / "out"
    done = peakline("loadtest", str(smoke_path), "--duration", "8s", "--users", "40",
                    "--think", "0.02", "--shape", "flat", "--ozon-rate-limits",
                    "-T", "p95<=10000ms", "-T", "p99<=20000ms", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["outcomes"]["throttled"] > 0
    stats = (out / "locust_stats.csv").read_text()
    assert " (429)" in stats
    assert "HTTP 429" not in (out / "locust_failures.csv").read_text()


@pytest.mark.slow
def test_open_model_sends_every_order_of_the_stream_across_two_workers(smoke_path, tmp_path):
    """The smoke day's orders (about 1,900) in 8 s, split across two Locust workers: each
    sent once, latency from the scheduled time in exact (HDR) percentiles."""
    orders = len(order_stream(load_scenario(smoke_path), 1, duration_s=8))  # simulate's seed
    out = tmp_path / "out"
    done = peakline("loadtest", str(smoke_path), "--duration", "8s", "--workers", "2",
                    "--out", str(out), "-T", "errors<1%", "-T", "p99<60s", "--no-scenario-slo",
                    timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    sent = summary["open_model"]
    assert sent["scheduled"] == sent["sent"] == orders and sent["unanswered"] == 0
    outcomes = summary["outcomes"]
    assert outcomes["orders_created"] + outcomes.get("orders_out_of_stock", 0) == orders
    assert summary["stats"]["latency_source"] == "hdr"
    total = summary["stats"]["total"]
    assert total["requests"] == orders
    assert total["p50_ms"] <= total["p99_ms"] <= total["max_ms"]
    assert sent["lag"]["count"] == orders
    assert "orders sent on schedule" in " ".join(done.stdout.split())
