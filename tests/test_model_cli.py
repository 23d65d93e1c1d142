"""``peakline simulate``: files written, summary printed, bad input exits 2."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from simulator.cli import app
from simulator.metrics import RunResult


def test_simulate_writes_json_and_csv(tmp_path, smoke_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(smoke_path), "--seed", "3", "--out",
                                      str(out), "--allocation", "least_cost"])
    assert result.exit_code == 0, result.output
    assert "line fill rate" in result.output and "orders/s" in result.output
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
