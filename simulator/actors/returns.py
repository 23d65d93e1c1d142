"""Buyer returns (reverse logistics): delivered postings sent back and put on the shelf again.

When a parcel is booked delivered, it is returned with probability
``demand.return_probability`` (with ``return_probability`` on SKU groups: the mean of its
units' groups' probabilities, so returned units follow each group's rate): one draw per
posting from the run's own ``returns`` stream, so demand, transit and every other input
draw the same numbers with or without returns (and common random numbers across policies
keep working). The buyer hands the return in ``demand.return_delay_hours`` after delivery
(the return request); it travels back to the posting's warehouse in the expected hours of
the warehouse -> region route (the reverse flow rides the same lanes back, consolidated; no
queues or trucks are modelled for it; it costs the route's cost per parcel, the
``return_transport_cost_rub`` KPI), and is put back on the shelf as sellable stock at the
next whole hour: returns are inspected and put away in hourly batches, one event per hour
with arrivals, never one per parcel.

The posting itself stays ``delivered`` (on Ozon a return is a separate object). Returns are rows
of their own columns -- ``posting``, ``requested`` (minute the buyer handed it in) and
``putaway`` (minute it is due on the shelf) -- kept for returns requested by the end of the
run; those not on the shelf by then are in transit at the end.
"""

from __future__ import annotations

import numpy as np

from simulator.actors.schedule import call_at
from simulator.actors.world import World

PUTAWAY_MINUTES = 60  # returns are put back on the shelf in batches at each whole hour


class Returns:
    """The returns of one run: decisions at delivery, and hourly put-away into stock."""

    def __init__(self, world: World, sku_group: np.ndarray) -> None:
        self.world = world
        demand = world.scenario.demand
        by_group = np.array([demand.return_probability if g.return_probability is None
                             else g.return_probability for g in world.scenario.catalogue.groups])
        self.probability = float(by_group.max())
        # per SKU when groups differ, else one figure for every posting
        self._sku_probability = (by_group[sku_group] if np.ptp(by_group) > 0 else None)
        self.delay = demand.return_delay_hours
        self._rng = world.streams["returns"]
        hours = world.network.transit_hours  # [warehouse, region], inf when unreachable
        self._back_minutes = np.where(np.isfinite(hours), hours * 60, 0.0)
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending: dict[float, list[np.ndarray]] = {}
        self._done: list[np.ndarray] = []
        self._done_at: list[np.ndarray] = []

    def book(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Parcels ``ids`` are delivered at ``times``: decide their returns, schedule put-away."""
        if self.probability <= 0 or ids.size == 0:
            return
        back = self._rng.random(ids.size) < self._probabilities(ids)
        if not back.any():
            return
        world = self.world
        ids = ids[back]
        delivered = np.broadcast_to(times, back.shape)[back]
        requested = delivered + self.delay.sample(self._rng, ids.size) * 60
        keep = requested <= world.end
        if not keep.all():
            ids, requested = ids[keep], requested[keep]
            if ids.size == 0:
                return
        p = world.postings
        region = world.order_region[p.order[ids]]
        arrive = requested + self._back_minutes[p.warehouse[ids], region]
        putaway = np.ceil(arrive / PUTAWAY_MINUTES) * PUTAWAY_MINUTES
        self._rows.append((ids, requested, putaway))
        due = putaway <= world.end
        if not due.any():
            return
        ids, putaway = ids[due], putaway[due]
        for tick in np.unique(putaway).tolist():
            batch = ids[putaway == tick]
            pending = self._pending.get(tick)
            if pending is None:
                self._pending[tick] = [batch]
                call_at(world.env, tick, lambda tick=tick: self._put_away(tick))
            else:
                pending.append(batch)

    def _probabilities(self, ids: np.ndarray) -> np.ndarray | float:
        """Return probability of each posting: the mean over its units."""
        if self._sku_probability is None:
            return self.probability
        p = self.world.postings
        lines = p.lines_of(ids)
        owner = np.repeat(np.arange(ids.size), p.line_count[ids])
        qty = p.line_qty[lines].astype(float)
        chance = np.bincount(owner, weights=qty * self._sku_probability[p.line_sku[lines]],
                             minlength=ids.size)
        return chance / np.maximum(np.bincount(owner, weights=qty, minlength=ids.size), 1e-12)

    def _put_away(self, tick: float) -> None:
        batches = self._pending.pop(tick)
        rows = batches[0] if len(batches) == 1 else np.concatenate(batches)
        world = self.world
        p = world.postings
        lines = p.lines_of(rows)
        wh = np.repeat(p.warehouse[rows], p.line_count[rows]).astype(np.int64)
        world.stock.return_to_stock(p.line_sku[lines], p.line_qty[lines], wh, world.env.now)
        self._done.append(rows)
        self._done_at.append(np.full(rows.size, world.env.now))

    # ------------------------------------------------------------------ results

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(posting, requested, putaway)`` of every return requested by the end of the run."""
        if not self._rows:
            empty = np.zeros(0)
            return np.zeros(0, dtype=np.int64), empty, empty
        return tuple(np.concatenate(col) for col in zip(*self._rows, strict=True))  # type: ignore[return-value]

    def received(self) -> tuple[np.ndarray, np.ndarray]:
        """``(posting, minute)`` of the returns put back on the shelf during the run."""
        if not self._done:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(self._done), np.concatenate(self._done_at)
