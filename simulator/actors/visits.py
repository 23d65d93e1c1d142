"""Queue visits: one row each time a parcel queues at a node, the one record of waits and backlogs.

A visit starts when a parcel joins a node's queue (a posting created at its warehouse, a
parcel reaching a sorting centre or hub, at its exact arrival time) and ends when it leaves
the queue: served (picked, sorting started, handed out) or not (cancelled, refused). A
parcel through two nodes has two visits, each with its own times, so no wait is ever
negative. Waits (KPIs) and backlogs (time series) are both read from these rows, so they
count from the same instants and Little's law holds as an identity at every node:
the integral of a node's backlog equals the sum of its visits' times in queue.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from simulator.actors.postings import Postings
from simulator.metrics import LevelMonitor


class VisitLog:
    """Growable columns ``node``, ``posting``, ``joined``, ``left`` (NaN while queued),
    ``served``; ``postings.visit`` points at each posting's latest visit."""

    def __init__(self, postings: Postings, capacity: int = 1024) -> None:
        self.postings = postings
        self.n = 0
        self.node = np.zeros(capacity, dtype=np.int32)
        self.posting = np.zeros(capacity, dtype=np.int32)
        self.joined = np.empty(capacity)  # both set row by row as visits are logged
        self.left = np.empty(capacity)
        self.served = np.zeros(capacity, dtype=bool)

    def _grow(self, k: int) -> None:
        if self.n + k <= self.node.size:
            return
        size = max(self.node.size * 3 // 2, self.n + k)
        for name in ("node", "posting", "joined", "left", "served"):
            old = getattr(self, name)
            grown = np.zeros(size, dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def join(self, node: int, ids: np.ndarray, times: np.ndarray | float) -> None:
        """Parcels ``ids`` join ``node``'s queue at ``times``."""
        k = ids.size
        self._grow(k)
        rows = slice(self.n, self.n + k)
        self.node[rows], self.posting[rows], self.joined[rows] = node, ids, times
        self.left[rows] = np.nan
        self.postings.visit[ids] = np.arange(self.n, self.n + k)
        self.n += k

    def leave(self, ids: np.ndarray, times: np.ndarray | float, *, served: bool) -> None:
        """Parcels ``ids`` leave the queue they are in at ``times``."""
        rows = self.postings.visit[ids]
        self.left[rows] = times
        self.served[rows] = served

    def rows(self, nodes: list[int] | np.ndarray) -> np.ndarray:
        """Indexes of the visits to any of ``nodes``."""
        return np.flatnonzero(np.isin(self.node[: self.n], nodes))

    def waits(self, rows: np.ndarray, end: float) -> np.ndarray:
        """Minutes in queue of visits ``rows``; visits still queued count up to ``end``."""
        return np.fmin(self.left[rows], end) - self.joined[rows]

    def backlog(self, nodes: list[int]) -> LevelMonitor:
        """Parcels queued at each of ``nodes`` over time (one column per node, in order)."""
        return VisitBacklog(self, nodes)


class VisitBacklog(LevelMonitor):
    """The queue length at each of ``nodes`` (a column each), read from the visit log column by
    column when asked: +1 at each visit's join, -1 at its leave (if it left)."""

    def __init__(self, visits: VisitLog, nodes: list[int]) -> None:
        super().__init__(np.zeros(len(nodes)))
        self._visits, self._nodes = visits, list(nodes)

    def _columns(self) -> Iterator[list[np.ndarray]]:
        v = self._visits
        node = v.node[: v.n]
        for nd in self._nodes:
            rows = np.flatnonzero(node == nd)
            left = v.left[rows]
            left = left[~np.isnan(left)]
            yield [np.concatenate([v.joined[rows], left]),
                   np.concatenate([np.ones(rows.size, np.int8), np.full(left.size, -1, np.int8)])]

    def _changes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [(t, np.full(t.size, c), d) for c, (t, d) in enumerate(self._columns())]
        t, col, delta = (np.concatenate([np.zeros(0), *(p[i] for p in parts)]) for i in range(3))
        return t, col.astype(np.int64), delta
