"""A trading history produced by the simulator: a finished :class:`Simulation` -> the same
:class:`History` calibration reads, so a simulated seller can be calibrated, and a backend
given a past that its Seller API then reports (``peakline seed --history-days``).

Each posting of the run becomes a record: taken into processing when its order arrived,
packed (``awaiting_deliver``: the warehouse handed it to dispatch), handed over (loaded on
the first carrier: ``delivering``, Ozon's ``delivering_date``; the buyer can no longer
cancel) and delivered when the model did so, its final status, its lines with the SKU's id
and price, the buyer's city and region (the region's ``city`` and ``id``: the id is what
the backend routes by) and, for a cancelled order, when the buyer cancelled it. Each buyer
return requested during the run becomes a return created at that minute; the supplier
deliveries of the run are its receipts. Model minutes count from ``clock.start`` (Moscow).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from simulator.calibration.demand_fit import MOSCOW
from simulator.calibration.history import (
    History,
    Line,
    PostingRecord,
    Receipt,
    ReturnRecord,
    WarehouseRecord,
)
from simulator.lifecycle import STATUS_BY_CODE
from simulator.model import Simulation
from simulator.scenario import Scenario


def simulated_history(sim: Simulation, *, sku_id: Callable[[int], int] = lambda k: k,
                      warehouse_id: Callable[[int], int] = lambda w: w + 1) -> History:
    """The history of a finished run; ``sku_id`` and ``warehouse_id`` map the model's SKU and
    warehouse indexes to the ids the seller uses."""
    scenario = sim.scenario
    start = datetime.fromisoformat(scenario.clock.start).replace(tzinfo=MOSCOW)

    def at(minute: float) -> datetime | None:
        return None if not np.isfinite(minute) else (
            start + timedelta(minutes=float(minute))).astimezone(UTC)

    warehouses = scenario.network.warehouses
    regions = scenario.network.regions
    p, arrivals = sim.postings, sim.arrivals
    price = sim.skus.price
    postings = []
    for i in range(p.n):
        order = int(p.order[i])
        lines = p.lines_of(np.array([i]))
        status = STATUS_BY_CODE[int(p.status[i])].value
        number = f"{10_000_000 + order // 10_000:08d}-{order % 10_000:04d}"  # Ozon's form
        postings.append(PostingRecord(
            posting_number=f"{number}-{1 + i - int(sim.buyers.first_posting[order])}",
            order_number=number,
            in_process_at=at(arrivals.time[order]),
            status=status,
            lines=tuple(Line(sku_id(int(k)), int(q), float(price[k]))
                        for k, q in zip(p.line_sku[lines], p.line_qty[lines], strict=True)),
            warehouse_id=warehouse_id(int(p.warehouse[i])),
            warehouse=warehouses[int(p.warehouse[i])].name,
            city=regions[int(arrivals.region[order])].city,
            region=regions[int(arrivals.region[order])].id,
            delivering_date=at(p.shipped[i]),
            cancelled_at=at(arrivals.cancel_at[order]) if status == "cancelled" else None,
            packed_at=at(p.handover[i]), delivered_at=at(p.delivered[i])))
    numbers = [record.posting_number for record in postings]
    returned, requested, _ = sim.returns.columns()
    returns = []
    for row, minute in zip(returned.tolist(), requested.tolist(), strict=True):
        first = postings[row].lines[0]
        returns.append(ReturnRecord(numbers[row], first.sku, first.quantity, at(minute)))
    since = start.astimezone(UTC)
    return History(
        since=since, to=since + timedelta(hours=scenario.clock.horizon_hours),
        source=f"a simulation of {scenario.name} (seed {sim.seed})", postings=postings,
        returns=returns,
        warehouses=[WarehouseRecord(warehouse_id(w), spec.name, spec.lat, spec.lon)
                    for w, spec in enumerate(warehouses)],
        returns_until=at(sim.end),
        receipts=[Receipt(sku_id(int(k)), warehouse_id(int(w)), int(sim.stock.received[k, w]))
                  for k, w in zip(*np.nonzero(sim.stock.received), strict=True)])


def simulate_history(scenario: Scenario, *, days: int, end: datetime, seed: int = 1,
                     sku_id: Callable[[int], int] = lambda k: k,
                     warehouse_id: Callable[[int], int] = lambda w: w + 1) -> History:
    """Run ``scenario`` over the ``days`` whole (Moscow) days before ``end`` -- no drain, so
    postings in flight at the end stay open -- and return its history."""
    last = end.astimezone(MOSCOW).replace(hour=0, minute=0, second=0, microsecond=0)
    first = last - timedelta(days=days)
    world = scenario.with_overrides(**{"clock.start": f"{first:%Y-%m-%dT%H:%M}",
                                       "clock.horizon_hours": days * 24,
                                       "clock.warmup_hours": 0, "clock.drain_hours": 0})
    sim = Simulation(world, seed)
    sim.run()
    return simulated_history(sim, sku_id=sku_id, warehouse_id=warehouse_id)
