"""Capacity over time and batched future events: the clockwork the actors share.

A node's capacity is a rate per model minute (shift calendar in the node's local time, plus
shifts given by date, x fault factors), kept as a cumulative sum so the capacity of any window
is two lookups. Times of day of a node (cut-offs, departures) become model times through its
clock offset (:func:`daily_times`). Future events that carry a batch
of parcels (a truck's arrival, a wave's handover) are SimPy timeouts with one callback each;
batches with many distinct times are grouped by the minute (rounded up). Items that many
calls schedule over a long time (supplier deliveries) share one event per minute
(:class:`MinuteBatches`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import simpy

from simulator.demand import DAY_MINUTES, clock_origin
from simulator.network import FaultWindow
from simulator.scenario import Clock, Shift, hhmm_to_minutes
from simulator.zones import local_midnight

WEEK_MINUTES = 7 * DAY_MINUTES


def shift_rates(shifts: Sequence[Shift]) -> np.ndarray:
    """Capacity per minute for each minute of the week (0 = Monday 00:00).

    A shift listed for day ``d`` runs from its start that day to its end, crossing midnight
    into the next day when the end is not after the start (equal times: 24 hours). Shifts
    given by ``dates`` are left out (:func:`dated_rates`).
    """
    week = np.zeros(WEEK_MINUTES)
    for shift in shifts:
        if shift.dates:
            continue
        start, length = _window(shift)
        for day in shift.days:
            first = day * DAY_MINUTES + start
            idx = np.arange(first, first + length) % WEEK_MINUTES
            week[idx] += shift.capacity_per_hour / 60
    return week


def _window(shift: Shift) -> tuple[int, int]:
    """(start minute of the day, length in minutes) of a shift."""
    start, end = hhmm_to_minutes(shift.start), hhmm_to_minutes(shift.end)
    return start, (end - start) % DAY_MINUTES or DAY_MINUTES


def dated_rates(shifts: Sequence[Shift], clock: Clock, minutes: int,
                offset: int = 0) -> np.ndarray | None:
    """Capacity per model minute of the shifts given by ``dates`` on a clock ``offset``
    minutes ahead of the platform's; None when there are none."""
    dated = [shift for shift in shifts if shift.dates]
    if not dated:
        return None
    rate = np.zeros(minutes)
    for shift in dated:
        start, length = _window(shift)
        for day in shift.dates:
            first = round(local_midnight(clock.start, offset, day)) + start
            rate[max(first, 0):max(min(first + length, minutes), 0)] += shift.capacity_per_hour / 60
    return rate


