"""The open model against a real backend at capacity: latency grows as queueing theory says.

A real ``peakline serve`` (uvicorn, SQLite) runs with the ``serial`` fault: every request
passes a gate one at a time, holding it ``D`` ms, a deterministic single server of capacity
``1000 / D`` requests/s. ``peakline loadtest --model open`` sends a small scenario's orders
on schedule; during the evening spike they arrive faster than the gate lets them through.
Lindley's recursion on the very send times (``W[n+1] = max(0, W[n] + D - gap[n])``) gives
each order's wait; the measured latency (from the scheduled time, HDR percentiles) must
follow it. A closed-loop generator would have waited for each answer and reported about
``D`` throughout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loadtests.arrivals import order_stream
from reference_backend.faults import FaultProfile
from simulator.scenario import load_scenario
from tests.backend_support import SMOKE, seeded_sqlite, start_server

ROOT = Path(__file__).resolve().parent.parent
SERVICE_S, DURATION_S, SEED = 0.100, 15.0, 1
#: the gate's sleep overshoots on a loaded machine: a service of up to this times D fits
OVERSHOOT = 1.3


def lindley_latency(send_s: np.ndarray, service_s: float) -> np.ndarray:
    """Each request's wait plus its service at a deterministic single server (FIFO)."""
    arrivals = np.sort(send_s)
    wait = np.zeros(len(arrivals))
    for i in range(1, len(arrivals)):
        wait[i] = max(0.0, wait[i - 1] + service_s - (arrivals[i] - arrivals[i - 1]))
    return wait + service_s


def test_lindley_recursion_on_a_hand_checked_sequence():
    latency = lindley_latency(np.array([0.0, 0.01, 0.02, 1.0]), 0.05)
    assert np.allclose(latency, [0.05, 0.09, 0.13, 0.05])


@pytest.mark.slow
def test_open_latency_follows_the_queue_of_a_backend_at_capacity(tmp_path):
    scenario = tmp_path / "quiet-smoke.yaml"  # a twentieth of smoke's orders: ~80 in 15 s
    scenario.write_text(SMOKE.read_text().replace("baseline_orders_per_hour: 60",
                                                  "baseline_orders_per_hour: 3"))
    stream = order_stream(load_scenario(scenario), SEED, duration_s=DURATION_S)
    low = np.percentile(lindley_latency(stream.send_s, SERVICE_S), [50, 95, 99])
    high = np.percentile(lindley_latency(stream.send_s, OVERSHOOT * SERVICE_S), [50, 95, 99])
    assert low[2] > 10 * SERVICE_S  # the spike overloads the gate: a real queue

    url, creds = seeded_sqlite(tmp_path, scenario=scenario)
    credentials = tmp_path / "creds.json"
    credentials.write_text(json.dumps(creds))
    profile = FaultProfile(name="at capacity", serial={"rate": 1.0,
                                                       "delay_ms": int(SERVICE_S * 1000)})
    server = start_server(url, env={"PEAKLINE_OZON_FAULTS": profile.model_dump_json()})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "peakline", "loadtest", str(scenario), "--host",
             server.base_url, "--credentials", str(credentials), "--model", "open",
             "--seed", str(SEED), "--duration", f"{DURATION_S:g}s", "-T", "p99<60s",
             "--no-scenario-slo", "--out", str(tmp_path / "out")],
            cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    total, sent = summary["stats"]["total"], summary["open_model"]
    assert sent["sent"] == sent["scheduled"] == len(stream) and total["failures"] == 0
    measured = np.array([total["p50_ms"], total["p95_ms"], total["p99_ms"]]) / 1000
    # the queue is there, as deep as Lindley says for a service of D (the least it can be)
    # to 1.3 D, plus the backend's own work outside the gate (0.3 s at most)
    assert np.all(measured[1:] >= 0.9 * low[1:]), (measured, low)
    assert np.all(measured <= high + 0.3), (measured, high)
    assert measured[2] > 8 * SERVICE_S  # what a closed loop (about D each) would hide
