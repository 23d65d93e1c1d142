"""A seller's :class:`History` from a CSV export of postings: one row per posting line.

Columns (header names, any order; ``,`` or ``;`` separated, UTF-8):

* required: ``posting_number``, ``in_process_at`` (ISO-8601; no offset = UTC), ``status``
  (Seller API status, e.g. ``delivered``, ``cancelled``), ``sku``, ``quantity``, ``price``
  (unit price, RUB);
* optional: ``order_number`` (default: the posting number without its last part),
  ``warehouse_id``, ``warehouse`` (name; placed by the city table unless ``warehouse_lat`` and
  ``warehouse_lon`` are given), ``city``, ``region``, ``delivering_date`` (handed over),
  ``delivered_at`` (return delays then count from delivery), ``cancelled_at``,
  ``returned_at`` (the line was returned then).

A missing required column, or a value that is not what its column holds, is a
:class:`CalibrationError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.calibration.history import (
    CalibrationError,
    History,
    Line,
    PostingRecord,
    ReturnRecord,
    WarehouseRecord,
)

REQUIRED = ("posting_number", "in_process_at", "status", "sku", "quantity", "price")
OPTIONAL = ("order_number", "warehouse_id", "warehouse", "warehouse_lat", "warehouse_lon",
            "city", "region", "delivering_date", "delivered_at", "cancelled_at",
            "returned_at")


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _value(path: Path, number: int, row: dict, column: str, parse: Callable[[str], Any],
           what: str) -> Any:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        raise CalibrationError(
            f"{path}: line {number}: column {column}: {text!r} is not {what}") from None


def read_csv(path: Path, since: datetime | None = None, to: datetime | None = None) -> History:
    """Read the export; the period is ``[since, to)`` or, if not given, the rows' span."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CalibrationError(f"{path}: {exc.strerror or exc}") from None
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise CalibrationError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(a postings export needs {', '.join(REQUIRED)})")
    reader.fieldnames = header
    postings: dict[str, dict] = {}
    returns: list[ReturnRecord] = []
    warehouses: dict[int, WarehouseRecord] = {}
    for number, row in enumerate(reader, start=2):
        def get(column: str, parse: Callable[[str], Any] = str, what: str = "",
                row: dict = row, number: int = number) -> Any:
            return _value(path, number, row, column, parse, what)

        posting_number = get("posting_number")
        at = get("in_process_at", _time, "an ISO-8601 date-time")
        if not posting_number or at is None:
            raise CalibrationError(f"{path}: line {number}: posting_number and in_process_at "
                                   f"must not be empty")
        line = Line(get("sku", int, "an integer SKU id"), get("quantity", int, "a count") or 1,
                    get("price", float, "a price") or 0.0)
        posting = postings.setdefault(posting_number, {
            "posting_number": posting_number,
            "order_number": get("order_number") or posting_number.rsplit("-", 1)[0],
            "in_process_at": at, "status": (get("status") or "").lower(), "lines": [],
            "warehouse_id": get("warehouse_id", int, "an integer warehouse id"),
            "warehouse": get("warehouse") or "", "city": get("city") or "",
            "region": get("region") or "",
            "delivering_date": get("delivering_date", _time, "an ISO-8601 date-time"),
            "delivered_at": get("delivered_at", _time, "an ISO-8601 date-time"),
            "cancelled_at": get("cancelled_at", _time, "an ISO-8601 date-time")})
        posting["lines"].append(line)
        returned = get("returned_at", _time, "an ISO-8601 date-time")
        if returned is not None:
            returns.append(ReturnRecord(posting_number, line.sku, line.quantity, returned))
        if posting["warehouse_id"] is not None:
            warehouses.setdefault(posting["warehouse_id"], WarehouseRecord(
                posting["warehouse_id"], posting["warehouse"],
                get("warehouse_lat", float, "a latitude"),
                get("warehouse_lon", float, "a longitude")))
    if not postings:
        raise CalibrationError(f"{path}: no rows: an empty export, nothing to calibrate from")
    records = [PostingRecord(**{**p, "lines": tuple(p["lines"])}) for p in postings.values()]
    first = min(p.in_process_at for p in records)
    last = max(p.in_process_at for p in records)
    since = since or first
    to = to or last + timedelta(seconds=1)
    records = [p for p in records if since <= p.in_process_at < to]
    if not records:
        raise CalibrationError(f"{path}: no postings between {since:%Y-%m-%d} and "
                               f"{to:%Y-%m-%d}: an empty period")
    latest = max([r.returned_at for r in returns if r.returned_at]
                 + [p.delivering_date for p in records if p.delivering_date] + [to])
    return History(since, to, f"CSV export {path.name}", records, returns,
                   list(warehouses.values()), returns_until=latest)
