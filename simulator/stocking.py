"""Stock quantities a scenario plans on its forecast: initial units per (SKU, warehouse).

Pure functions of the scenario (numpy, no SimPy): the simulator starts its ledger from them and
the reference backend seeds a seller's stock from them, so both start from the same units.
:func:`read_stock_file` turns a planner's stock CSV into ``stock.initial`` rules.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.sku_ids import index_of_offer

MAX_STOCK_FILE_BYTES = 64 * 2**20  # a row a (SKU, warehouse) of a large catalogue fits


def initial_stock(scenario, sku_group: np.ndarray, group_names: Sequence[str],
                  sku_daily_units: np.ndarray) -> np.ndarray:
    """Units per ``[sku, warehouse]`` at minute 0 from ``stock.initial`` (later rules win).

    ``days_of_cover`` is that many days of the SKU's forecast daily demand
    (``sku_daily_units``), divided evenly among the warehouses the rule matches, rounded up
    to whole units.
    """
    warehouses = [w.id for w in scenario.network.warehouses]
    units = np.zeros((sku_group.size, len(warehouses)))
    group_index = {name: i for i, name in enumerate(group_names)}
    column = {w: i for i, w in enumerate(warehouses)}
    for rule in scenario.stock.initial:
        wmask = np.array([rule.warehouse in ("*", w) for w in warehouses])
        if rule.sku is not None and rule.units is not None:  # one cell (stock files): fast
            if rule.sku_group in ("*", group_names[sku_group[rule.sku]]):
                cols = [column[rule.warehouse]] if rule.warehouse != "*" else slice(None)
                units[rule.sku, cols] = rule.units
            continue
        smask = np.ones(sku_group.size, dtype=bool)
        if rule.sku_group != "*":
            smask &= sku_group == group_index[rule.sku_group]
        if rule.sku is not None:
            smask &= np.arange(sku_group.size) == rule.sku
        if rule.units is not None:
            value = np.full(int(smask.sum()), float(rule.units))
        else:
            value = np.ceil(rule.days_of_cover * sku_daily_units[smask] / wmask.sum() - 1e-9)
        units[np.ix_(smask, wmask)] = value[:, None]
    return units.astype(np.int64)


# --------------------------------------------------------------------------- stock files


class StockFileError(ValueError):
    """A stock CSV that cannot be used: names the file, the row and the column."""

    def __init__(self, path: Path, problem: str, row: int | None = None,
                 column: str | None = None) -> None:
        where = "".join([f", row {row}" if row is not None else "",
                         f", column {column!r}" if column is not None else ""])
        super().__init__(f"{path}{where}: {problem}")


def read_stock_file(path: Path, *, sku_count: int | None = None,
                    groups: Sequence[str] | None = None,
                    warehouses: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``stock.initial`` rules from a stock CSV, in file order (later rows win).

    Columns: ``warehouse`` (an id, or ``*`` for all), ``units`` (whole units >= 0) and either
    ``offer_id`` (``SKU-000042``, as ``peakline seed`` names products) or ``sku_group`` (a
    group name or ``*``) in each row; other columns are ignored. Row numbers count the header
    as row 1, as a spreadsheet shows them. Checks against the catalogue and network are
    skipped for the parts not given.
    """
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_STOCK_FILE_BYTES + 1)  # /dev/zero would never end
    except OSError as exc:
        raise StockFileError(path, exc.strerror or str(exc)) from None
    if len(data) > MAX_STOCK_FILE_BYTES:
        raise StockFileError(path, f"larger than {MAX_STOCK_FILE_BYTES // 2**20} MB")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        header = reader.fieldnames or []
        rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise StockFileError(path, f"not a readable CSV file ({exc})") from None
    for needed in ("warehouse", "units"):
        if needed not in header:
            raise StockFileError(path, f"no {needed!r} column (header: {', '.join(header)})",
                                 row=1)
    if "offer_id" not in header and "sku_group" not in header:
        raise StockFileError(path, "needs an 'offer_id' or a 'sku_group' column", row=1)
    if not rows:
        raise StockFileError(path, "has a header but no rows")
    rules = []
    for n, row in enumerate(rows, start=2):
        if None in row:
            raise StockFileError(path, "more cells than the header has columns", row=n)
        rules.append(_rule(path, n, row, sku_count, groups, warehouses))
    return rules


def _rule(path: Path, n: int, row: dict[str, str], sku_count: int | None,
          groups: Sequence[str] | None, warehouses: Sequence[str] | None) -> dict[str, Any]:
    def cell(column: str) -> str:
        return (row.get(column) or "").strip()

    warehouse = cell("warehouse")
    if not warehouse or (warehouses is not None and warehouse != "*"
                         and warehouse not in warehouses):
        raise StockFileError(path, f"unknown warehouse {warehouse!r}", n, "warehouse")
    try:
        units = int(cell("units"))
        if units < 0:
            raise ValueError
    except ValueError:
        raise StockFileError(path, f"{cell('units')!r} is not a whole number of units >= 0",
                             n, "units") from None
    offer, group = cell("offer_id"), cell("sku_group")
    if bool(offer) == bool(group):
        raise StockFileError(path, "give exactly one of offer_id and sku_group", n,
                             "offer_id" if offer else "sku_group")
    rule: dict[str, Any] = {"warehouse": warehouse, "units": units}
    if offer:
        try:
            rule["sku"] = index_of_offer(offer)
        except ValueError as exc:
            raise StockFileError(path, str(exc), n, "offer_id") from None
        if isinstance(sku_count, int) and rule["sku"] >= sku_count:
            raise StockFileError(path, f"{offer} is not in the catalogue ({sku_count} SKUs)",
                                 n, "offer_id")
    else:
        if groups is not None and group != "*" and group not in groups:
            raise StockFileError(path, f"unknown SKU group {group!r}", n, "sku_group")
        rule["sku_group"] = group
    return rule
