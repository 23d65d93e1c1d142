"""Run results: a flat, documented record of one replication, and the KPI collection behind it.

``RunResult`` is what ``simulator.model.run(scenario, seed)`` returns and what experiments,
the planner and reports consume. It is picklable and round-trips through JSON.

Fields
------
kpis      flat ``name -> float`` scalar KPIs (names and units listed in ``KPI_DOC``)
series    ``name -> array`` time series, one row per bin of ``series_time``; 2-D arrays have
          one column per label in ``series_columns[name]``
samples   ``name -> 1-D array`` of per-order observations (e.g. delivery lead time), for
          distributions and histograms
tables    ``name -> list of row dicts`` (e.g. stock-out hours per (SKU, warehouse), delivery
          outcomes, on-time rate and lead time per buyer region); ``peaks`` lists the
          scenario's demand peaks (name, start_hour, end_hour, multiplier)
clock_start  calendar time of hour 0 (ISO-8601, the scenario's ``clock.start``)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.demand import DAY_MINUTES
from simulator.outcomes import Outcomes
from simulator.sku_ids import offer_id, sku_id

#: KPI name -> what it means (with unit). Every key of ``RunResult.kpis`` is listed here.
#: "Counted orders" are those that arrived after the warm-up; time-weighted figures
#: (stock, utilisation) cover the window from the warm-up to the end of the horizon.
KPI_DOC: dict[str, str] = {
    "orders_demanded": "orders buyers tried to place (count)",
    "demand_vs_forecast": "orders demanded / the orders the forecast expected in the same "
    "window: how much bigger (> 1) or smaller the peak came than planned (ratio)",
    "orders_refused": "orders the allocation policy refused, e.g. out of stock: lost sales (count)",
    "orders_placed": "orders accepted with at least one posting (count)",
    "orders_delivered": "placed orders with every posting delivered by the end of the run (count)",
    "orders_cancelled": "placed orders cancelled by the buyer (count)",
    "orders_not_accepted": "placed orders with a posting refused at a sorting centre (count)",
    "orders_in_flight": "placed orders with a posting not yet final at the end of the run: "
    "in flight late + not yet due (count)",
    "orders_delivered_on_time": "delivered orders whose last posting arrived within the "
    "region's promised_days (count)",
    "orders_delivered_late": "delivered orders whose last posting arrived after the region's "
    "promised_days (count)",
    "orders_in_flight_late": "orders in flight at the end of the run and already past their "
    "promised date: late whatever happens next (count)",
    "orders_not_yet_due": "orders in flight at the end of the run whose promised date is still "
    "ahead; left out of on-time and lead time (count)",
    "postings_created": "postings (one per order and warehouse; one parcel each) (count)",
    "line_fill_rate": "share of demanded order lines served in full (0..1)",
    "order_fill_rate": "share of demanded orders with every line served in full (0..1)",
    "lost_sales_units": "units demanded but not allocated (units)",
    "lost_sales_rub": "price of the lost units (RUB)",
    "cycle_time_p50_hours": "fulfilment cycle, order placed -> last posting handed to the "
    "carrier, median over delivered orders (hours)",
    "cycle_time_p95_hours": "fulfilment cycle, 95th percentile (hours)",
    "cycle_time_p99_hours": "fulfilment cycle, 99th percentile (hours)",
    "lead_time_p50_hours": "delivery lead time, order placed -> last posting delivered, median "
    "over delivered orders and orders in flight late (those at their age at the end of the run, "
    "a lower bound) (hours)",
    "lead_time_p95_hours": "delivery lead time, 95th percentile (hours)",
    "lead_time_p99_hours": "delivery lead time, 99th percentile (hours)",
    "on_time_rate": "orders delivered within the region's promised_days / orders that were due "
    "(delivered + in flight late + not accepted); not-yet-due orders are left out (0..1)",
    "avg_on_hand_units": "time-average units on hand, all SKUs and warehouses (units)",
    "holding_cost_rub": "on-hand unit-years x unit cost x holding_cost_rate_per_year (RUB)",
    "transport_cost_rub": "cost per parcel of every lane the counted postings used, plus "
    "their share of cost_per_truck_rub of the trucks they left on (RUB)",
    "return_transport_cost_rub": "returns of counted postings x the cost per parcel of their "
    "route, travelled back (RUB)",
    "supply_cost_rub": "units ordered from suppliers x the supplier's cost_per_unit_rub on top "
    "of unit cost (RUB)",
    "stockout_cost_rub": "lost units x (price - unit cost) x stockout_cost_ratio (RUB)",
    "total_cost_rub": "holding + transport + return transport + supply + stock-out cost (RUB)",
    "picker_utilisation": "units picked / pick capacity of all warehouses (0..1)",
    "sorting_utilisation": "parcels sorted / sorting capacity (parcel-level centres: busy "
    "sorter time / sorter time) (0..1)",
    "truck_utilisation": "parcels loaded / truck capacity, over scheduled departures that "
    "carried anything (0..1)",
    "stockout_sku_hours": "hours (SKU, warehouse) pairs spent with nothing available, summed "
    "(SKU-hours)",
    "warehouse_wait_hours_mean": "posting created -> picked, mean over picked postings (hours)",
    "sorting_wait_hours_mean": "parcel arrived at a sorting centre -> sorting started, mean over "
    "sorted visits: a parcel through two centres counts both, each from its own arrival (hours)",
    "parcels_not_accepted": "parcels refused at sorting centres (count)",
    "cancel_requests_too_late": "cancellations refused because a posting had left (count)",
    "replenishment_orders": "purchase orders placed with suppliers (count)",
    "replenishment_units": "units ordered from suppliers (units)",
    "units_received": "units delivered by suppliers during the run (units)",
    "unroutable_parcels": "parcels with no route onward from where they are (count)",
    "returns_requested": "delivered postings the buyers sent back during the run, with "
    "probability demand.return_probability, return_delay_hours after delivery (count)",
    "units_returned_to_stock": "units of returns back on the warehouse shelf (sellable) by the "
    "end of the run (units)",
    "returns_in_transit_at_end": "returns requested but not yet back on the shelf at the end of "
    "the run (postings)",
}


class LevelMonitor:
    """Time-weighted levels (stock, backlog) of several columns, kept apart from tallies.

    ``add(t, column, delta)`` records a change; changes may come out of time order (they are
    sorted when read). :meth:`bin_means` gives the time-average level per bin, :meth:`mean`
    over one window. The integral is exact for the step function the changes describe.
    """

    def __init__(self, initial: np.ndarray | list[float]) -> None:
        self.initial = np.asarray(initial, dtype=float)
        self._t: list[float] = []
        self._col: list[int] = []
        self._delta: list[float] = []
        self._arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, t: float, column: int, delta: float) -> None:
        self._t.append(t)
        self._col.append(column)
        self._delta.append(delta)

    def add_arrays(self, t: np.ndarray, column: np.ndarray, delta: np.ndarray) -> None:
        """Many changes at once (times, columns and deltas side by side); columns and deltas
        keep a compact dtype if they have one (e.g. int16 columns, int8 deltas of +-1)."""
        column, delta = np.asarray(column), np.asarray(delta)
        if column.dtype.kind not in "iu":
            column = column.astype(np.int64)
        self._arrays.append((np.asarray(t, dtype=float), column, delta))

    def _lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self._t, dtype=float), np.asarray(self._col, dtype=np.int64),
                np.asarray(self._delta, dtype=float))

    def _changes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        chunks = [self._lists(), *self._arrays]
        t, col, delta = (np.concatenate([c[i] for c in chunks]) for i in range(3))
        return t, col.astype(np.int64, copy=False), delta.astype(float, copy=False)

    def _columns(self) -> Iterator[list[np.ndarray]]:
        """Each column's ``[change times, deltas]`` in the order they were added (one column
        at a time: never all columns' changes at once)."""
        chunks = [self._lists(), *self._arrays]
        for c in range(len(self.initial)):
            masks = [col == c for _, col, _ in chunks]
            yield [np.concatenate([t[m] for (t, _, _), m in zip(chunks, masks, strict=True)]),
                   np.concatenate([d[m] for (_, _, d), m in zip(chunks, masks, strict=True)])]

    def integral(self, points: np.ndarray) -> np.ndarray:
        """``F[i, c]``: integral of column ``c``'s level from 0 to ``points[i]`` (minutes)."""
        points = np.asarray(points, dtype=float)
        out = np.zeros((len(points), len(self.initial)))
        for c, changes in enumerate(self._columns()):
            out[:, c] = _step_integral(changes, float(self.initial[c]), points)
        return out

    def bin_means(self, edges: np.ndarray) -> np.ndarray:
        """Time-average level per bin ``[edges[i], edges[i+1])`` and column: shape (T, C)."""
        edges = np.asarray(edges, dtype=float)
        return np.diff(self.integral(edges), axis=0) / np.diff(edges)[:, None]

    def mean(self, t0: float, t1: float) -> np.ndarray:
        """Time-average level of each column over ``[t0, t1]``."""
        f = self.integral(np.array([t0, t1]))
        return (f[1] - f[0]) / max(t1 - t0, 1e-12)

    def merge(self, other: LevelMonitor) -> LevelMonitor:
        """Columns side by side (e.g. monitors of two node kinds)."""
        merged = LevelMonitor(np.concatenate([self.initial, other.initial]))
        t, col, delta = self._changes()
        merged.add_arrays(t, col, delta)
        t, col, delta = other._changes()
        merged.add_arrays(t, col + len(self.initial), delta)
        return merged


