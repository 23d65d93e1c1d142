"""The scenario's order stream as the simulator draws it, time-compressed into a test.

``peakline simulate --seed N`` draws its orders with ``simulator.demand.sample_arrivals``
from the streams ``simulator.model.make_streams(N)``; :func:`order_stream` makes the same
draw (same times, regions and baskets) and compresses the clock by ``speed`` model seconds
per test second, so a 24-hour day with ``speed=1440`` is sent in one minute. The open-model
load test and the rehearsal both send these orders at their times (open arrivals); a
Locust worker takes every ``count``-th of them (:meth:`OrderStream.share`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.demand import DemandCurve, build_skus, sample_arrivals
from simulator.model import make_streams
from simulator.scenario import Scenario


@dataclass(frozen=True)
class OrderStream:
    """Orders in send order: test second, region and basket (SKU numbers and quantities)."""

    send_s: np.ndarray  # seconds from the start of the test, sorted
    model_minute: np.ndarray  # the order's time on the scenario clock
    region: np.ndarray  # index into region_ids
    line_start: np.ndarray  # lines of order i: line_start[i]:line_start[i + 1]
    sku: np.ndarray  # the scenario's SKU number (0-based)
    qty: np.ndarray
    region_ids: tuple[str, ...]
    speed: float  # model seconds per test second
    horizon_minutes: float

    def __len__(self) -> int:
        return len(self.send_s)

    @property
    def duration_s(self) -> float:
        """Test seconds the scenario's horizon takes at this speed."""
        return float(self.horizon_minutes * 60 / self.speed)

    def basket(self, i: int) -> list[tuple[int, int]]:
        """``(sku number, quantity)`` of each line of order ``i``."""
        lo, hi = self.line_start[i], self.line_start[i + 1]
        return list(zip(self.sku[lo:hi].tolist(), self.qty[lo:hi].tolist(), strict=True))

    def share(self, index: int, count: int) -> OrderStream:
        """Every ``count``-th order from ``index``: one Locust worker's part of the stream."""
        if not 0 <= index < count:
            raise ValueError(f"share {index} of {count} does not exist")
        return self.rows(np.arange(index, len(self), count))

    def rows(self, rows: np.ndarray) -> OrderStream:
        """The orders at ``rows`` (indexes, in send order)."""
        starts, ends = self.line_start[rows], self.line_start[rows + 1]
        lines = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)]
                               or [np.zeros(0, dtype=np.int64)])
        line_start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(ends - starts, out=line_start[1:])
        return OrderStream(self.send_s[rows], self.model_minute[rows], self.region[rows],
                           line_start, self.sku[lines], self.qty[lines], self.region_ids,
                           self.speed, self.horizon_minutes)


def order_stream(scenario: Scenario, seed: int, *, speed: float | None = None,
                 duration_s: float | None = None,
                 window: tuple[float, float] | None = None) -> OrderStream:
    """The simulator's orders for ``seed``, sent at ``speed`` (or fitted into ``duration_s``).

    ``window``: only the orders from ``start`` to ``end`` (minutes of the scenario clock),
    the first sent at second 0 (a rehearsal of the evening peak alone, say)."""
    horizon_min = float(scenario.clock.horizon_minutes)
    start, end = window if window is not None else (0.0, horizon_min)
    if not 0 <= start < end <= horizon_min:
        raise ValueError(f"the window {start:g}-{end:g} min is not within the scenario's "
                         f"{horizon_min:g} minutes")
    horizon_min = end - start
    if (speed is None) == (duration_s is None):
        raise ValueError("give exactly one of speed and duration_s")
    if speed is None:
        assert duration_s is not None
        if duration_s <= 0:
            raise ValueError("duration_s must be > 0")
        speed = horizon_min * 60 / duration_s
    if speed <= 0:
        raise ValueError("speed must be > 0")
    curve = DemandCurve(scenario, build_skus(scenario.catalogue))
    arrivals = sample_arrivals(scenario, curve, make_streams(seed))
    whole = OrderStream(
        send_s=(arrivals.time - start) * 60 / speed, model_minute=arrivals.time,
        region=arrivals.region, line_start=arrivals.line_start, sku=arrivals.sku,
        qty=arrivals.qty, region_ids=tuple(r.id for r in scenario.network.regions),
        speed=float(speed), horizon_minutes=horizon_min,
    )
    if window is None:
        return whole
    first, last = np.searchsorted(arrivals.time, [start, end])
    return whole.rows(np.arange(first, last))
