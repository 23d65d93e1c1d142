"""The expected size of a run: close to a real run, printed by validate, enforced by simulate."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from peakline.cli import app
from peakline.common import duration_seconds, memory_size
from simulator.demand import DemandCurve, build_skus, draw_shock
from simulator.model import Simulation
from simulator.planning import PILOT_REPS, planning_runs
from simulator.scenario import load_scenario
from simulator.sizing import (
    FIXED_BYTES,
    Workload,
    available_memory,
    estimate,
    expected_orders,
    shock_quantile,
)

from .conftest import ROOT


def _squeezed(text: str) -> str:
    """``text`` without white space and table borders (the console wraps long lines)."""
    return "".join(text.replace("│", " ").split())


def test_estimate_is_close_to_a_run(smoke_path) -> None:
    scenario = load_scenario(smoke_path)
    size = estimate(scenario)
    sim = Simulation(scenario, 1)
    assert abs(sim.arrivals.count - size.orders) < 5 * math.sqrt(size.orders)
    assert sim.arrivals.sku.size == pytest.approx(size.lines, rel=0.1)
    assert size.pairs == 100 and size.run_hours == 72
    sim.run()
    simpy_events = next(sim.env._eid)  # SimPy numbers every event it schedules
    assert size.events / 4 < simpy_events < size.events * 4, (size.events, simpy_events)


MEASURE = """
import json, sys, time
from simulator.model import Simulation
from simulator.planning import PILOT_REPS, planning_runs
from simulator.scenario import load_scenario
from simulator.sizing import estimate

def status(key):  # this process's own figures (ru_maxrss would count the forking parent's)
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024

scenario = load_scenario(sys.argv[1]).with_overrides(**json.loads(sys.argv[2]))
before, began = status("VmRSS"), time.process_time()
Simulation(scenario, 1).run()
used, cpu = status("VmHWM") - before, time.process_time() - began
size = estimate(scenario)
print(json.dumps({"used": used, "estimate": size.memory_bytes, "cpu": cpu,
                  "cpu_estimate": size.cpu_seconds}))
"""


def test_memory_and_cpu_estimates_against_a_measured_run(smoke_path) -> None:
    """Peak resident memory and CPU time of a ~90,000-order run in a fresh process, against
    the estimates (CPU on a shared machine: a wide band)."""
    changes = {"demand.baseline_orders_per_hour": 3000}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(smoke_path), json.dumps(changes)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["used"] <= figures["estimate"] <= 3 * figures["used"], figures
    assert figures["cpu"] / 2 <= figures["cpu_estimate"] <= 4 * figures["cpu"], figures


def test_validate_prints_the_size(smoke_path) -> None:
    result = CliRunner().invoke(app, ["validate", str(smoke_path)])
    assert result.exit_code == 0
    text = _squeezed(result.output)
    assert _squeezed("expected run") in text and "orders(" in text and "scheduledevents" in text
    assert "memory" in text and ("availablenow:fits" in text or available_memory() is None)


def test_simulate_refuses_a_run_over_the_limit(tmp_path, smoke_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(smoke_path), "--out", str(out),
                                      "--no-report", "--max-memory", "1MB"])
    assert result.exit_code == 2
    text = _squeezed(result.output)
    assert "scenariosmokeneedsabout" in text and "thelimitis1.0MB" in text
    assert "--max-memory" in text and not out.exists()


def test_simulate_refuses_what_the_machine_cannot_hold(tmp_path, smoke_path) -> None:
    """A year of ten million orders an hour: terabytes, more than any machine has free."""
    big = load_scenario(smoke_path).with_overrides(
        **{"clock.horizon_hours": 8000, "demand.baseline_orders_per_hour": 10_000_000})
    path = tmp_path / "huge.yaml"
    path.write_text(json.dumps(big.model_dump(by_alias=True)), encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "thismachinehasavailable" in _squeezed(result.output)
    assert estimate(big).memory_bytes > 10 * 2**40


@pytest.mark.parametrize(("text", "size"), [("8GB", 8 * 2**30), ("512 MB", 512 * 2**20),
                                            ("1.5G", int(1.5 * 2**30)), ("100", 100),
                                            ("2KiB", 2048)])
def test_memory_sizes(text: str, size: int) -> None:
    assert memory_size(text) == size


def test_bad_memory_size_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="not a size"):
        memory_size("lots")


@pytest.mark.parametrize("hours", [24, 20.3])
def test_expected_orders_is_the_demand_curve_integrated(smoke_path, hours: float) -> None:
    """The estimate integrates the rate without DemandCurve's table: both must agree."""
    scenario = load_scenario(smoke_path).with_overrides(**{
        "clock.horizon_hours": hours,
        "demand.peaks": [
            {"name": "all", "start_hour": 3.01, "duration_hours": 9, "multiplier": 2.5},
            {"name": "promo", "start_hour": 5, "duration_hours": 30, "multiplier": 4,
             "sku_groups": ["home", "home"]},
            {"name": "dip", "start_hour": 10.5, "duration_hours": 2, "multiplier": 0.5,
             "sku_groups": ["electronics"]},
        ]})
    skus = build_skus(scenario.catalogue)
    curve = DemandCurve(scenario, skus)
    exact = curve.expected_orders(np.array([0.0, scenario.clock.horizon_minutes]))[0]
    assert expected_orders(scenario, skus.group_mass()) == pytest.approx(exact, rel=1e-12)


