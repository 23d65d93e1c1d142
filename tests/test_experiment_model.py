"""Experiments, planner, commands and reports on the real simulator (scenarios/smoke.yaml)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from peakline.cli import app
from reports.run_report import RUN_PLOTS, write_run_report
from simulator.experiment import (
    compare,
    open_executor,
    paired_difference,
    policy_variants,
    replicate,
)
from simulator.model import run
from simulator.planning import plan_stock
from simulator.scenario import Scenario, load_scenario
from tests.test_reports import parse, trace_names


@pytest.fixture(scope="module")
def short_stock(smoke_path) -> Scenario:
    """Smoke with under a day of cover, so stock-outs happen and policies differ."""
    rule = {"warehouse": "*", "sku_group": "*", "days_of_cover": 0.8}
    return load_scenario(smoke_path).with_overrides(**{"stock.initial": [rule]})


def test_demand_does_not_depend_on_the_policy(short_stock):
    """Common random numbers need the model's demand stream apart from the policies."""
    a = run(short_stock, 5)
    b = run(short_stock, 5, allocation=policy_variants(["single_warehouse"], [])[0]
            .allocation.build("allocation"))
    assert a.series["orders_demanded"].tolist() == b.series["orders_demanded"].tolist()
    assert a.kpis != b.kpis  # the policy does change the outcome


def test_common_random_numbers_reduce_variance(short_stock):
    variants = policy_variants(["nearest_with_stock", "single_warehouse"], [])
    crn = compare(short_stock, variants, reps=6, base_seed=1)
    independent = compare(short_stock, variants[1:], reps=6, base_seed=2)
    for kpi in ("line_fill_rate", "lost_sales_units", "transport_cost_rub"):
        paired = crn.difference(1, kpi)
        unpaired = paired_difference(independent.values(0, kpi), crn.values(0, kpi))
        assert paired.sd**2 < unpaired.sd**2 / 4, kpi
    # nearest-with-stock splits orders across warehouses, single-warehouse does not
    assert crn.verdict(1, "transport_cost_rub") == "better"


def test_dask_matches_serial_on_the_model(short_stock):
    from distributed import Client, LocalCluster

    serial = replicate(short_stock, reps=2, base_seed=4)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client, \
            open_executor(dask=client) as executor:
        remote = replicate(short_stock, reps=2, base_seed=4, executor=executor)
    assert [r.kpis for r in remote] == [r.kpis for r in serial]


@pytest.mark.slow
def test_plan_meets_target_on_fresh_seeds(smoke_path):
    scenario = load_scenario(smoke_path)
    plan = plan_stock(scenario, target_fill_rate=0.95, reps=4, rounds=1, validate_reps=6,
                      base_seed=11)
    assert plan.validation.fill_rate.mean >= 0.95
    assert plan.validation.fill_rate.n == 6
    # rounds on the inventory model, each screened plan checked on the full model, and the
    # recommended plan is a checked one
    models = [r["model"] for r in plan.rounds]
    assert models[0] == "inventory" and "full" in models
    assert plan.chosen_round is not None and models[plan.chosen_round] == "full"
    # the plan is leaner than the scenario's four days of cover
    assert plan.investment_rub < plan.current_investment_rub


def test_run_report_of_a_real_run(short_stock, tmp_path):
    page = parse(write_run_report(run(short_stock, 3), tmp_path / "run.html"))
    assert all(page.ids.count(div_id) == 1 for div_id in RUN_PLOTS)
    assert {"orders placed", "demand curve (expected)"} <= trace_names(page, "plot-orders")
    assert "warehouse WH-MSK" in trace_names(page, "plot-backlog")
    assert any(n.startswith("flows ") for n in trace_names(page, "plot-network"))


def test_compare_command(smoke_path, tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, [
        "compare", str(smoke_path), "--allocation", "nearest_with_stock,single_warehouse",
        "--reps", "2", "--set", "demand.baseline_orders_per_hour=30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "line_fill_rate" in result.output
    data = json.loads((out / "comparison.json").read_text())
    assert [v["label"] for v in data["variants"]] == [
        "baseline_orders_per_hour=30 | nearest_with_stock / scenario",
        "baseline_orders_per_hour=30 | single_warehouse / scenario"]
    assert (out / "comparison.csv").exists() and (out / "comparison.html").exists()


@pytest.mark.parametrize("args", [
    ["compare", "{s}", "--allocation", "nearest_with_stock,nope"],
    ["compare", "{s}", "--allocation", "nearest_with_stock"],
    ["compare", "{s}", "--replenishment", "s_S,r_Q", "--set", "demand.typo=1"],
    ["compare", "{s}", "--allocation", "least_cost,balanced", "--jobs", "0"],
    ["compare", "{s}", "--allocation", "least_cost,balanced", "--dask", "localhost"],
    ["plan-stock", "{s}", "--target-fill-rate", "1.5"],
    ["plan-stock", "{s}", "--policy", "r_Q"],
    ["plan-stock", "missing.yaml"],
])
def test_bad_input_exits_2(smoke_path, args):
    result = CliRunner().invoke(app, [a.format(s=smoke_path) for a in args])
    assert result.exit_code == 2, result.output


def test_compare_command_on_a_dask_scheduler_address(smoke_path, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        result = CliRunner().invoke(app, [
            "compare", str(smoke_path), "--replenishment", "s_S,base_stock", "--reps", "2",
            "--dask", cluster.scheduler_address, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Dask" in result.output
    assert len(json.loads((tmp_path / "comparison.json").read_text())["variants"]) == 2


def test_compare_writes_a_folder_per_run_and_says_when_variants_tie(smoke_path, tmp_path,
                                                                    monkeypatch):
    """The README tour's comparison: on smoke, nearest-with-stock and single-warehouse come out
    identical; the summary says so and why, and a second run does not overwrite the first."""
    monkeypatch.chdir(tmp_path)
    args = ["compare", str(smoke_path), "--allocation", "nearest_with_stock,single_warehouse",
            "--reps", "2"]
    first, second = CliRunner().invoke(app, args), CliRunner().invoke(app, args)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    folders = sorted((tmp_path / "out").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("compare-smoke-") for f in folders)
    assert all((f / "comparison.html").exists() for f in folders)
    said = " ".join(first.output.split())
    assert "All 2 variants came out identical on every KPI in every replication" in said
    assert "the allocation policies never had to choose differently" in said
    data = json.loads((folders[0] / "comparison.json").read_text())
    assert data["variants"][1]["identical_to_baseline"] is True and data["tests"] == 0