def _step_integral(changes: list[np.ndarray], level0: float, points: np.ndarray) -> np.ndarray:
    """Integral from 0 to each of ``points`` of the level that starts at ``level0`` and steps
    by ``changes = [times, deltas]`` (taken out of the list, so they are freed early): the
    changes sorted by time (stable), the areas summed in that order."""
    t, delta = changes
    changes.clear()
    order = np.argsort(t, kind="stable")
    m = order.size
    # knots: 0, then the change times in order; levels: the level from each knot on; filled
    # in place (these arrays are as long as the column's changes)
    knots = np.empty(m + 1)
    knots[0] = 0.0
    np.maximum(t[order], 0.0, out=knots[1:])
    del t
    levels = np.empty(m + 1)
    levels[0] = 0.0
    np.cumsum(delta[order], out=levels[1:])
    del delta, order
    levels += level0
    steps = np.diff(knots)
    steps *= levels[:-1]
    area = np.empty(m + 1)
    area[0] = 0.0
    np.cumsum(steps, out=area[1:])
    del steps
    k = np.searchsorted(knots, points, side="right") - 1
    return area[k] + levels[k] * (points - knots[k])


class Tally:
    """Per-event amounts (units picked per wave, parcels per truck) with their times."""

    def __init__(self) -> None:
        self._t: list[float] = []
        self._value: list[float] = []

    def add(self, t: float, value: float) -> None:
        self._t.append(t)
        self._value.append(value)

    @property
    def times(self) -> np.ndarray:
        return np.asarray(self._t, dtype=float)

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._value, dtype=float)

    def per_bin(self, edges: np.ndarray) -> np.ndarray:
        return np.histogram(self.times, bins=edges, weights=self.values)[0]

    def within(self, t0: float, t1: float) -> float:
        t = self.times
        return float(self.values[(t >= t0) & (t < t1)].sum())


