"""``peakline plan-stock --apply URL --credentials FILE`` against a real uvicorn backend: the
recommended reorder points become the seller's warning levels, and the backend alerts on them;
a plan that met nothing is not applied (exit 1)."""

from __future__ import annotations

import csv
import json

import httpx
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.sku_ids import index_of_offer, sku_id

from .backend_support import running_server, seeded_sqlite, seller_headers
from .model_worlds import smoke_dict


def _levels(base_url: str, creds: dict, path: str = "warning-levels") -> dict:
    response = httpx.get(f"{base_url}/peakline/v1/{path}", params={"limit": 1000},
                         headers=seller_headers(creds), timeout=30)
    assert response.status_code == 200, response.text
    return {(r["sku"], r["warehouse_id"]): r for r in response.json()["items"]}


def test_plan_stock_applies_its_reorder_points_as_warning_levels(tmp_path) -> None:
    world = smoke_dict()  # short stock: the plan's reorder points lie above it for some pairs
    world["stock"]["initial"] = [{"warehouse": "*", "sku_group": "*", "days_of_cover": 0.8}]
    scenario = tmp_path / "short.yaml"
    scenario.write_text(yaml.safe_dump(world), encoding="utf-8")
    url, creds = seeded_sqlite(tmp_path, scenario=scenario)
    creds_file = tmp_path / "creds.json"
    creds_file.write_text(json.dumps(creds), encoding="utf-8")
    args = ["plan-stock", str(scenario), "--out", str(tmp_path / "plan"),
            "--credentials", str(creds_file)]
    runner = CliRunner()
    with running_server(url) as base_url:
        seeded = _levels(base_url, creds)
        # no round can clear 0.9995 (the CI must lie above it): nothing recommended or applied
        failed = runner.invoke(app, [*args, "--target-fill-rate", "0.9995", "--reps", "2",
                                     "--rounds", "0", "--apply", base_url])
        assert failed.exit_code == 1, failed.output
        assert "No round met the target 0.9995" in " ".join(failed.output.split())
        assert "nothing applied" in failed.output
        assert _levels(base_url, creds) == seeded

        done = runner.invoke(app, [*args, "--target-fill-rate", "0.8", "--reps", "3",
                                   "--rounds", "1", "--apply", base_url])
        assert done.exit_code == 0, done.output
        with (tmp_path / "plan" / "stock_plan.csv").open(encoding="utf-8") as fh:
            plan = list(csv.DictReader(fh))
        assert f"{len(plan)} warning levels set" in " ".join(done.output.split())
        levels, alerts = _levels(base_url, creds), _levels(base_url, creds, "alerts")

    planned = {}
    for row in plan:
        key = (int(sku_id(index_of_offer(row["offer_id"]), creds["sku_base"])),
               creds["warehouses"][row["warehouse"]])
        planned[key] = int(row["reorder_point"])
        assert levels[key]["offer_id"] == row["offer_id"]
        assert levels[key]["present"] == int(row["current_units"])  # the stock seed gave
    assert {k: levels[k]["warning_level"] for k in planned} == planned
    assert any(planned[k] != seeded[k]["warning_level"] for k in planned)
    # the backend now alerts exactly where the stock is under the planner's reorder point
    under = {k for k, level in levels.items() if level["available"] < level["warning_level"]}
    assert set(alerts) == under
    assert under & {k for k in planned if levels[k]["available"] < planned[k]}


def test_apply_needs_both_the_url_and_the_credentials(tmp_path, smoke_path) -> None:
    result = CliRunner().invoke(app, ["plan-stock", str(smoke_path), "--apply",
                                      "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "--apply URL and --credentials FILE go together" in result.output
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(app, ["plan-stock", str(smoke_path), "--apply",
                                      "http://127.0.0.1:9", "--credentials",
                                      str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "missing client_id" in result.output
