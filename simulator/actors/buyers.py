"""Buyers: place the sampled orders through the allocation policy, and cancel some.

One cycle, every ``STEP_MINUTES``: for the orders that arrived during the step, in arrival
order, ask the allocation policy (one call per order; the policy is Python; runs of plain
orders of a policy that states its plain cases are decided in bulk instead, alike); reserve
what it assigns, making one posting per (order, warehouse), and queue the postings at their
warehouses. A refusal is a lost sale: nothing is reserved. Then orders whose cancel time fell
in the step are cancelled when all their postings still can be (awaiting_packaging or
awaiting_deliver; reserved units are released, picked ones go back on the shelf); otherwise
the request comes too late and is ignored. Last, under continuous review, the replenishment
policy sees every (SKU, warehouse) whose stock the step changed.

Postings are created at the end of the step their order arrived in (at most one step after
the order); the order's own time stays its arrival time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from simulator.actors.plain_orders import PlainOrders, PlainRun, supports_plain_orders
from simulator.actors.postings import (
    AWAITING_DELIVER,
    AWAITING_PACKAGING,
    CANCELLED,
)
from simulator.actors.stock import aggregate
from simulator.actors.world import World
from simulator.demand import Arrivals
from simulator.policies.base import (
    AllocationPolicy,
    NetworkView,
    OrderLine,
    OrderRequest,
    Refusal,
    StockView,
)

STEP_MINUTES = 1.0
PLAIN_MIN_RUN = 8  # a bulk run that decides fewer orders than this is not worth the next try...
PER_ORDER_RUN = 32  # ...for this many orders, which go to the policy one by one


class PolicyError(RuntimeError):
    """A policy returned something the model cannot carry out (e.g. more than available)."""


class _Bookings:
    """Postings a step's allocation made, in order: lists from the per-order path, arrays from
    runs of plain orders; ``zero``: (sku, warehouse) pairs it left with nothing available."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, ...]] = []
        self.zero: list[tuple[int, int]] = []
        self._lists()

    def _lists(self) -> None:
        self.p_order: list[int] = []
        self.p_wh: list[int] = []
        self.p_lines: list[int] = []
        self.l_line: list[int] = []
        self.l_qty: list[int] = []

    def _flush(self) -> None:
        if self.p_order:
            self._chunks.append(tuple(np.asarray(c, dtype=np.int64) for c in (
                self.p_order, self.p_wh, self.p_lines, self.l_line, self.l_qty)))
            self._lists()

    def add(self, *columns: np.ndarray) -> None:
        """A run's postings ``order, warehouse, n_lines`` and lines ``line, qty``."""
        self._flush()
        self._chunks.append(tuple(c.astype(np.int64, copy=False) for c in columns))

    def arrays(self) -> tuple[np.ndarray, ...]:
        self._flush()
        if len(self._chunks) == 1:
            return self._chunks[0]
        if not self._chunks:
            return tuple(np.zeros(0, dtype=np.int64) for _ in range(5))
        return tuple(np.concatenate(c) for c in zip(*self._chunks, strict=True))


