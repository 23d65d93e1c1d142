"""Suppliers and the replenishment loop: policy decisions, purchase orders, deliveries.

Under continuous review (the policy's ``review_hours`` is None) the buyers call
:meth:`Replenisher.review` after every step with the (SKU, warehouse) pairs whose stock the
step changed; under periodic review a process asks the policy about every pair each
``review_hours`` (from minute 0). A positive quantity becomes a purchase order that arrives
after a lead time sampled from the supplier of the SKU's group: of the ``stock.suppliers``
that name the group (or name none), the one the replenishment policy's ``supplier`` rule
picks (``fastest`` by mean lead time, or ``cheapest`` by ``cost_per_unit_rub``); a group no
supplier names is refilled by the default one (``stock.supplier_lead_time_days``, no extra
cost). The policy sees that supplier's lead time (mean, sd) for each pair.

Only pairs the warehouse carries (it started with stock of the SKU, or received some) are
reviewed. Each day the replenisher records every pair's demand: units allocated there, plus
lost units booked at the SKU's home warehouse for the order's region (the nearest carrying
it). ``mean_daily_demand`` in the ``InventoryState`` is the mean of the last 7 days, where
days not yet observed count the prior (the SKU's baseline demand times the weight share of
the regions whose home for that SKU is the warehouse);
``sd_daily_demand`` is the standard deviation of the same 7 values, at least the Poisson
``sqrt(mean)``.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.actors.schedule import MinuteBatches
from simulator.actors.world import World
from simulator.distributions import Distribution
from simulator.policies.base import (
    InventoryBatch,
    InventoryState,
    ReplenishmentPolicy,
    bulk_method,
)
from simulator.scenario import Scenario

HISTORY_DAYS = 7
DAY_CHUNK = 1 << 17  # postings or orders per chunk of a day's demand record


def choose_suppliers(scenario: Scenario) -> tuple[list[tuple[Distribution, float]], list[int]]:
    """The suppliers in use as ``(lead time in days, cost per unit)``, in order of first use,
    and the index of each SKU group's among them (the replenishment policy's ``supplier``
    rule; a group no supplier names has the default one)."""
    stock, rule = scenario.stock, scenario.policies.replenishment.supplier
    offers = [(s.lead_time_days, s.cost_per_unit_rub) for s in stock.suppliers]
    offers.append((stock.supplier_lead_time_days, 0.0))  # the default, last
    default = len(offers) - 1
    used: list[int] = []
    chosen: list[int] = []
    for group in scenario.catalogue.groups:
        names = [i for i, s in enumerate(stock.suppliers)
                 if s.sku_groups is None or group.name in s.sku_groups]
        if rule == "fastest":
            best = min(names, key=lambda i: (offers[i][0].mean, offers[i][1]), default=default)
        else:
            best = min(names, key=lambda i: (offers[i][1], offers[i][0].mean), default=default)
        if best not in used:
            used.append(best)
        chosen.append(used.index(best))
    return [offers[i] for i in used], chosen


class Replenisher:
    """Asks the replenishment policy and runs the purchase orders of all warehouses."""

    def __init__(self, world: World, policy: ReplenishmentPolicy, prior_daily: np.ndarray,
                 home: np.ndarray, sku_group: np.ndarray) -> None:
        self.world = world
        self.policy = policy
        self.continuous = policy.review_hours is None
        # the policy's bulk form of order_quantity, if it has one (same decisions)
        self._bulk = bulk_method(policy, "order_quantities", "order_quantity")
        self.prior = prior_daily  # [sku, warehouse] units/day
        self.home = home  # [sku, region] -> warehouse
        self.warehouse_ids = tuple(world.network.warehouse_ids)
        suppliers, of_group = choose_suppliers(world.scenario)
        self.leads = [lead for lead, _ in suppliers]
        self.supplier = np.asarray(of_group, dtype=np.int64)[sku_group]  # per SKU
        self.unit_extra = np.array([cost for _, cost in suppliers])
        self.lead_mean = np.array([float(lead.mean) for lead in self.leads])[self.supplier]
        self.lead_sd = np.array([float(math.sqrt(lead.variance))
                                 for lead in self.leads])[self.supplier]
        self.extra_cost = 0.0  # RUB: units ordered x their supplier's cost_per_unit_rub
        self.history = np.zeros((HISTORY_DAYS, *prior_daily.shape), dtype=np.float32)
        self.days = 0
        self.mean = prior_daily.astype(float)
        self.sd = np.sqrt(self.mean)
        self.orders = 0
        self.units = 0
        self.buyers = None  # set by the model (for the demand records)
        self._marks = (0, 0, 0)  # postings, posting lines, orders already counted
        self._rng = world.streams["suppliers"]
        # deliveries due in the same minute arrive together (at the first one's turn)
        self.deliveries = MinuteBatches(world.env, world.end, self._receive)
        world.env.process(self._days())
        if not self.continuous:
            world.env.process(self._periodic(float(policy.review_hours) * 60))

    # ------------------------------------------------------------------ demand records

    def _days(self):
        env = self.world.env
        while env.now + 1440 <= self.world.end:
            yield env.timeout(1440)
            self._close_day()

    def _close_day(self) -> None:
        p, buyers, arrivals = self.world.postings, self.buyers, self.buyers.arrivals
        n_s, n_w = self.prior.shape
        p0, _, o0 = self._marks
        o1 = buyers.processed
        # units per (sku, warehouse): allocated, plus lost at the SKU's home warehouse; in
        # chunks of postings and orders (whole units: float sums are exact in any grouping)
        day = np.zeros(n_s * n_w)
        for a in range(p0, p.n, DAY_CHUNK):
            b = min(a + DAY_CHUNK, p.n)
            la, lb = p.line_start[a], p.line_start[b - 1] + p.line_count[b - 1]
            wh = np.repeat(p.warehouse[a:b], p.line_count[a:b]).astype(np.int64)
            day += np.bincount(p.line_sku[la:lb] * n_w + wh, weights=p.line_qty[la:lb],
                               minlength=n_s * n_w)
        for a in range(o0, o1, DAY_CHUNK):
            b = min(a + DAY_CHUNK, o1)
            lines = np.arange(arrivals.line_start[a], arrivals.line_start[b])
            lost = arrivals.qty[lines] - buyers.filled[lines]
            order_of_line = np.repeat(np.arange(a, b), np.diff(arrivals.line_start[a : b + 1]))
            home = self.home[arrivals.sku[lines], arrivals.region[order_of_line]]
            day += np.bincount(arrivals.sku[lines] * n_w + home, weights=lost,
                               minlength=n_s * n_w)
        self._marks = (p.n, p.n_lines, o1)
        self.history = np.roll(self.history, -1, axis=0)
        self.history[-1] = day.reshape(n_s, n_w)
        self.days += 1
        seen = min(self.days, HISTORY_DAYS)
        filled = self.history.astype(float)
        filled[: HISTORY_DAYS - seen] = self.prior
        self.mean = filled.mean(axis=0)
        self.sd = np.maximum(filled.std(axis=0), np.sqrt(self.mean))

    # ------------------------------------------------------------------ decisions

    def _periodic(self, every: float):
        env = self.world.env
        while env.now < self.world.end:
            self.review(np.flatnonzero(self.world.stock.carried.reshape(-1)), env.now)
            self.deliveries.seal(env.now + every)
            yield env.timeout(every)

    def review(self, codes: np.ndarray, t: float) -> None:
        """Ask the policy about pairs ``codes`` (sku * W + warehouse); place what it orders."""
        stock = self.world.stock
        n_w = stock.n_warehouses
        s_arr, w_arr = codes // n_w, codes % n_w
        columns = [stock.on_hand[s_arr, w_arr], stock.reserved[s_arr, w_arr],
                   stock.on_order[s_arr, w_arr], self.mean[s_arr, w_arr], self.sd[s_arr, w_arr]]
        if self._bulk is not None:
            q = np.asarray(self._bulk(InventoryBatch(
                s_arr, w_arr, self.warehouse_ids, t / 60, *columns, self.lead_mean[s_arr],
                self.lead_sd[s_arr])))
            chosen = q > 0
            if chosen.any():
                self._place(s_arr[chosen], w_arr[chosen], q[chosen].astype(np.int64), t)
            return
        seen = min(self.days, HISTORY_DAYS)
        if seen:
            histories = [tuple(h) for h in
                         self.history[HISTORY_DAYS - seen :, s_arr, w_arr].T.tolist()]
        else:
            histories = [()] * codes.size
        ask, names = self.policy.order_quantity, self.warehouse_ids
        hours = t / 60
        out_s, out_w, out_q = [], [], []
        for s, w, on_hand, reserved, on_order, mean, sd, lead, lead_sd, history in zip(
            s_arr.tolist(), w_arr.tolist(), *(c.tolist() for c in columns),
            self.lead_mean[s_arr].tolist(), self.lead_sd[s_arr].tolist(), histories,
            strict=True,
        ):
            q = ask(InventoryState(s, names[w], hours, on_hand, reserved, on_order, mean, sd,
                                   lead, lead_sd, history))
            if q:
                if not isinstance(q, int | np.integer) or q < 0:
                    raise ValueError(f"{self.policy.name}: order quantity must be a whole "
                                     f"number >= 0, got {q!r} for SKU {s} at {names[w]}")
                out_s.append(s)
                out_w.append(w)
                out_q.append(int(q))
        if out_q:
            self._place(np.asarray(out_s), np.asarray(out_w), np.asarray(out_q), t)

    def _place(self, skus: np.ndarray, whs: np.ndarray, qty: np.ndarray, t: float) -> None:
        stock = self.world.stock
        np.add.at(stock.on_order, (skus, whs), qty)
        self.orders += qty.size
        self.units += int(qty.sum())
        supplier = self.supplier[skus]
        self.extra_cost += float((qty * self.unit_extra[supplier]).sum())
        if len(self.leads) == 1:
            arrive = t + self.leads[0].sample(self._rng, qty.size) * 1440
        else:
            arrive = np.empty(qty.size)
            for j, lead in enumerate(self.leads):
                mine = supplier == j
                if mine.any():
                    arrive[mine] = t + lead.sample(self._rng, int(mine.sum())) * 1440
        self.deliveries.add(np.ceil(arrive), np.column_stack((skus, whs, qty)))

    def _receive(self, rows: np.ndarray) -> None:
        """Deliveries ``(sku, warehouse, units)`` arrive."""
        self.world.stock.receive(rows[:, 0], rows[:, 2], rows[:, 1], self.world.env.now)
