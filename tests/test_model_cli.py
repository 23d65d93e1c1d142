"""``peakline simulate``: files written, summary printed, same seed same bytes, bad input
exits 2."""

from __future__ import annotations

import csv
import json

import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.metrics import RunResult

from .model_worlds import smoke_dict


def test_simulate_writes_json_and_csv(tmp_path, smoke_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(smoke_path), "--seed", "3", "--out",
                                      str(out), "--allocation", "least_cost"])
    assert result.exit_code == 0, result.output
    assert "line fill rate" in result.output and "orders/s" in result.output
    assert "delivery by region" in result.output and "R-SPB" in result.output
    run = RunResult.read_json(out / "result.json")
    assert run.seed == 3 and run.allocation == "least_cost" and run.replenishment == "s_S"
    with (out / "series.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == run.series_time.size
    assert float(rows[20]["orders_placed"]) == run.series["orders_placed"][20]
    with (out / "backlog_warehouse.csv").open() as fh:
        assert next(csv.reader(fh)) == ["time_hours", "WH-MSK", "WH-SPB"]
    with (out / "kpis.csv").open() as fh:
        kpis = {row["kpi"]: float(row["value"]) for row in csv.DictReader(fh)}
    assert kpis["orders_placed"] == run.kpis["orders_placed"]


def test_simulate_bad_input_exits_2(tmp_path, smoke_path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", str(smoke_path), "--replenishment", "magic",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown replenishment policy 'magic'" in result.output and "s_S" in result.output
    assert not (tmp_path / "result.json").exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text(smoke_path.read_text().replace("sku_count: 50", "sku_count: -1"))
    result = runner.invoke(app, ["simulate", str(broken)])
    assert result.exit_code == 2 and "catalogue.sku_count" in result.output


def test_same_seed_writes_byte_identical_files(tmp_path) -> None:
    """Every file ``simulate --out`` writes, the HTML report included, depends on the scenario
    and the seed only; wall time, host and versions go to run_meta.json alone."""
    d = smoke_dict()
    d["clock"]["horizon_hours"] = 12
    d["demand"]["cancel_probability"] = 0.2
    d["network"]["sorting_centres"][0]["late_tolerance_hours"] = 3
    d["faults"] = [{"name": "SC closed", "node": "SC-MSK", "start_hour": 9, "duration_hours": 6,
                    "capacity_factor": 0}]
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    outs = [tmp_path / name for name in ("a", "b", "other")]
    for out, seed in zip(outs, ("5", "5", "6"), strict=True):
        result = CliRunner().invoke(app, ["simulate", str(path), "--seed", seed, "--out", str(out)])
        assert result.exit_code == 0, result.output
    a, b, other = ({p.name: p.read_bytes() for p in out.iterdir()} for out in outs)
    assert {"result.json", "kpis.csv", "series.csv", "report.html", "run_meta.json"} <= set(a)
    assert set(a) == set(b)
    meta = json.loads(a.pop("run_meta.json"))
    assert meta["wall_seconds"] > 0 and meta["versions"]["peakline"]
    b.pop("run_meta.json")
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs with the same seed"
    assert other["result.json"] != a["result.json"]
    assert b"wall_seconds" not in a["result.json"]


def test_simulate_says_when_replenishment_could_not_matter(smoke_path) -> None:
    from simulator.commands.simulate import replenishment_sentence
    from simulator.model import run
    from simulator.scenario import load_scenario

    result = run(load_scenario(smoke_path), seed=1)
    sold = sum(row["filled_units"] for row in result.tables["sku_warehouse"])
    result.kpis["units_received"] = 0.0
    assert "could barely change this run" in replenishment_sentence(result)
    result.kpis["units_received"] = 0.2 * sold  # a fifth of what sold came from suppliers
    sentence = replenishment_sentence(result)
    assert "could barely" not in sentence and f"{0.2 * sold:,.0f} units arrived" in sentence