class Buyers:
    """The buyers of all regions, as one process over the pre-sampled arrivals."""

    def __init__(self, world: World, arrivals: Arrivals, policy: AllocationPolicy,
                 stock_view: StockView, network_view: NetworkView, warehouses: Sequence,
                 replenisher) -> None:
        self.world = world
        self.arrivals = arrivals
        self.policy = policy
        self.stock_view = stock_view
        self.network_view = network_view
        self.warehouses = warehouses
        self.replenisher = replenisher
        self.filled = np.zeros(arrivals.sku.size, dtype=np.int32)  # units allocated per line
        self.first_posting = np.full(arrivals.count, -1, dtype=np.int32)
        self.n_postings = np.zeros(arrivals.count, dtype=np.int16)
        self.processed = 0  # orders allocated so far (a prefix of the arrivals)
        self.cancel_requests = 0
        self.cancel_too_late = 0
        due = np.flatnonzero(np.isfinite(arrivals.cancel_at))
        self._cancel_queue = due[np.argsort(arrivals.cancel_at[due], kind="stable")]
        self._cancel_times = arrivals.cancel_at[self._cancel_queue]
        self._cancel_next = 0
        self._lines: dict[int, OrderLine] = {}  # (sku << 20 | qty) -> line
        self._wi = {w: i for i, w in enumerate(world.network.warehouse_ids)}
        self._regions = world.network.region_ids
        self.plain = (PlainOrders(policy, network_view, list(world.network.warehouse_ids),
                                  list(self._regions), world.stock.avail.shape[1])
                      if supports_plain_orders(policy) else None)
        self._plain_after = 0  # orders before this go to the policy one by one
        self._wh_nodes = np.asarray(world.network.warehouse_nodes)
        world.env.process(self._run())

    def _run(self):
        env, arrivals = self.world.env, self.arrivals
        cancel_times = self._cancel_times
        last = max(arrivals.time[-1] if arrivals.count else 0.0,
                   cancel_times[-1] if cancel_times.size else 0.0)
        stop = min(self.world.end, last + STEP_MINUTES)
        times, n = arrivals.time, arrivals.count
        while env.now < stop:
            # the next step with something to do (steps stay on the grid of STEP_MINUTES)
            upcoming = min(times[self.processed] if self.processed < n else math.inf,
                           cancel_times[self._cancel_next]
                           if self._cancel_next < cancel_times.size else math.inf)
            if upcoming == math.inf:
                return
            t = max(env.now + STEP_MINUTES, math.ceil(upcoming / STEP_MINUTES) * STEP_MINUTES)
            if t > self.world.end:
                return
            self.replenisher.deliveries.seal(t)  # this step sees the deliveries due so far
            yield env.timeout(t - env.now)
            hi = int(np.searchsorted(arrivals.time, t, side="right"))
            touched = self._allocate(self.processed, hi, t) if hi > self.processed else None
            self.processed = max(self.processed, hi)
            self._cancel(t)
            if touched is not None and self.replenisher.continuous:
                self.replenisher.review(touched, t)

    # ------------------------------------------------------------------ allocation

    def _allocate(self, lo: int, hi: int, t: float) -> np.ndarray | None:
        """Allocate orders ``lo:hi``; return the (sku * W + warehouse) codes they touched.

        Runs of plain orders are decided in bulk (:mod:`simulator.actors.plain_orders`), the
        others one by one through the policy; after a short run of plain orders the next
        ``PER_ORDER_RUN`` orders go to the policy directly (both paths decide alike)."""
        out = _Bookings()
        k = lo
        while k < hi:
            if self.plain is not None and k >= self._plain_after:
                run = self.plain.decide(self.world.stock.avail, self.arrivals.region,
                                        self.arrivals.line_start, self.arrivals.sku,
                                        self.arrivals.qty, k, hi)
                self._take(run, out)
                if run.stop - k < PLAIN_MIN_RUN:
                    self._plain_after = run.stop + 1 + PER_ORDER_RUN
                k = run.stop
                if k >= hi:
                    break
            stop = hi if self.plain is None else min(hi, max(k + 1, self._plain_after))
            self._allocate_each(k, stop, out)
            k = stop
        order, wh, n_lines, line, qty = out.arrays()
        if not order.size:
            return None
        return self._book(order, wh.astype(np.int16), n_lines, line, qty, out.zero, t)

    def _take(self, run: PlainRun, out: _Bookings) -> None:
        """Reserve what a run of plain orders took (off ``avail``; booked with the step)."""
        if not run.order.size:
            return
        avail = self.world.stock.avail
        n_s = avail.shape[1]
        flat = avail.reshape(-1)
        np.subtract.at(flat, run.pair, run.qty)
        empty = np.unique(run.pair[flat[run.pair] == 0])
        out.zero.extend(zip((empty % n_s).tolist(), (empty // n_s).tolist(), strict=True))
        units = np.bincount(run.pair // n_s, weights=run.qty, minlength=avail.shape[0])
        backlog = self.network_view.backlog_units
        for w in np.flatnonzero(units).tolist():
            backlog[w] += float(units[w])
        out.add(run.order, run.warehouse, run.n_lines, run.line, run.qty)

    def _allocate_each(self, lo: int, hi: int, out: _Bookings) -> None:
        """Orders ``lo:hi`` one by one through the policy; reserve off ``avail_rows``."""
        arrivals = self.arrivals
        starts = arrivals.line_start[lo : hi + 1].tolist()
        base = starts[0]
        sku_arr = arrivals.sku[base : starts[-1]]
        skus = sku_arr.tolist()
        regions = arrivals.region[lo:hi].tolist()
        names, cache, wi = self._regions, self._lines, self._wi
        # OrderLine objects are immutable: one per (sku, qty), shared by every order
        keys = (sku_arr.astype(np.int64) << 20) | arrivals.qty[base : starts[-1]]
        get, make = cache.get, self._line
        order_lines = [get(key) or make(key) for key in keys.tolist()]
        rows = self.world.stock.avail_rows
        backlog_units = self.network_view.backlog_units
        allocate, stock_view, network_view = (self.policy.allocate, self.stock_view,
                                              self.network_view)
        p_order, p_wh, p_lines = out.p_order, out.p_wh, out.p_lines
        l_line, l_qty, zero = out.l_line, out.l_qty, out.zero
        for k in range(hi - lo):
            a, b = starts[k] - base, starts[k + 1] - base
            lines = (order_lines[a],) if b - a == 1 else tuple(order_lines[a:b])
            result = allocate(OrderRequest(names[regions[k]], lines), stock_view, network_view)
            if isinstance(result, Refusal) or not result.picks:
                continue
            picks = result.picks
            if len(picks) == 1:  # the usual case: one line, or all lines, from one warehouse
                pick = picks[0]
                w = wi.get(pick.warehouse)
                i, q = pick.line, pick.quantity
                if w is None or not 0 <= i < b - a or q <= 0:
                    raise PolicyError(f"{self.policy.name}: bad pick {pick!r}")
                s = skus[a + i]
                row = rows[w]
                left = row[s] - q
                if left < 0:
                    raise PolicyError(f"{self.policy.name}: assigned {q} of SKU {s} at "
                                      f"{pick.warehouse} holding only {row[s]} available")
                row[s] = left
                if left == 0:
                    zero.append((s, w))
                l_line.append(base + a + i)
                l_qty.append(q)
                p_order.append(lo + k)
                p_wh.append(w)
                p_lines.append(1)
                backlog_units[w] += q
                continue
            groups: dict[str, list] = {}
            for pick in picks:
                groups.setdefault(pick.warehouse, []).append(pick)
            for warehouse, group in groups.items():
                w = wi.get(warehouse)
                if w is None:
                    raise PolicyError(f"{self.policy.name}: unknown warehouse {warehouse!r}")
                row = rows[w]
                units = 0
                for pick in group:
                    i, q = pick.line, pick.quantity
                    if not 0 <= i < b - a or q <= 0:
                        raise PolicyError(f"{self.policy.name}: bad pick {pick!r}")
                    s = skus[a + i]
                    left = row[s] - q
                    if left < 0:
                        raise PolicyError(f"{self.policy.name}: assigned {q} of SKU {s} at "
                                          f"{warehouse} holding only {row[s]} available")
                    row[s] = left
                    if left == 0:
                        zero.append((s, w))
                    l_line.append(base + a + i)
                    l_qty.append(q)
                    units += q
                p_order.append(lo + k)
                p_wh.append(w)
                p_lines.append(len(group))
                backlog_units[w] += units

    def _line(self, key: int) -> OrderLine:
        line = self._lines[key] = OrderLine(key >> 20, key & 0xFFFFF)
        return line

    def _book(self, order, wh, n_lines, line, qty, zero, t) -> np.ndarray:
        """Vectorised bookkeeping of one step's postings."""
        world, arrivals = self.world, self.arrivals
        np.add.at(self.filled, line, qty)  # a line split over warehouses appears twice
        if np.any(self.filled[line] > arrivals.qty[line]):
            raise PolicyError(f"{self.policy.name}: allocated more than an order line asked")
        sku = arrivals.sku[line]
        line_wh = np.repeat(wh, n_lines)
        route = world.network.table[wh, arrivals.region[order]]
        ids = world.postings.append(order=order, warehouse=wh, route=route, n_lines=n_lines,
                                    line_of=line, line_sku=sku, line_qty=qty, t=t)
        first = np.flatnonzero(np.concatenate(([True], order[1:] != order[:-1])))
        uniq, counts = order[first], np.diff(np.append(first, order.size))
        self.first_posting[uniq] = ids[first]
        self.n_postings[uniq] = counts
        stock = world.stock
        codes, units = aggregate(sku.astype(np.int64) * stock.n_warehouses + line_wh, qty)
        stock.reserve(codes, units)
        if zero:
            stock.reserved_to_zero(zero, t)
        by_wh = np.argsort(wh, kind="stable")
        sorted_wh = wh[by_wh]
        cuts = np.flatnonzero(np.concatenate(([True], sorted_wh[1:] != sorted_wh[:-1])))
        world.visits.join(self._wh_nodes[sorted_wh], ids[by_wh], t)  # one visit log call
        for a, b in zip(cuts.tolist(), [*cuts[1:].tolist(), ids.size], strict=True):
            self.warehouses[int(sorted_wh[a])].accept(ids[by_wh[a:b]])
        return codes

    # ------------------------------------------------------------------ cancellations

    def _cancel(self, t: float) -> None:
        queue = self._cancel_queue
        start = self._cancel_next
        stop = int(np.searchsorted(self._cancel_times, t, side="right"))
        if stop <= start:
            return
        self._cancel_next = stop
        orders = queue[start:stop]
        orders = orders[self.n_postings[orders] > 0]
        self.cancel_requests += orders.size
        if orders.size == 0:
            return
        p = self.world.postings
        counts = self.n_postings[orders].astype(np.int64)
        single = bool((counts == 1).all())  # the usual case: one posting an order
        if single:
            ids = self.first_posting[orders].astype(np.int64)
        else:
            ids = np.repeat(self.first_posting[orders]
                            - np.concatenate([[0], np.cumsum(counts)[:-1]]),
                            counts) + np.arange(counts.sum())
        status = p.status[ids]
        cancellable = (status == AWAITING_PACKAGING) | (status == AWAITING_DELIVER)
        if single:
            order_ok = cancellable
        else:
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
            order_ok = np.minimum.reduceat(cancellable.astype(np.int8), offsets).astype(bool)
        self.cancel_too_late += int((~order_ok).sum())
        ids = ids[order_ok] if single else ids[np.repeat(order_ok, counts)]
        if ids.size == 0:
            return
        unpicked = np.isnan(p.picked[ids])
        stock = self.world.stock
        for group, give_back in ((ids[unpicked], stock.release), (ids[~unpicked], stock.restock)):
            if group.size == 0:
                continue
            lines = p.lines_of(group)
            line_wh = np.repeat(p.warehouse[group], p.line_count[group]).astype(np.int64)
            give_back(p.line_sku[lines], p.line_qty[lines], line_wh, t)
        waiting = ids[unpicked]
        if waiting.size:  # they leave the warehouses' backlogs (rows stay queued, skipped)
            self.world.visits.leave(waiting, t, served=False)
            units = np.bincount(p.warehouse[waiting], weights=p.units[waiting],
                                minlength=len(self.warehouses))
            backlog = self.network_view.backlog_units
            for w in np.flatnonzero(units).tolist():
                backlog[w] -= float(units[w])
        p.transition(ids, CANCELLED)
