"""Scenario files: bundled ones validate; broken ones name file, field and problem, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.scenario import ScenarioError, load_scenario, parse_scenario

from .conftest import SCENARIOS


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_scenarios_validate(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem


def _broken(tmp_path: Path, smoke_path: Path, mutate) -> Path:
    data = yaml.safe_load(smoke_path.read_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda d: d["demand"].update(baseline_orders_per_hour=-5),
            "demand.baseline_orders_per_hour",
            "greater than 0",
        ),
        (
            lambda d: d["demand"].update(baseline_order_per_hour=5),
            "demand.baseline_order_per_hour",
            "unknown field",
        ),
        (
            lambda d: d["network"]["lanes"][2].update(to="NOWHERE"),
            "network",
            "unknown node 'NOWHERE'",
        ),
        (
            lambda d: d["network"]["warehouses"][0]["shifts"][0].update(start="25:00"),
            "network.warehouses[0].shifts[0].start",
            "HH:MM",
        ),
        (
            lambda d: d["stock"]["initial"].append({"warehouse": "WH-X", "units": 3}),
            "stock.initial[1].warehouse",
            "unknown",
        ),
        (lambda d: d["demand"].update(hour_of_day=[1, 2]), "demand.hour_of_day", "24"),
        (
            lambda d: d["network"]["lanes"][0].update(
                transit_hours={"dist": "lognormal", "mean": 2}
            ),
            "network.lanes[0].transit_hours.sd",
            "required",
        ),
    ],
)
def test_broken_file_names_file_field_and_problem(
    tmp_path, smoke_path, mutate, field, words
) -> None:
    path = _broken(tmp_path, smoke_path, mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert str(path) in text
    assert any(f == field and words in m for f, m in caught.value.problems), caught.value.problems


def test_cli_exits_2_with_clear_message(tmp_path, smoke_path) -> None:
    path = _broken(tmp_path, smoke_path, lambda d: d["catalogue"].update(sku_count="many"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "catalogue.sku_count" in result.output and str(path) in result.output


def test_not_yaml_and_missing_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="line"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="No such file"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="mapping"):
        parse_scenario(["a", "list"])


def test_with_overrides_revalidates(smoke_path) -> None:
    scenario = load_scenario(smoke_path)
    doubled = scenario.with_overrides(**{"demand.baseline_orders_per_hour": 120})
    assert doubled.demand.baseline_orders_per_hour == 120
    assert scenario.demand.baseline_orders_per_hour == 60
    with pytest.raises(ValueError, match="greater than 0"):
        scenario.with_overrides(**{"demand.baseline_orders_per_hour": -1})