def daily_times(times_of_day: Sequence[int], clock: Clock, offset: int,
                end: float) -> Iterator[float]:
    """Model times in ``[0, end)`` of the local ``times_of_day`` (minutes after midnight,
    sorted) on a clock ``offset`` minutes ahead of the platform's, in order."""
    _, minute0 = clock_origin(clock)
    day = -(-(minute0 + offset) // DAY_MINUTES) - 1  # the local day at minute 0, or before
    while True:
        for minute in times_of_day:
            t = day * DAY_MINUTES + minute - minute0 - offset
            if t >= end:
                return
            if t >= 0:
                yield t
        day += 1


class CapacityCurve:
    """Capacity of one node per model minute over the run, with window integrals."""

    def __init__(self, rate: np.ndarray) -> None:
        self.rate = rate
        self.cum = np.concatenate([[0.0], np.cumsum(rate)])
        self._grid = np.arange(len(self.cum), dtype=float)
        self._cum_list = self.cum.tolist()

    @classmethod
    def build(cls, clock: Clock, minutes: int, *, weekly: np.ndarray | None = None,
              per_hour: float | None = None, faults: Sequence[FaultWindow] = (),
              offset: int = 0, dated: np.ndarray | None = None) -> CapacityCurve:
        """From a weekly shift pattern in local time (``offset`` minutes ahead of the
        platform's) plus ``dated`` shifts, or a constant ``per_hour``; times fault factors."""
        if weekly is not None:
            weekday0, minute0 = clock_origin(clock)
            absolute = weekday0 * DAY_MINUTES + minute0 + offset + np.arange(minutes)
            rate = weekly[absolute % WEEK_MINUTES]
            if dated is not None:
                rate = rate + dated
        else:
            rate = np.full(minutes, (per_hour or 0.0) / 60)
        for window in faults:
            lo, hi = max(0, math.floor(window.start)), min(minutes, math.ceil(window.end))
            rate[lo:hi] *= window.factor
        return cls(rate)

    def between(self, t0: float, t1: float) -> float:
        """Capacity units in ``[t0, t1)`` minutes."""
        last = len(self.cum) - 1
        i0, i1 = int(t0), int(t1)
        if i0 == t0 and i1 == t1 and 0 <= i0 <= i1 <= last:  # whole minutes: two lookups
            return self._cum_list[i1] - self._cum_list[i0]
        a = float(np.interp(min(max(t0, 0.0), last), self._grid, self.cum))
        b = float(np.interp(min(max(t1, 0.0), last), self._grid, self.cum))
        return b - a

    def integral(self, edges: np.ndarray) -> np.ndarray:
        """Capacity in each bin between consecutive ``edges``."""
        edges = np.clip(np.asarray(edges, dtype=float), 0, len(self.cum) - 1)
        return np.diff(np.interp(edges, self._grid, self.cum))

    def is_closed(self, t: float) -> bool:
        m = int(t)
        return 0 <= m < len(self.rate) and self.rate[m] == 0


def call_at(env: simpy.Environment, at: float, fn: Callable[[], None]) -> None:
    """Run ``fn()`` at time ``at`` (or now, if ``at`` is past)."""
    event = env.timeout(max(at - env.now, 0.0))
    event.callbacks.append(lambda _event: fn())


def by_minute(minute: np.ndarray) -> tuple[np.ndarray | None, list[tuple[float, slice]]]:
    """Whole minutes grouped: the stable order that sorts them (None: one minute, no sorting)
    and, in that order, each minute with the slice of its items."""
    if minute.size == 1 or np.all(minute == minute[0]):
        return None, [(float(minute[0]), slice(None))]
    order = np.argsort(minute, kind="stable")
    minute = minute[order]
    cuts = (np.flatnonzero(np.diff(minute)) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, minute.size]
    return order, [(float(minute[a]), slice(a, b)) for a, b in zip(starts, ends, strict=True)]


def call_batches_at(env: simpy.Environment, times: np.ndarray, ids: np.ndarray,
                    fn: Callable[[np.ndarray, np.ndarray], None]) -> None:
    """Call ``fn(ids, times)`` per group of ids whose times round up to the same minute."""
    if ids.size == 0:
        return
    order, groups = by_minute(np.ceil(times))
    if order is not None:
        ids, times = ids[order], times[order]
    for at, sl in groups:
        batch_ids, batch_times = ids[sl], times[sl]
        call_at(env, at, lambda i=batch_ids, t=batch_times: fn(i, t))


class MinuteBatches:
    """Items due at whole minutes, one SimPy event per minute: ``fn(rows)`` with the rows of
    every item due then (a 2-D array, one row an item), in the order they were added.

    Items added for a minute whose event is still pending join it, so they happen where the
    first of them was scheduled in the event order. That is the order one event per
    :meth:`add` would give as long as no event that reads what the items change was
    scheduled for that minute in between: whoever schedules such an event calls
    :meth:`seal` for its minute, and later items get an event of their own after it. Items
    due at or after ``end`` (when the run stops) are dropped: they would never happen.
    """

    def __init__(self, env: simpy.Environment, end: float,
                 fn: Callable[[np.ndarray], None]) -> None:
        self.env, self.end, self.fn = env, end, fn
        self._open: dict[float, list[np.ndarray]] = {}

    def add(self, minutes: np.ndarray, rows: np.ndarray) -> None:
        """Items ``rows[i]`` due at ``minutes[i]`` (whole minutes)."""
        due = minutes < self.end
        if not due.all():
            minutes, rows = minutes[due], rows[due]
        if minutes.size == 0:
            return
        order, groups = by_minute(minutes)
        if order is not None:
            rows = rows[order]
        opened = self._open
        for at, sl in groups:
            batch = opened.get(at)
            if batch is None:
                opened[at] = batch = [rows[sl]]
                call_at(self.env, at, lambda at=at, batch=batch: self._fire(at, batch))
            else:
                batch.append(rows[sl])

    def seal(self, at: float) -> None:
        """An event that must see the items of minute ``at`` added so far, and none added
        later, is scheduled for that minute."""
        self._open.pop(at, None)

    def _fire(self, at: float, parts: list[np.ndarray]) -> None:
        if self._open.get(at) is parts:
            del self._open[at]
        self.fn(parts[0] if len(parts) == 1 else np.concatenate(parts))
