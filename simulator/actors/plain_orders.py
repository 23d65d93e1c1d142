"""Plain orders decided in bulk: what the allocation policy would do, without asking it per order.

Most orders are plain: every line is held in full at a warehouse the policy prefers, or some
line is short in the whole network (the order is refused). A policy that says which
warehouses it prefers (``PlainCases.preferences``) lets the buyers decide a run of such orders
with a few numpy operations; the first order that is not plain ends the run and goes to the
policy itself. The decisions are exactly those of calling ``allocate`` order by order: within
the run, stock only goes down, so a line's first preferred warehouse holding it at the start is
the first holding it when its turn comes, as long as the lines before it took no more of that
SKU there than the start left over for it (checked with a running sum per (warehouse, SKU)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.policies.base import AllocationPolicy, NetworkView, PlainCases, bulk_method


def supports_plain_orders(policy: AllocationPolicy) -> bool:
    """The policy states its plain cases (in the class that defines its ``allocate``)."""
    return isinstance(policy, PlainCases) and bulk_method(policy, "preferences",
                                                          "allocate") is not None


@dataclass
class PlainRun:
    """Orders ``lo:stop`` decided: ``stop`` is the first order that was not plain (or the end).

    Postings of the run in the order the per-order path makes them (by order, then by the
    warehouse's first line): ``order``, ``warehouse``, ``n_lines``; their lines: ``line``
    (index into the arrivals' lines) and ``qty``. ``taken`` is what the run took per
    ``(warehouse, sku)`` pair (``pair_wh``, ``pair_sku``).
    """

    stop: int
    order: np.ndarray
    warehouse: np.ndarray
    n_lines: np.ndarray
    line: np.ndarray
    qty: np.ndarray
    pair_wh: np.ndarray
    pair_sku: np.ndarray
    taken: np.ndarray


class PlainOrders:
    """Bulk decisions for one policy over one network view (warehouses in stock-column order)."""

    def __init__(self, policy: PlainCases, view: NetworkView, warehouse_ids: list[str],
                 region_ids: list[str]) -> None:
        self.policy = policy
        self.view = view
        self.warehouse_ids = warehouse_ids
        self.region_ids = region_ids
        self._tables: tuple[tuple[bool, ...], np.ndarray, np.ndarray] | None = None

    def _region_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``preferred[region, k]`` (warehouse column, -1 padding) and ``usable[region, w]``,
        recomputed when the open warehouses change."""
        state = tuple(self.view.is_open(w) for w in self.warehouse_ids)
        if self._tables is None or self._tables[0] != state:
            column = {w: i for i, w in enumerate(self.warehouse_ids)}
            prefs = [self.policy.preferences(r, self.view) for r in self.region_ids]
            width = max([len(p) for p, _ in prefs] + [1])
            preferred = np.full((len(prefs), width), -1, dtype=np.int64)
            usable = np.zeros((len(prefs), len(self.warehouse_ids)), dtype=bool)
            for r, (pref, use) in enumerate(prefs):
                preferred[r, : len(pref)] = [column[w] for w in pref]
                usable[r, [column[w] for w in use]] = True
            self._tables = (state, preferred, usable)
        return self._tables[1], self._tables[2]

    def decide(self, avail: np.ndarray, region: np.ndarray, line_start: np.ndarray,
               sku: np.ndarray, qty: np.ndarray, lo: int, hi: int) -> PlainRun:
        """Decide the plain orders from ``lo`` on (at most to ``hi``), given ``avail[w, sku]``
        now; the arrays are the arrivals' (orders' regions and line offsets, lines' SKU and
        quantity)."""
        preferred, usable = self._region_tables()
        a, b = int(line_start[lo]), int(line_start[hi])
        starts = line_start[lo : hi + 1] - a
        counts = np.diff(starts)
        order_of_line = np.repeat(np.arange(hi - lo), counts)
        s, q = sku[a:b].astype(np.int64), qty[a:b].astype(np.int64)
        r = region[lo:hi][order_of_line]
        # refused: some line asks for more than all usable warehouses hold together
        stock = avail.T[s]  # [line, warehouse]
        short = (stock * usable[r]).sum(axis=1) < q
        refused = np.zeros(hi - lo, dtype=bool)
        refused[order_of_line[short]] = True
        live = ~refused[order_of_line]
        # each live line: the first preferred warehouse holding it in full now
        cand = preferred[r]
        held = np.take_along_axis(stock, np.maximum(cand, 0), axis=1)
        holds = (cand >= 0) & (held >= q[:, None])
        target = cand[np.arange(s.size), np.argmax(holds, axis=1)]
        found = holds.any(axis=1)
        # running sum of what the live lines take of each (warehouse, SKU), in line order
        key = np.where(found, target, 0) * avail.shape[1] + s
        take = np.where(live & found, q, 0)
        by_key = np.argsort(key, kind="stable")
        k_sorted, running = key[by_key], np.cumsum(take[by_key])
        first = np.flatnonzero(np.concatenate(([True], k_sorted[1:] != k_sorted[:-1])))
        group_start = np.repeat(running[first] - take[by_key][first], np.diff(
            np.append(first, k_sorted.size)))
        cum = np.empty_like(running)
        cum[by_key] = running - group_start
        fits = found & (cum <= avail.reshape(-1)[key])
        bad = np.zeros(hi - lo, dtype=bool)
        bad[order_of_line[live & ~fits]] = True
        stop = int(np.argmax(bad)) if bad.any() else hi - lo
        # the run's postings: its live lines grouped by (order, warehouse), first line first
        sel = np.flatnonzero(live & (order_of_line < stop))
        n_w, n_s = avail.shape
        if not sel.size:
            none = np.zeros(0, dtype=np.int64)
            return PlainRun(lo + stop, none, none, none, none, none, none, none, none)
        pk = order_of_line[sel] * n_w + target[sel]
        _, first_line, inverse = np.unique(pk, return_index=True, return_inverse=True)
        perm = np.lexsort((sel, sel[first_line][inverse.reshape(-1)]))
        lines, pk = sel[perm], pk[perm]
        cuts = np.flatnonzero(np.concatenate(([True], pk[1:] != pk[:-1])))
        pair, taken = np.unique(key[lines], return_inverse=True)
        return PlainRun(
            stop=lo + stop, order=lo + pk[cuts] // n_w, warehouse=pk[cuts] % n_w,
            n_lines=np.diff(np.append(cuts, lines.size)), line=a + lines, qty=q[lines],
            pair_wh=pair // n_s, pair_sku=pair % n_s,
            taken=np.bincount(taken.reshape(-1), weights=q[lines],
                              minlength=pair.size).astype(np.int64))
