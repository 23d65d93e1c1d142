"""Postings as rows of columnar numpy arrays, FIFO queues of row ids, and lifecycle checks.

A posting is the part of an order one warehouse serves (one parcel here). Its status is a
code of :data:`simulator.lifecycle.STATUS_CODES`; every change goes through
:meth:`Postings.transition`, which checks the whole batch against the lifecycle's one table of
allowed moves and raises :class:`~simulator.lifecycle.IllegalTransition` on the first illegal
one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.lifecycle import (
    ALLOWED_TRANSITIONS,
    STATUS_BY_CODE,
    STATUS_CODES,
    IllegalTransition,
    PostingStatus,
)

AWAITING_PACKAGING = STATUS_CODES[PostingStatus.AWAITING_PACKAGING]
AWAITING_DELIVER = STATUS_CODES[PostingStatus.AWAITING_DELIVER]
DELIVERING = STATUS_CODES[PostingStatus.DELIVERING]
DELIVERED = STATUS_CODES[PostingStatus.DELIVERED]
CANCELLED = STATUS_CODES[PostingStatus.CANCELLED]
NOT_ACCEPTED = STATUS_CODES[PostingStatus.NOT_ACCEPTED]

#: ALLOWED[current, target] is True for a legal move (built from the lifecycle table).
ALLOWED = np.zeros((len(STATUS_BY_CODE), len(STATUS_BY_CODE)), dtype=bool)
for _cur, _targets in ALLOWED_TRANSITIONS.items():
    for _target in _targets:
        ALLOWED[STATUS_CODES[_cur], STATUS_CODES[_target]] = True

# 32-bit indexes (orders, posting lines, queue visits): up to 2**31 of each
_INT_COLUMNS = {"order": np.int32, "warehouse": np.int16, "units": np.int32,
                "status": np.int8, "route": np.int32, "hop": np.int16,
                "line_start": np.int32, "line_count": np.int32, "visit": np.int32}
_TIME_COLUMNS = ("created", "picked", "handover", "shipped", "delivered", "node_in")


class Postings:
    """Growable columns of postings and of their lines (lines of a posting are contiguous).

    Times are model minutes (NaN = not yet); ``cost`` is transport RUB so far; ``node_in`` is
    when the parcel joined its current node's queue (the minute its batch was queued: the
    late-tolerance clock); ``visit`` is its latest row in the :class:`VisitLog` (-1: none), where
    every queue visit keeps its own exact times.
    """

    def __init__(self, capacity: int = 1024, line_capacity: int | None = None) -> None:
        self.n = 0
        self.n_lines = 0
        self._cap = max(capacity, 16)
        self._line_cap = max(line_capacity or self._cap * 2, 16)
        for name, dtype in _INT_COLUMNS.items():
            setattr(self, name, np.zeros(self._cap, dtype=dtype))
        for name in _TIME_COLUMNS:  # NaN-filled row by row as postings are added, so the
            setattr(self, name, np.empty(self._cap))  # spare capacity is never touched
        self.cost = np.zeros(self._cap)
        self.line_of = np.zeros(self._line_cap, dtype=np.int32)  # index into the order lines
        self.line_sku = np.zeros(self._line_cap, dtype=np.int32)
        self.line_qty = np.zeros(self._line_cap, dtype=np.int32)

    @property
    def capacity(self) -> int:
        """Rows allocated (postings fit without growing)."""
        return self._cap

    # ------------------------------------------------------------------ growth

    def _grow(self, rows: int, lines: int) -> None:
        if self.n + rows > self._cap:
            new = max(self._cap * 3 // 2, self.n + rows)  # not 2x: a large run is near
            for name in (*_INT_COLUMNS, *_TIME_COLUMNS, "cost"):
                old = getattr(self, name)
                grown = (np.empty if name in _TIME_COLUMNS else np.zeros)(new, dtype=old.dtype)
                grown[: self.n] = old[: self.n]
                setattr(self, name, grown)
            self._cap = new
        if self.n_lines + lines > self._line_cap:
            new = max(self._line_cap * 3 // 2, self.n_lines + lines)
            for name in ("line_of", "line_sku", "line_qty"):
                old = getattr(self, name)
                grown = np.zeros(new, dtype=old.dtype)
                grown[: self.n_lines] = old[: self.n_lines]
                setattr(self, name, grown)
            self._line_cap = new

    def append(self, *, order: np.ndarray, warehouse: np.ndarray, route: np.ndarray,
               n_lines: np.ndarray, line_of: np.ndarray, line_sku: np.ndarray,
               line_qty: np.ndarray, t: float) -> np.ndarray:
        """Add postings (status awaiting_packaging) with their lines; return their ids."""
        rows, lines = len(order), len(line_of)
        self._grow(rows, lines)
        ids = np.arange(self.n, self.n + rows)
        rs = slice(self.n, self.n + rows)
        a, b = self.n_lines, self.n_lines + lines
        self.line_of[a:b], self.line_sku[a:b], self.line_qty[a:b] = line_of, line_sku, line_qty
        self.order[rs], self.warehouse[rs], self.route[rs] = order, warehouse, route
        self.line_count[rs] = n_lines
        offsets = np.cumsum(n_lines) - n_lines
        self.line_start[rs] = a + offsets
        self.units[rs] = np.add.reduceat(line_qty, offsets) if lines else 0
        self.status[rs] = AWAITING_PACKAGING
        self.hop[rs] = 0
        self.visit[rs] = -1
        self.created[rs] = t
        for name in _TIME_COLUMNS[1:]:
            getattr(self, name)[rs] = np.nan
        self.n, self.n_lines = self.n + rows, b
        return ids

    # ------------------------------------------------------------------ queries and moves

    def lines_of(self, ids: np.ndarray) -> np.ndarray:
        """Indexes into the posting-line columns of all lines of postings ``ids``."""
        counts = self.line_count[ids]
        starts = self.line_start[ids]
        if counts.size == 0:
            return np.zeros(0, dtype=np.int64)
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        return offsets + np.arange(counts.sum())

    def transition(self, ids: np.ndarray, target: int) -> None:
        """Move postings ``ids`` to status code ``target``; every move is checked."""
        if ids.size == 0:
            return
        current = self.status[ids]
        ok = ALLOWED[current, target]
        if not ok.all():
            bad = int(current[np.argmin(ok)])
            raise IllegalTransition(STATUS_BY_CODE[bad], STATUS_BY_CODE[target])
        self.status[ids] = target


class RowQueue:
    """A FIFO of row ids in a growable buffer; dead rows (e.g. cancelled) are dropped lazily."""

    def __init__(self) -> None:
        self._buf = np.zeros(256, dtype=np.int64)
        self._head = 0
        self._tail = 0

    def __len__(self) -> int:
        return self._tail - self._head

    def view(self) -> np.ndarray:
        return self._buf[self._head : self._tail]

    def push(self, ids: np.ndarray) -> None:
        n = len(ids)
        if self._tail + n > len(self._buf):
            live = self._tail - self._head
            size = max(len(self._buf), 2 * (live + n))
            buf = np.zeros(size, dtype=np.int64) if size > len(self._buf) else self._buf
            buf[:live] = self._buf[self._head : self._tail]
            self._buf, self._head, self._tail = buf, 0, live
        self._buf[self._tail : self._tail + n] = ids
        self._tail += n

    def drop(self, k: int) -> None:
        self._head += k

    def take(self, limit: float, alive: Callable[[np.ndarray], np.ndarray],
             size: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, float]:
        """Pop alive rows from the head while their total size fits in ``limit``.

        Dead rows met on the way are dropped. Returns the rows taken and the size used.
        ``size`` defaults to 1 per row.
        """
        taken: list[np.ndarray] = []
        used = 0.0
        window = 64
        while len(self) and used < limit:
            head = self.view()[: max(window, int(min(limit - used, 1e9)) + 1)]
            live = alive(head)
            sizes = np.where(live, size(head) if size else 1, 0)
            cum = np.cumsum(sizes)
            k = int(np.searchsorted(cum, limit - used, side="right"))
            if k < len(head):  # the (k+1)-th row does not fit: take k rows, stop
                taken.append(head[:k][live[:k]])
                used += float(cum[k - 1]) if k else 0.0
                self.drop(k)
                break
            taken.append(head[live])
            used += float(cum[-1]) if len(cum) else 0.0
            self.drop(len(head))
            window *= 4
        if not taken:
            return np.zeros(0, dtype=np.int64), 0.0
        return (taken[0] if len(taken) == 1 else np.concatenate(taken)), used