@dataclass
class RunResult:
    """One replication of one scenario under one pair of policies: a pure function of the
    scenario and the seed (run metadata such as wall time lives apart, in ``run_meta.json``)."""

    scenario: str
    seed: int
    allocation: str
    replenishment: str
    horizon_hours: float
    resolution_minutes: int
    kpis: dict[str, float] = field(default_factory=dict)
    series_time: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bin start, hours
    series: dict[str, np.ndarray] = field(default_factory=dict)
    series_columns: dict[str, list[str]] = field(default_factory=dict)
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    clock_start: str = ""
    time_zone: str = ""  # the platform's zone of clock_start and every time axis

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "allocation": self.allocation,
            "replenishment": self.replenishment,
            "horizon_hours": self.horizon_hours,
            "resolution_minutes": self.resolution_minutes,
            "clock_start": self.clock_start,
            "time_zone": self.time_zone,
            "kpis": self.kpis,
            "series_time": self.series_time.tolist(),
            "series": {k: v.tolist() for k, v in self.series.items()},
            "series_columns": self.series_columns,
            "samples": {k: v.tolist() for k, v in self.samples.items()},
            "tables": self.tables,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        return cls(
            scenario=data["scenario"],
            seed=data["seed"],
            allocation=data["allocation"],
            replenishment=data["replenishment"],
            horizon_hours=data["horizon_hours"],
            resolution_minutes=data["resolution_minutes"],
            clock_start=data.get("clock_start", ""),
            time_zone=data.get("time_zone", ""),
            kpis=dict(data["kpis"]),
            series_time=np.asarray(data["series_time"], dtype=float),
            series={k: np.asarray(v) for k, v in data["series"].items()},
            series_columns={k: list(v) for k, v in data["series_columns"].items()},
            samples={k: np.asarray(v) for k, v in data["samples"].items()},
            tables=data.get("tables", {}),
        )

    def write_json(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def read_json(cls, path: Path) -> RunResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- collection

MINUTES_PER_YEAR = 365 * DAY_MINUTES
_SAMPLE_DECIMALS = 3


def _percentiles(values: np.ndarray, name: str) -> dict[str, float]:
    if values.size == 0:
        return {f"{name}_p{q}_hours": float("nan") for q in (50, 95, 99)}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {f"{name}_p50_hours": float(p50), f"{name}_p95_hours": float(p95),
            f"{name}_p99_hours": float(p99)}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def _utilisation(used: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Work per bin / capacity per bin, at most 1: a wave is booked in the bin it starts in and
    may use capacity carried over from the wave before."""
    ratio = np.divide(used, capacity, out=np.zeros_like(used, dtype=float), where=capacity > 0)
    return np.minimum(ratio, 1.0)


def collect(sim: Any) -> RunResult:
    """The :class:`RunResult` of a finished :class:`simulator.model.Simulation`.

    A pure function of the simulation's final arrays and monitors: order states are derived
    from their postings (in flight if any posting is not final; else cancelled if cancelled;
    else not_accepted if any posting was refused; else delivered).
    """
    from simulator.actors.postings import CANCELLED, DELIVERED, NOT_ACCEPTED

    sc, arrivals, buyers, p, stock = sim.scenario, sim.arrivals, sim.buyers, sim.postings, sim.stock
    net, skus = sim.network, sim.skus
    w0, w1 = sim.window
    span = max(w1 - w0, 1e-9)
    n_orders, n = arrivals.count, p.n
    counted = arrivals.time >= w0

    # ---------------------------------------------------------------- order states
    order_of = p.order[:n]
    status = p.status[:n]

    def per_order(mask: np.ndarray) -> np.ndarray:
        return np.bincount(order_of[mask], minlength=n_orders)

    n_post = buyers.n_postings
    placed = n_post > 0
    final = (status == DELIVERED) | (status == CANCELLED) | (status == NOT_ACCEPTED)
    in_flight = placed & (per_order(~final) > 0)
    del final
    cancelled = placed & ~in_flight & (per_order(status == CANCELLED) == n_post)
    not_accepted = placed & ~in_flight & ~cancelled & (per_order(status == NOT_ACCEPTED) > 0)
    delivered = placed & ~in_flight & ~cancelled & ~not_accepted
    assert np.all(per_order(status == DELIVERED)[delivered] == n_post[delivered])

    # the latest time of an order's postings (-inf if none has one; fmax skips NaN)
    last_delivery = np.full(n_orders, -np.inf)
    np.fmax.at(last_delivery, order_of, p.delivered[:n])
    last_handover = np.full(n_orders, -np.inf)
    np.fmax.at(last_handover, order_of, p.handover[:n])
    done = delivered & counted
    lead = (last_delivery[done] - arrivals.time[done]) / 60
    cycle = (last_handover[done] - arrivals.time[done]) / 60
    del last_handover
    promised_days = [r.promised_days for r in sc.network.regions]
    outcomes = Outcomes.of(
        placed=placed, delivered=delivered, in_flight=in_flight, cancelled=cancelled,
        not_accepted=not_accepted, ordered_at=arrivals.time, delivered_at=last_delivery,
        promised_minutes=np.array(promised_days)[arrivals.region] * DAY_MINUTES, end=sim.end)
    outcome_counts = outcomes.counts(counted)
    res = sc.clock.resolution_minutes
    edges = np.arange(math.ceil(sim.end / res) + 1, dtype=float) * res
    delivered_series = np.histogram(last_delivery[delivered], edges)[0].astype(float)
    del last_delivery
    samples = {"lead_time_hours": np.round(lead, _SAMPLE_DECIMALS),
               "cycle_time_hours": np.round(cycle, _SAMPLE_DECIMALS)}
    del lead

    # ---------------------------------------------------------------- lines and lost sales
    # (line arrays are the largest: each is dropped as soon as its figures are taken)
    n_w = len(net.warehouse_ids)
    # arrivals are in time order: the counted orders, and so their lines, are a suffix
    first_line = int(arrivals.line_start[np.searchsorted(arrivals.time, w0, side="left")])
    lost = arrivals.qty[first_line:] - buyers.filled[first_line:]
    line_sku = arrivals.sku[first_line:]
    full_line = lost == 0
    line_fill_rate = _ratio(full_line.sum(), full_line.size)
    del full_line
    short = np.flatnonzero(lost)  # lines not served in full (whole units: zeros add nothing)
    short_order = np.searchsorted(arrivals.line_start, short + first_line, side="right") - 1
    order_fill_rate = _ratio(counted.sum() - np.unique(short_order).size, counted.sum())
    home = sim.home_warehouse[line_sku[short], arrivals.region[short_order]]
    lost_pair = np.bincount(line_sku[short].astype(np.int64) * n_w + home, weights=lost[short],
                            minlength=skus.count * n_w).astype(float)  # (int if none short)
    del home, short, short_order
    margin = (skus.price - skus.unit_cost)[line_sku]
    lost_rub = float((lost * skus.price[line_sku]).sum())
    stockout_cost = float((lost * margin).sum() * sc.stock.stockout_cost_ratio)
    lost_units = float(lost.sum())
    del margin, lost, line_sku

    # ---------------------------------------------------------------- stock and costs
    holding = float((stock.area * skus.unit_cost[:, None]).sum()
                    * sc.stock.holding_cost_rate_per_year / MINUTES_PER_YEAR)
    post_counted = counted[order_of]
    transport = float(p.cost[:n][post_counted].sum())

    # ---------------------------------------------------------------- utilisation
    pick_used = sum(w.picked_units.within(w0, w1) for w in sim.warehouses)
    pick_cap = sum(c.between(w0, w1) for c in sim.warehouse_capacity)
    sort_used = sort_cap = 0.0
    for centre, capacity in zip(sim.sorting, sim.sorting_capacity, strict=False):
        sort_used += centre.processed.within(w0, w1)
        if hasattr(centre, "servers"):
            sort_cap += centre.servers * span
        else:
            sort_cap += capacity.between(w0, w1)
    loaded = offered = 0.0
    for carrier in sim.carriers:
        t = carrier.trucks.times
        sel = (t >= w0) & (t < w1)
        loaded += float(carrier.trucks.values[sel].sum())
        offered += float(sel.sum()) * carrier.lane.spec.truck_capacity

    returns_requested, _, _ = sim.returns.columns()
    returns_done, returns_done_at = sim.returns.received()
    back = returns_requested[post_counted[returns_requested]]
    back_cost = net.cost_per_parcel[p.warehouse[back], sim.world.order_region[p.order[back]]]
    return_transport = float(back_cost[np.isfinite(back_cost)].sum())
    supply = sim.replenisher.extra_cost

    visits = sim.world.visits

    def mean_wait_hours(kind: str) -> float:
        rows = visits.rows(net.nodes_of(kind))
        rows = rows[visits.served[rows] & post_counted[visits.posting[rows]]]
        return float(visits.waits(rows, sim.end).mean() / 60) if rows.size else float("nan")
    kpis: dict[str, float] = {
        "orders_demanded": float(counted.sum()),
        "demand_vs_forecast": _ratio(counted.sum(),
                                     sim.forecast.expected_orders(np.array([w0, w1]))[0]),
        "orders_refused": float((counted & ~placed).sum()),
        "orders_placed": float((counted & placed).sum()),
        "orders_delivered": float(done.sum()),
        "orders_cancelled": float((counted & cancelled).sum()),
        "orders_not_accepted": float((counted & not_accepted).sum()),
        "orders_in_flight": float((counted & in_flight).sum()),
        **{f"orders_{name}": float(outcome_counts[name])
           for name in ("delivered_on_time", "delivered_late", "in_flight_late", "not_yet_due")},
        "postings_created": float(post_counted.sum()),
        "line_fill_rate": line_fill_rate,
        "order_fill_rate": order_fill_rate,
        "lost_sales_units": lost_units,
        "lost_sales_rub": lost_rub,
        **_percentiles(cycle, "cycle_time"),
        **outcomes.lead_percentiles(counted),
        "on_time_rate": outcomes.on_time_rate(counted),
        "avg_on_hand_units": float(stock.area.sum() / span),
        "holding_cost_rub": holding,
        "transport_cost_rub": transport,
        "return_transport_cost_rub": return_transport,
        "supply_cost_rub": supply,
        "stockout_cost_rub": stockout_cost,
        "total_cost_rub": holding + transport + return_transport + supply + stockout_cost,
        "picker_utilisation": _ratio(pick_used, pick_cap),
        "sorting_utilisation": _ratio(sort_used, sort_cap),
        "truck_utilisation": _ratio(loaded, offered),
        "stockout_sku_hours": float(stock.stockout_minutes.sum() / 60),
        "warehouse_wait_hours_mean": mean_wait_hours("warehouse"),
        "sorting_wait_hours_mean": mean_wait_hours("sorting_centre"),
        "parcels_not_accepted": float(((status == NOT_ACCEPTED) & post_counted).sum()),
        "cancel_requests_too_late": float(buyers.cancel_too_late),
        "replenishment_orders": float(sim.replenisher.orders),
        "replenishment_units": float(sim.replenisher.units),
        "units_received": float(stock.received.sum()),
        "unroutable_parcels": float(sim.world.unroutable),
        "returns_requested": float(returns_requested.size),
        "units_returned_to_stock": float(stock.returned.sum()),
        "returns_in_transit_at_end": float(returns_requested.size - returns_done.size),
    }
    missing = set(kpis) ^ set(KPI_DOC)
    assert not missing, f"KPI_DOC and kpis differ: {missing}"

    del cycle

    # ---------------------------------------------------------------- series
    wh_ids = list(net.warehouse_ids)
    sc_ids = [c.id for c in sc.network.sorting_centres]
    pick_series = np.column_stack([w.picked_units.per_bin(edges) for w in sim.warehouses])
    pick_cap_series = np.column_stack([c.integral(edges) for c in sim.warehouse_capacity])
    if sim.sorting:
        sort_series = np.column_stack([c.processed.per_bin(edges) for c in sim.sorting])
        sort_cap_series = np.column_stack([
            np.diff(edges) * c.servers if hasattr(c, "servers") else cap.integral(edges)
            for c, cap in zip(sim.sorting, sim.sorting_capacity, strict=False)])
    else:
        sort_series = sort_cap_series = np.zeros((len(edges) - 1, 0))
    series = {
        "orders_demanded": np.histogram(arrivals.time, edges)[0].astype(float),
        "orders_placed": np.histogram(arrivals.time[placed], edges)[0].astype(float),
        "demand_expected": sim.curve.expected_orders(edges),
        "orders_delivered": delivered_series,
        "backlog_warehouse": sim.backlog("warehouse").bin_means(edges),
        "backlog_sorting": sim.backlog("sorting_centre").bin_means(edges),
        "backlog_hub": sim.backlog("hub").bin_means(edges),
        "on_hand_warehouse": stock.on_hand_level.bin_means(edges),
        "utilisation_warehouse": _utilisation(pick_series, pick_cap_series),
        "utilisation_sorting": _utilisation(sort_series, sort_cap_series),
        "stockouts_warehouse": stock.stockout_level.bin_means(edges),
        "returns_received": np.histogram(returns_done_at, edges)[0].astype(float),
    }
    columns = {"backlog_warehouse": wh_ids, "backlog_sorting": sc_ids,
               "backlog_hub": [h.id for h in sc.network.hubs],
               "on_hand_warehouse": wh_ids, "utilisation_warehouse": wh_ids,
               "utilisation_sorting": sc_ids, "stockouts_warehouse": wh_ids}

    # ---------------------------------------------------------------- tables
    flows: dict[tuple[str, str], int] = {}
    for carrier in sim.carriers:
        key = (net.ids[carrier.lane.src], net.ids[carrier.lane.dst])
        flows[key] = flows.get(key, 0) + carrier.parcels
    # the counted postings' lines (a posting's lines are contiguous, in posting order)
    line_mask = np.repeat(post_counted, p.line_count[:n])
    line_wh = np.repeat(p.warehouse[:n], p.line_count[:n])[line_mask]
    keys = p.line_sku[: p.n_lines][line_mask].astype(np.int64) * n_w + line_wh
    del line_wh
    filled_pair = np.bincount(keys, weights=p.line_qty[: p.n_lines][line_mask],
                              minlength=skus.count * n_w)
    del keys, line_mask
    avg_pair = (stock.area / span).reshape(-1)
    out_pair = (stock.stockout_minutes / 60).reshape(-1)
    codes = np.flatnonzero((filled_pair + lost_pair > 0) | (avg_pair > 0))
    index = (codes // n_w).tolist()
    rows = [{"sku": sku, "offer_id": offer_id(i), "warehouse": wh_ids[w], "demand_units": demand,
             "filled_units": filled, "lost_units": lost_units_, "avg_on_hand": round(avg, 3),
             "stockout_hours": round(out, 3)}
            for sku, i, w, demand, filled, lost_units_, avg, out in zip(
                sku_id(codes // n_w).tolist(), index, (codes % n_w).tolist(),
                (filled_pair[codes] + lost_pair[codes]).tolist(), filled_pair[codes].tolist(),
                lost_pair[codes].tolist(), avg_pair[codes].tolist(), out_pair[codes].tolist(),
                strict=True)]
    tables = {
        "nodes": net.node_rows(),
        "flows": [{"from": a, "to": b, "parcels": v} for (a, b), v in flows.items()],
        "sku_warehouse": rows,
        "regions": outcomes.region_rows(arrivals.region, net.region_ids, promised_days, counted),
        "peaks": [{"name": k.name, "start_hour": k.start_hour,
                   "end_hour": k.start_hour + k.duration_hours, "multiplier": k.multiplier}
                  for k in sc.demand.peaks],
    }
    return RunResult(
        scenario=sc.name, seed=sim.seed, allocation=sim.allocation.name,
        replenishment=sim.replenishment.name, horizon_hours=sc.clock.horizon_hours,
        resolution_minutes=res, kpis=kpis, series_time=edges[:-1] / 60, series=series,
        series_columns=columns,
        samples=samples,
        tables=tables, clock_start=sc.clock.start, time_zone=sc.clock.time_zone,
    )


def write_run_files(result: RunResult, directory: Path) -> list[Path]:
    """``result.json`` plus CSV files: ``kpis.csv`` (overall KPIs, then per-region ones named
    ``<kpi>[<region>]``), ``series.csv`` (1-D series side by side),
    one ``<series>.csv`` per 2-D series (a column per node) and ``sku_warehouse.csv``."""
    import csv

    directory.mkdir(parents=True, exist_ok=True)
    written = [result.write_json(directory / "result.json")]
    path = directory / "kpis.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["kpi", "value", "meaning"])
        for name, value in result.kpis.items():
            out.writerow([name, value, KPI_DOC.get(name, "")])
        for row in result.tables.get("regions", []):
            for name, value in row.items():
                if name in KPI_DOC:
                    out.writerow([f"{name}[{row['region']}]", value,
                                  f"{KPI_DOC[name]}; region {row['region']} only"])
    written.append(path)
    flat = {k: v for k, v in result.series.items() if v.ndim == 1}
    path = directory / "series.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["time_hours", *flat])
        for i, t in enumerate(result.series_time.tolist()):
            out.writerow([t, *(round(float(v[i]), 6) for v in flat.values())])
    written.append(path)
    for name, values in result.series.items():
        if values.ndim != 2:
            continue
        path = directory / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["time_hours", *result.series_columns.get(name, [])])
            for t, row in zip(result.series_time.tolist(), values.tolist(), strict=True):
                out.writerow([t, *(round(v, 6) for v in row)])
        written.append(path)
    rows = result.tables.get("sku_warehouse", [])
    if rows:
        path = directory / "sku_warehouse.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.DictWriter(fh, fieldnames=list(rows[0]))
            out.writeheader()
            out.writerows(rows)
        written.append(path)
    return written
