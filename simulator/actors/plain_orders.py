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
    (index into the arrivals' lines), ``qty`` and ``pair`` (``warehouse * n_skus + sku``, the
    stock it takes from).
    """

    stop: int
    order: np.ndarray
    warehouse: np.ndarray
    n_lines: np.ndarray
    line: np.ndarray
    qty: np.ndarray
    pair: np.ndarray


class PlainOrders:
    """Bulk decisions for one policy over one network view (warehouses in stock-column order)."""

    def __init__(self, policy: PlainCases, view: NetworkView, warehouse_ids: list[str],
                 region_ids: list[str], n_skus: int) -> None:
        self.policy = policy
        self.view = view
        self.warehouse_ids = warehouse_ids
        self.region_ids = region_ids
        self._tables: tuple[tuple[bool, ...], np.ndarray, np.ndarray] | None = None
        self._totals = np.zeros(len(warehouse_ids) * n_skus, dtype=np.int64)  # kept all zero

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
        n_s = avail.shape[1]
        flat = avail.reshape(-1)
        a, b = int(line_start[lo]), int(line_start[hi])
        starts = line_start[lo : hi + 1] - a
        counts = np.diff(starts)
        order_of_line = np.repeat(np.arange(hi - lo), counts)
        s, q = sku[a:b].astype(np.int64), qty[a:b].astype(np.int64)
        r = region[lo:hi][order_of_line]
        lines = np.arange(s.size)
        # each line: the first preferred warehouse holding it in full now
        cand = preferred[r]
        holds = (flat[np.maximum(cand, 0) * n_s + s[:, None]] >= q[:, None]) & (cand >= 0)
        first = np.argmax(holds, axis=1)
        found = holds[lines, first]
        target = cand[lines, first]
        pair = np.where(found, target, 0) * n_s + s
        live = np.ones(hi - lo, dtype=bool)
        if not found.all():  # refused: a line asks for more than all usable warehouses hold
            missing = np.flatnonzero(~found)
            held = (avail[:, s[missing]].T * usable[r[missing]]).sum(axis=1)
            live[order_of_line[missing[held < q[missing]]]] = False
        take = np.where(found & live[order_of_line], q, 0)
        # the running sum of what lines take of a pair never exceeds the stock when their
        # total does not; otherwise it is checked line by line
        totals = self._totals
        np.add.at(totals, pair, take)
        fits = found & (totals[pair] <= flat[pair])
        totals[pair] = 0
        if not fits.all():
            fits = found & (_running_sum(pair, take) <= flat[pair])
        bad = np.zeros(hi - lo, dtype=bool)
        bad[order_of_line[~fits]] = True
        bad &= live
        stop = int(np.argmax(bad)) if bad.any() else hi - lo
        # the run's postings: its live lines grouped by (order, warehouse), first line first
        if stop == hi - lo and live.all() and np.array_equal(target, target[starts[:-1]][
                order_of_line]):  # the usual case: one posting per order, lines in order
            return PlainRun(hi, np.arange(lo, hi), target[starts[:-1]], counts, a + lines, q,
                            pair)
        sel = np.flatnonzero(live[order_of_line] & (order_of_line < stop))
        if not sel.size:
            none = np.zeros(0, dtype=np.int64)
            return PlainRun(lo + stop, none, none, none, none, none, none)
        n_w = avail.shape[0]
        pk = order_of_line[sel] * n_w + target[sel]
        _, first_line, inverse = np.unique(pk, return_index=True, return_inverse=True)
        perm = np.lexsort((sel, sel[first_line][inverse.reshape(-1)]))
        chosen, pk = sel[perm], pk[perm]
        cuts = np.flatnonzero(np.concatenate(([True], pk[1:] != pk[:-1])))
        return PlainRun(lo + stop, lo + pk[cuts] // n_w, pk[cuts] % n_w,
                        np.diff(np.append(cuts, chosen.size)), a + chosen, q[chosen],
                        pair[chosen])


def _running_sum(key: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Per entry: the sum of ``amount`` over it and the entries before it with the same key."""
    by_key = np.argsort(key, kind="stable")
    k_sorted, running = key[by_key], np.cumsum(amount[by_key])
    first = np.flatnonzero(np.concatenate(([True], k_sorted[1:] != k_sorted[:-1])))
    before = running[first] - amount[by_key][first]
    out = np.empty_like(running)
    out[by_key] = running - np.repeat(before, np.diff(np.append(first, k_sorted.size)))
    return out