def test_estimate_of_a_busy_year_is_quick(smoke_path) -> None:
    """A year with 1,000 promotions of 100 groups: seconds, not the run's 400 MB table."""
    groups = [{"name": f"g{i}", "share": 0.01, "price_rub": [100, 200]} for i in range(100)]
    peaks = [{"name": f"p{i}", "start_hour": i * 8, "duration_hours": 24 * 30, "multiplier": 1.001,
              "sku_groups": [f"g{j}" for j in range(i % 100)] or None} for i in range(1000)]
    scenario = load_scenario(smoke_path).with_overrides(**{
        "clock.horizon_hours": 8760, "catalogue.groups": groups, "demand.peaks": peaks})
    began = time.perf_counter()
    size = estimate(scenario)
    assert time.perf_counter() - began < 10
    assert size.orders > 60 * 8760 and size.memory_bytes > 100 * 8760 * 60 * 24


def test_memory_allows_for_a_demand_shock(smoke_path) -> None:
    """A replication draws its demand factor anew: memory is sized for the 99th percentile of
    the factor the model draws (checked against 20,000 of the model's own draws)."""
    plain = load_scenario(smoke_path).with_overrides(**{"demand.baseline_orders_per_hour": 3000})
    shocked = plain.with_overrides(**{"demand.shock": {"cv": 0.5}})
    rng = np.random.default_rng(7)
    draws = np.array([draw_shock(shocked, rng)[0, 0] for _ in range(20_000)])
    assert np.mean(draws > shock_quantile(shocked)) == pytest.approx(0.01, abs=0.003)
    assert estimate(shocked).orders == pytest.approx(estimate(plain).orders)
    assert estimate(shocked).memory_bytes > 1.5 * estimate(plain).memory_bytes - FIXED_BYTES


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("2h", 7200), ("45 s", 45),
                                               ("1.5h", 5400), ("30", 30), ("10min", 600)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


def test_bad_duration_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="not a duration"):
        duration_seconds("soon")


def test_a_workload_runs_jobs_at_once(smoke_path) -> None:
    size = estimate(load_scenario(smoke_path))
    work = Workload.of([size] * 10, jobs=4)
    assert work.at_once == 4 and work.memory_bytes == 4 * size.memory_bytes
    assert work.cpu_seconds == pytest.approx(10 * size.cpu_seconds)
    assert Workload.of([size] * 3, jobs=8).at_once == 3  # never more at once than runs


def test_validate_prints_the_time(smoke_path) -> None:
    result = CliRunner().invoke(app, ["validate", str(smoke_path)])
    assert result.exit_code == 0
    assert "ofCPUareplication" in _squeezed(result.output)


def test_simulate_refuses_a_run_over_the_time_limit(tmp_path, smoke_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(smoke_path), "--out", str(out),
                                      "--max-time", "0.01s"])
    assert result.exit_code == 2, result.output
    text = _squeezed(result.output)
    assert "scenariosmokewouldtakeabout" in text and "longerthanthelimitof0s" in text
    assert "--max-time" in text and not out.exists()


def test_compare_counts_the_runs_side_by_side_for_memory(tmp_path, smoke_path) -> None:
    one = estimate(load_scenario(smoke_path)).memory_bytes
    limit = f"{1.5 * one / 2**20:.0f}MB"  # one run fits, two at once do not
    args = ["compare", str(smoke_path), "--allocation", "nearest_with_stock,least_cost",
            "--reps", "3", "--out", str(tmp_path / "out"), "--max-memory", limit]
    result = CliRunner().invoke(app, [*args, "--jobs", "2"])
    assert result.exit_code == 2, result.output
    text = _squeezed(result.output)
    assert "2runsatonce" in text and "lower--jobs" in text and "--max-memory" in text
    # on one process it fits; then the time limit (6 runs) is what refuses it
    result = CliRunner().invoke(app, [*args, "--jobs", "1", "--max-time", "0.1s"])
    assert result.exit_code == 2, result.output
    assert "6runs" in _squeezed(result.output) and not (tmp_path / "out").exists()


def test_plan_stock_refuses_a_plan_over_the_time_limit(tmp_path, smoke_path) -> None:
    size = estimate(load_scenario(smoke_path))
    runs = planning_runs(reps=5, rounds=2, validate_reps=6)
    assert runs == PILOT_REPS + 3 * 5 + 6
    limit = runs * size.cpu_seconds / 2  # half the plan's CPU on one process
    result = CliRunner().invoke(app, ["plan-stock", str(smoke_path), "--reps", "5", "--rounds",
                                      "2", "--validate-reps", "6", "--out", str(tmp_path / "out"),
                                      "--max-time", f"{limit:.3f}s"])
    assert result.exit_code == 2, result.output
    text = _squeezed(result.output)
    assert f"({runs}runs," in text and "--max-time" in text
    assert not (tmp_path / "out").exists()

