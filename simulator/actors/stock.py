"""Stock per (SKU, warehouse): present, reserved, available, on order, and their statistics.

``on_hand`` counts units present in the warehouse (reserved ones included); ``available`` is
``on_hand - reserved`` and is what orders reserve from. Units leave ``on_hand`` when a wave
picks them and come back when a picked posting is cancelled (``restocked``) or when a buyer's
return is put back on the shelf (``returned``). So at any time, per pair::

    initial + received + returned == on_hand + picked - restocked

The ledger also keeps, within the statistics window, the time integral of ``on_hand`` (for the
average and the holding cost) and the time ``available`` sat at zero (stock-out hours), plus
level monitors per warehouse (units on hand, SKUs at zero).

Available units live in one numpy array ``avail[warehouse, sku]``; :attr:`avail_rows` are
memoryviews of its rows (one per warehouse), which Python code indexes almost as fast as a
list: the allocation policies and the buyers' per-order loop read and write those, the buyers'
bulk path and everything else use the array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.metrics import LevelMonitor
from simulator.policies.base import StockView


def aggregate(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique keys (sorted) and the sum of ``values`` per key."""
    if keys.size <= 1:
        return keys, values
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(values, starts)


class StockLedger:
    """Stock arrays ``[sku, warehouse]`` with statistics over the window ``[w0, w1]`` minutes."""

    def __init__(self, initial: np.ndarray, window: tuple[float, float]) -> None:
        self.initial = initial.astype(np.int64)
        self.on_hand = self.initial.copy()
        self.reserved = np.zeros_like(self.initial)
        self.on_order = np.zeros_like(self.initial)
        self.received = np.zeros_like(self.initial)
        self.picked = np.zeros_like(self.initial)
        self.restocked = np.zeros_like(self.initial)
        self.returned = np.zeros_like(self.initial)
        self.avail = self.initial.T.copy()  # [warehouse, sku], C order
        self.avail_rows: list[memoryview] = [memoryview(row) for row in self.avail]
        self.w0, self.w1 = window
        self.area = np.zeros(self.initial.shape)  # unit-minutes of on_hand in the window
        self.last = np.zeros(self.initial.shape)  # minute of the last on_hand change
        # a warehouse carries the SKUs it starts with stock of (and any it receives later);
        # stock-outs are counted for carried pairs only
        self.carried = self.initial > 0
        self.zero_since = np.full(self.initial.shape, np.nan)
        self.stockout_minutes = np.zeros(self.initial.shape)
        n_w = self.initial.shape[1]
        self.on_hand_level = LevelMonitor(self.initial.sum(axis=0))
        self.stockout_level = LevelMonitor(np.zeros(n_w))
        self.n_warehouses = n_w

    @property
    def available(self) -> np.ndarray:
        return self.avail.T.copy()

    def _clip(self, t: np.ndarray | float) -> np.ndarray | float:
        return np.clip(t, self.w0, self.w1)

    # ------------------------------------------------------------------ on_hand changes

    def _pairs(self, skus: np.ndarray, warehouses: np.ndarray | int,
               qty: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unique (sku, warehouse) pairs with their summed quantities."""
        n_w = self.n_warehouses
        codes, q = aggregate(np.asarray(skus, dtype=np.int64) * n_w + warehouses, qty)
        return codes // n_w, codes % n_w, np.asarray(q).astype(np.int64)

    def _level(self, monitor: LevelMonitor, t: float, w: np.ndarray, q: np.ndarray) -> None:
        if w.size and np.all(w == w[0]):
            monitor.add(t, int(w[0]), float(q.sum()))
            return
        per = np.bincount(w, weights=q, minlength=self.n_warehouses)
        for col in np.flatnonzero(per).tolist():
            monitor.add(t, col, float(per[col]))

    def _touch(self, s: np.ndarray, w: np.ndarray | int, t: float) -> None:
        """Accumulate the on-hand area of unique pairs ``(s, w)`` up to ``t``."""
        dt = self._clip(t) - self._clip(self.last[s, w])
        self.area[s, w] += self.on_hand[s, w] * dt
        self.last[s, w] = t

    def pick(self, skus: np.ndarray, qty: np.ndarray, w: int, t: float) -> None:
        """A wave at warehouse ``w`` takes reserved units off the shelf."""
        s, ws, q = self._pairs(skus, w, qty)
        self._touch(s, ws, t)
        self.on_hand[s, ws] -= q
        self.reserved[s, ws] -= q
        self.picked[s, ws] += q
        self.on_hand_level.add(t, w, -float(q.sum()))

    def receive(self, skus: np.ndarray, qty: np.ndarray, w: np.ndarray | int, t: float) -> None:
        """Supplier deliveries arrive."""
        s, ws, q = self._pairs(skus, w, qty)
        self._touch(s, ws, t)
        self.on_hand[s, ws] += q
        self.on_order[s, ws] -= q
        self.received[s, ws] += q
        self.carried[s, ws] = True
        self._level(self.on_hand_level, t, ws, q)
        self._add_available(s, ws, q, t)

    def release(self, skus: np.ndarray, qty: np.ndarray, w: np.ndarray | int, t: float) -> None:
        """Cancelled postings not yet picked give their reservations back."""
        s, ws, q = self._pairs(skus, w, qty)
        self.reserved[s, ws] -= q
        self._add_available(s, ws, q, t)

    def restock(self, skus: np.ndarray, qty: np.ndarray, w: np.ndarray | int, t: float) -> None:
        """Cancelled postings already picked go back on the shelf."""
        s, ws, q = self._pairs(skus, w, qty)
        self._touch(s, ws, t)
        self.on_hand[s, ws] += q
        self.restocked[s, ws] += q
        self._level(self.on_hand_level, t, ws, q)
        self._add_available(s, ws, q, t)

    def return_to_stock(self, skus: np.ndarray, qty: np.ndarray, w: np.ndarray | int,
                        t: float) -> None:
        """Units of delivered postings the buyers sent back go on the shelf again (sellable)."""
        s, ws, q = self._pairs(skus, w, qty)
        self._touch(s, ws, t)
        self.on_hand[s, ws] += q
        self.returned[s, ws] += q
        self._level(self.on_hand_level, t, ws, q)
        self._add_available(s, ws, q, t)

    # ------------------------------------------------------------------ availability

    def _add_available(self, s: np.ndarray, w: np.ndarray, q: np.ndarray, t: float) -> None:
        rows = self.avail_rows
        ended: list[int] = []
        for sku, wh, add in zip(s.tolist(), w.tolist(), q.tolist(), strict=True):
            row = rows[wh]
            old = row[sku]
            row[sku] = old + add
            if old <= 0 < old + add:
                since = self.zero_since[sku, wh]
                if not np.isnan(since):
                    self.stockout_minutes[sku, wh] += self._clip(t) - self._clip(since)
                    self.zero_since[sku, wh] = np.nan
                    ended.append(wh)
        for wh in ended:
            self.stockout_level.add(t, wh, -1)

    def reserved_to_zero(self, pairs: Sequence[tuple[int, int]], t: float) -> None:
        """Reservations at ``t`` brought these (sku, warehouse) pairs to zero available."""
        for s, w in pairs:
            self.zero_since[s, w] = t
            self.stockout_level.add(t, w, 1)

    def reserve(self, codes: np.ndarray, qty: np.ndarray) -> None:
        """Book in ``reserved`` what the buyers already took off ``avail``: ``qty`` units of
        each of the unique pairs ``codes`` (``sku * n_warehouses + warehouse``)."""
        self.reserved.reshape(-1)[codes] += qty

    def finish(self, t: float) -> None:
        """Close the integrals at the end of the run."""
        n_s, n_w = self.on_hand.shape
        for w in range(n_w):
            self._touch(np.arange(n_s), np.full(n_s, w), t)
        open_ = ~np.isnan(self.zero_since)
        self.stockout_minutes[open_] += self._clip(t) - self._clip(self.zero_since[open_])


class LedgerStockView(StockView):
    """The ``StockView`` allocation policies see: available units, read from the ledger."""

    def __init__(self, ledger: StockLedger, warehouse_ids: Sequence[str]) -> None:
        self._rows = {w: ledger.avail_rows[i] for i, w in enumerate(warehouse_ids)}

    def available(self, sku: int, warehouse: str) -> int:
        return self._rows[warehouse][sku]
