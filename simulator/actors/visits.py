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
        self.joined = np.full(capacity, np.nan)
        self.left = np.full(capacity, np.nan)
        self.served = np.zeros(capacity, dtype=bool)

    def _grow(self, k: int) -> None:
        if self.n + k <= self.node.size:
            return
        size = max(self.node.size * 3 // 2, self.n + k)
        for name, fill in (("node", 0), ("posting", 0), ("joined", np.nan), ("left", np.nan),
                           ("served", False)):
            old = getattr(self, name)
            grown = np.full(size, fill, dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def join(self, node: int, ids: np.ndarray, times: np.ndarray | float) -> None:
        """Parcels ``ids`` join ``node``'s queue at ``times``."""
        k = ids.size
        self._grow(k)
        rows = slice(self.n, self.n + k)
        self.node[rows], self.posting[rows], self.joined[rows] = node, ids, times
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
        monitor = LevelMonitor(np.zeros(len(nodes)))
        node = self.node[: self.n]
        mine = np.isin(node, nodes)
        column_of = np.zeros(max(nodes, default=0) + 1,
                             dtype=np.int16 if len(nodes) < 2**15 else np.int32)
        column_of[nodes] = np.arange(len(nodes))
        column = column_of[node[mine]]
        monitor.add_arrays(self.joined[: self.n][mine], column, np.ones(column.size, np.int8))
        left = self.left[: self.n][mine]
        gone = ~np.isnan(left)
        monitor.add_arrays(left[gone], column[gone], np.full(int(gone.sum()), -1, np.int8))
        return monitor
