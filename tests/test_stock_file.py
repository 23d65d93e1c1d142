"""A planner's stock CSV (``stock.initial_file``): units per (SKU or group, warehouse), read
relative to the scenario file; a bad file names the file, the row and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.planning import current_stock
from simulator.scenario import ScenarioError, load_scenario

from .model_worlds import smoke_dict

ROOT = Path(__file__).resolve().parent.parent


def _scenario(tmp_path: Path, csv_text: str, rules: list | None = None) -> Path:
    d = smoke_dict()
    d["stock"]["initial"] = rules if rules is not None else d["stock"]["initial"]
    if not rules and rules is not None:
        del d["stock"]["initial"]
    d["stock"]["initial_file"] = "plans/stock.csv"
    (tmp_path / "plans").mkdir(exist_ok=True)
    (tmp_path / "plans" / "stock.csv").write_text(csv_text, encoding="utf-8")
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    return path


def test_stock_file_rows_follow_the_written_rules(tmp_path) -> None:
    text = ("offer_id,sku_group,warehouse,units,note\n"
            "SKU-000003,,WH-MSK,17,top seller\n"
            ",electronics,WH-SPB,5,\n"
            "SKU-000020,,*,2,\n")
    sc = load_scenario(_scenario(tmp_path, text))
    stock = current_stock(sc)
    plain = current_stock(load_scenario(ROOT / "scenarios" / "smoke.yaml"))
    assert stock[3, 0] == 17 and stock[20].tolist() == [2, 2]
    skus_electronics = np.arange(50) < 15  # the first 30 % of the catalogue
    assert (stock[skus_electronics & (np.arange(50) != 3), 1] == 5).all()
    untouched = ~skus_electronics & (np.arange(50) != 3) & (np.arange(50) != 20)
    assert np.array_equal(stock[untouched], plain[untouched])
    assert sc.stock.initial_file is None  # its rows are rules now
    assert len(sc.stock.initial) == 1 + 3


def test_a_stock_file_alone_is_enough(tmp_path) -> None:
    sc = load_scenario(_scenario(tmp_path, "sku_group,warehouse,units\n*,*,9\n", rules=[]))
    assert (current_stock(sc) == 9).all()


@pytest.mark.parametrize(("text", "where"), [
    ("offer_id,warehouse,units\nSKU-000001,WH-MSK,3\nSKU-000002,WH-MSK,lots\n",
     "row 3, column 'units': 'lots' is not a whole number of units >= 0"),
    ("offer_id,warehouse,units\nSKU-000001,WH-XXX,3\n", "row 2, column 'warehouse': unknown"),
    ("offer_id,warehouse,units\nSKU-000050,WH-MSK,3\n",
     "row 2, column 'offer_id': SKU-000050 is not in the catalogue (50 SKUs)"),
    ("offer_id,warehouse,units\nABC-1,WH-MSK,3\n", "row 2, column 'offer_id': 'ABC-1' is not"),
    ("offer_id,sku_group,warehouse,units\nSKU-000001,home,WH-MSK,3\n",
     "row 2, column 'offer_id': give exactly one of offer_id and sku_group"),
    ("sku_group,warehouse,units\ntoys,WH-MSK,3\n", "row 2, column 'sku_group': unknown SKU"),
    ("offer_id,warehouse\nSKU-000001,WH-MSK\n", "row 1: no 'units' column"),
    ("offer_id,warehouse,units\nSKU-000001,WH-MSK,3,4\n", "row 2: more cells than the header"),
    ("offer_id,warehouse,units\n", "has a header but no rows"),
])
def test_a_bad_stock_file_names_file_row_and_column(tmp_path, text, where) -> None:
    path = _scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    [(field, message)] = err.value.problems
    assert field == "stock.initial_file"
    assert message.startswith(str(tmp_path / "plans" / "stock.csv"))
    assert where in message


def test_a_missing_stock_file_exits_2_naming_it(tmp_path) -> None:
    path = _scenario(tmp_path, "x\n")
    (tmp_path / "plans" / "stock.csv").unlink()
    done = CliRunner().invoke(app, ["validate", str(path)])
    assert done.exit_code == 2
    assert "stock.initial_file" in done.output and "plans/stock.csv" in done.output
    assert "No such file" in done.output
