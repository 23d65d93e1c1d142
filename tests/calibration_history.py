"""Synthetic seller histories with known parameters, for the calibration tests, and their CSV
export. ``python -m tests.calibration_history`` writes the README's sample export
``scenarios/examples/shop-postings.csv`` (five days of a small shop)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from simulator.calibration.cities import locate
from simulator.calibration.demand_fit import MOSCOW
from simulator.calibration.history import (
    History,
    Line,
    PostingRecord,
    ProductRecord,
    ReturnRecord,
    StockRecord,
    WarehouseRecord,
)
from simulator.experiment import paired_difference, replication_seeds
from simulator.model import run
from simulator.scenario import Scenario

HOUR_OF_DAY = np.array([0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.2, 1.3, 1.3,
                        1.3, 1.3, 1.3, 1.3, 1.4, 1.5, 1.6, 1.7, 1.7, 1.5, 1.0, 0.6])
DAY_OF_WEEK = np.array([1.0, 1.0, 1.0, 1.1, 1.2, 0.9, 0.8])


@dataclass
class Truth:
    """The parameters a synthetic history is drawn from."""

    days: int = 28
    baseline: float = 20.0  # orders per hour
    hour_of_day: np.ndarray = field(default_factory=lambda: HOUR_OF_DAY / HOUR_OF_DAY.mean())
    day_of_week: np.ndarray = field(default_factory=lambda: DAY_OF_WEEK / DAY_OF_WEEK.mean())
    peak_hours: tuple[int, int] = (20 * 24 + 19, 20 * 24 + 22)  # [from, to) hour index
    peak_multiplier: float = 3.0
    sku_count: int = 120
    zipf: float = 1.0
    lines_mean: float = 1.6
    units_mean: float = 1.15
    cancel: float = 0.03
    returns: float = 0.08
    return_delay_mean: float = 96.0
    handling_median_hours: float = 6.0
    cities: dict[str, float] = field(default_factory=lambda: {
        "Москва": 0.5, "Санкт-Петербург": 0.2, "Kazan": 0.2, "Atlantis": 0.1})
    since: datetime = datetime(2026, 10, 5, tzinfo=MOSCOW)
    local_time: bool = False  # each city's buyers follow the profiles on their own clock

    def rate(self, moment: datetime) -> float:
        """Orders an hour at ``moment`` on its own clock, peaks aside."""
        return float(self.baseline * self.hour_of_day[moment.hour]
                     * self.day_of_week[moment.weekday()])


SKU_BASE = 180_550_000
WAREHOUSES = [WarehouseRecord(22142605386000, "Khorugvino", 56.154, 36.978),
              WarehouseRecord(22142605387000, "Kazan FBS", None, None)]


def synthetic_history(truth: Truth, seed: int = 1) -> History:
    rng = np.random.default_rng(seed)
    skus = SKU_BASE + rng.permutation(truth.sku_count)  # rank r -> skus[r-1]
    pop = np.arange(1, truth.sku_count + 1, dtype=float) ** -truth.zipf
    pop /= pop.sum()
    prices = np.round(rng.uniform(100, 5000, truth.sku_count), 2)
    cities, weights = list(truth.cities), np.array(list(truth.cities.values()))
    postings, returns, n = [], [], 0
    clocks = [ZoneInfo(place.time_zone if (place := locate(c)) else "Europe/Moscow")
              for c in cities]
    for t in range(truth.days * 24):
        start = truth.since + timedelta(hours=t)
        peak = truth.peak_multiplier if truth.peak_hours[0] <= t < truth.peak_hours[1] else 1
        rate = truth.rate(start) * peak
        buyers = None
        if truth.local_time:  # per city, by its local hour and weekday
            local = [start.astimezone(clock) for clock in clocks]
            rates = np.array([truth.rate(moment) for moment in local]) * peak * weights
            buyers = np.repeat(np.arange(len(cities)), rng.poisson(rates))
        for k in range(rng.poisson(rate) if buyers is None else len(buyers)):
            n += 1
            at = (start + timedelta(minutes=float(rng.uniform(0, 60)))).astimezone(UTC)
            ranks = rng.choice(truth.sku_count, size=1 + rng.poisson(truth.lines_mean - 1),
                               p=pop)
            lines = tuple(Line(int(skus[r]), int(1 + rng.poisson(truth.units_mean - 1)),
                               float(prices[r])) for r in dict.fromkeys(ranks.tolist()))
            city = cities[rng.choice(len(cities), p=weights) if buyers is None else buyers[k]]
            warehouse = WAREHOUSES[int(rng.random() < 0.3)]
            number = f"{10_000_000 + n:08d}-0001"
            cancelled = rng.random() < truth.cancel
            handed = None if cancelled else at + timedelta(
                hours=float(truth.handling_median_hours * rng.lognormal(0, 0.4)))
            postings.append(PostingRecord(
                f"{number}-1", number, at, "cancelled" if cancelled else "delivered", lines,
                warehouse.warehouse_id, warehouse.name, city, "", handed))
            if handed and rng.random() < truth.returns:
                delay = rng.gamma(4.0, truth.return_delay_mean / 4.0)
                returns.append(ReturnRecord(f"{number}-1", lines[0].sku, lines[0].quantity,
                                            handed + timedelta(hours=float(delay))))
    stocks = [StockRecord(int(sku), w.warehouse_id, 50, 5) for sku in skus[:10]
              for w in WAREHOUSES]
    products = [ProductRecord(int(sku), f"offer-{k}", f"item {k}", float(prices[k]))
                for k, sku in enumerate(skus)]
    since = truth.since.astimezone(UTC)
    return History(since, since + timedelta(days=truth.days), "synthetic history", postings,
                   returns, list(WAREHOUSES), products, stocks,
                   returns_until=since + timedelta(days=truth.days + 365))  # every return known


CSV_COLUMNS = ["posting_number", "order_number", "in_process_at", "status", "sku", "quantity",
               "price", "warehouse_id", "warehouse", "warehouse_lat", "warehouse_lon", "city",
               "delivering_date", "returned_at"]


def write_csv(history: History, path: Path, drop: str | None = None) -> Path:
    """The history as a postings export (one row per line, ``;``), without column ``drop``."""

    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment else ""

    returned = {(r.posting_number, r.sku): r.returned_at for r in history.returns}
    places = {w.warehouse_id: (w.lat or "", w.lon or "") for w in history.warehouses}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [c for c in CSV_COLUMNS if c != drop], delimiter=";",
                                extrasaction="ignore")
        writer.writeheader()
        for p in history.postings:
            for line in p.lines:
                writer.writerow({
                    "posting_number": p.posting_number, "order_number": p.order_number,
                    "in_process_at": when(p.in_process_at), "status": p.status,
                    "sku": line.sku, "quantity": line.quantity, "price": line.price,
                    "warehouse_id": p.warehouse_id, "warehouse": p.warehouse,
                    "warehouse_lat": places[p.warehouse_id][0],
                    "warehouse_lon": places[p.warehouse_id][1], "city": p.city,
                    "delivering_date": when(p.delivering_date),
                    "returned_at": when(returned.get((p.posting_number, line.sku)))})
    return path


if __name__ == "__main__":
    sample = Path(__file__).resolve().parent.parent / "scenarios/examples/shop-postings.csv"
    sample.parent.mkdir(exist_ok=True)
    write_csv(synthetic_history(Truth(days=5, baseline=3.0, sku_count=40,
                                      peak_hours=(3 * 24 + 19, 3 * 24 + 22)), seed=7), sample)
    print(sample)


def assert_same_headline_kpis(original: Scenario, fitted: Scenario, *, reps: int = 5) -> None:
    """Simulate both on the same seeds over two days of ``original``'s clock (+ a day's
    drain): fill rates and returns requested have a paired difference whose interval covers
    0; orders demanded are within the baseline's 5 % tolerance. (With common random numbers
    the paired interval of the order count is a few orders wide, far narrower than the
    estimation error of a rate fitted to four weeks, ~1 %, so it tests the fit's noise, not
    its bias.)"""
    window = {"clock.start": original.clock.start, "clock.horizon_hours": 48,
              "clock.drain_hours": 24}
    s, f = original.with_overrides(**window), fitted.with_overrides(**window)
    seeds = replication_seeds(7, reps)
    ours = [run(f, seed).kpis for seed in seeds]
    theirs = [run(s, seed).kpis for seed in seeds]
    for kpi in ("order_fill_rate", "line_fill_rate", "returns_requested"):
        difference = paired_difference([k[kpi] for k in ours], [k[kpi] for k in theirs])
        assert difference.covers(0), f"{kpi}: {difference.to_dict()}"
    demanded = paired_difference([k["orders_demanded"] for k in ours],
                                 [k["orders_demanded"] for k in theirs])
    baseline = np.mean([k["orders_demanded"] for k in theirs])
    assert abs(demanded.mean) < 0.05 * baseline, demanded.to_dict()
