"""Sorting centres and last-mile hubs: capacity per hour, processed in waves.

:class:`WaveNode` is a sorting centre or a hub. One cycle, every ``wave_minutes``: refuse the
parcels that have waited longer than ``late_tolerance_hours`` (sorting centres: delivering ->
not_accepted); sort, first come first served, up to the capacity of the coming wave
(capacity per hour x fault factor, unused capacity carried over while parcels wait); sorted
parcels are ready at the end of the wave and leave at the next outbound cut-off (or at once
when the centre has none) onto the lane their route takes next. Parcels that reach a closed
sorting centre (capacity factor 0; they were already on a truck when it closed) are refused
(``when_closed: refuse``, delivering -> not_accepted) or held at the gate, queued until it
reopens (``when_closed: hold``; the late tolerance still applies); hubs always hold them.
Every parcel's time in a queue is a visit in the world's visit log, from its exact arrival.

:class:`ServerCentre` is a sorting centre in parcel-level mode (``servers`` and
``service_minutes`` set): ``servers`` sorters, first come first served, each parcel taking a
sampled service time; a parcel whose wait would exceed the late tolerance is refused instead.
It makes the centre an M/G/c queue (M/M/c with exponential service) for validation. Capacity
cuts do not apply in this mode, closures do: no service starts while the centre is closed,
and arrivals meanwhile are refused or (holding them) wait for it to reopen.
"""

from __future__ import annotations

import heapq

import numpy as np

from simulator.actors.postings import DELIVERING, NOT_ACCEPTED, RowQueue
from simulator.actors.schedule import CapacityCurve, call_at, call_batches_at, daily_times
from simulator.actors.world import World
from simulator.metrics import Tally


class WaveNode:
    """A sorting centre in wave mode, or a hub (no late tolerance, holds parcels when closed)."""

    def __init__(self, world: World, node: int, *, wave_minutes: int, capacity: CapacityCurve,
                 cutoffs: list[int], tolerance_minutes: float | None,
                 refuse_when_closed: bool) -> None:
        self.world = world
        self.node = node
        self.wave = wave_minutes
        self.capacity = capacity
        self.tolerance = tolerance_minutes
        self.refuse_when_closed = refuse_when_closed
        self.queue = RowQueue()
        self.processed = Tally()  # parcels per wave
        self.refused = 0
        self._carry = 0.0
        self._pool: list[tuple[float, np.ndarray]] = []  # sorted, waiting for a cut-off
        self._has_cutoffs = bool(cutoffs)
        world.receivers[node] = self
        world.env.process(self._waves())
        if cutoffs:
            world.env.process(self._cutoffs(cutoffs))

    def receive(self, ids: np.ndarray, times: np.ndarray, t: float) -> None:
        if self.refuse_when_closed and self.node in self.world.closed:
            self._refuse(ids)
            return
        self.world.postings.node_in[ids] = t
        self.world.visits.join(self.node, ids, times)
        self.queue.push(ids)

    def _refuse(self, ids: np.ndarray) -> None:
        self.world.postings.transition(ids, NOT_ACCEPTED)
        self.refused += ids.size

    def _late_count(self, threshold: float) -> int:
        """How many parcels at the head of the queue arrived before ``threshold`` (the queue
        is in arrival order; only the head is looked at)."""
        waiting, node_in = self.queue.view(), self.world.postings.node_in
        k = 64
        while k < waiting.size and node_in[waiting[k - 1]] < threshold:
            k *= 4
        return int(np.searchsorted(node_in[waiting[:k]], threshold, side="left"))

    def _waves(self):
        env = self.world.env
        while env.now < self.world.end:
            self._release(env.now)
            yield env.timeout(self.wave)

    def _release(self, t: float) -> None:
        if self.tolerance is not None and len(self.queue):
            late = self._late_count(t - self.tolerance)
            if late:
                refused = self.queue.view()[:late].copy()
                self.queue.drop(late)
                self.world.visits.leave(refused, t, served=False)
                self._refuse(refused)
        if not len(self.queue):  # nothing to sort: no carry-over either
            self._carry = 0.0
            return
        budget = self.capacity.between(t, t + self.wave) + self._carry
        ids, used = self.queue.take(budget, lambda rows: np.ones(rows.size, dtype=bool))
        self._carry = budget - used if len(self.queue) else 0.0
        if ids.size == 0:
            return
        self.processed.add(t, used)
        self.world.visits.leave(ids, t, served=True)
        ready = t + self.wave
        if self._has_cutoffs:
            self._pool.append((ready, ids))
        else:
            call_at(self.world.env, ready, lambda: self.world.dispatch(ids, self.node, ready))

    def _cutoffs(self, cutoffs: list[int]):
        world = self.world
        env = world.env
        offset = world.network.offset[self.node]
        for t in daily_times(cutoffs, world.scenario.clock, offset, world.end):
            yield env.timeout(t - env.now)
            ready = [ids for at, ids in self._pool if at <= t]
            self._pool = [(at, ids) for at, ids in self._pool if at > t]
            if ready:
                world.dispatch(np.concatenate(ready), self.node, t)


class ServerCentre:
    """A sorting centre in parcel-level mode: ``servers`` sorters, FCFS, sampled service."""

    def __init__(self, world: World, node: int, *, servers: int, service, capacity: CapacityCurve,
                 tolerance_minutes: float, refuse_when_closed: bool) -> None:
        self.world = world
        self.node = node
        self.service = service
        self.servers = servers
        self.capacity = capacity
        self.tolerance = tolerance_minutes
        self.refuse_when_closed = refuse_when_closed
        self._closures = sorted((a, b) for a, b, n in world.network.faults.closures() if n == node)
        self.refused = 0
        self.processed = Tally()  # busy minutes by service start
        self._free = [0.0] * servers  # heap of the times each sorter becomes free
        self._rng = world.streams["service"]
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        world.receivers[node] = self

    def receive(self, ids: np.ndarray, times: np.ndarray, t: float) -> None:
        if self.refuse_when_closed and self.node in self.world.closed:
            self.world.postings.transition(ids, NOT_ACCEPTED)
            self.refused += ids.size
            return
        # batches arriving at the same moment are served together, in exact arrival order
        if not self._pending:
            call_at(self.world.env, t, self._serve_pending)
        self._pending.append((ids, np.broadcast_to(times, ids.shape)))

    def _serve_pending(self) -> None:
        batches, self._pending = self._pending, []
        self._serve(np.concatenate([b[0] for b in batches]),
                    np.concatenate([b[1] for b in batches]))

    def _serve(self, ids: np.ndarray, times: np.ndarray) -> None:
        p = self.world.postings
        order = np.argsort(times, kind="stable")
        ids, times = ids[order], times[order]
        service = self.service.sample(self._rng, ids.size)
        start = np.empty(ids.size)
        free = self._free
        for k, arrival in enumerate(times.tolist()):
            begin = self._open_at(max(arrival, free[0]))
            if begin - arrival > self.tolerance:
                start[k] = np.nan
                continue
            start[k] = begin
            heapq.heapreplace(free, begin + service[k])
            self.processed.add(begin, float(service[k]))
        served = ~np.isnan(start)
        p.node_in[ids] = times
        visits = self.world.visits
        visits.join(self.node, ids, times)
        visits.leave(ids[served], start[served], served=True)
        visits.leave(ids[~served], times[~served] + self.tolerance, served=False)
        finish = start[served] + service[served]
        call_batches_at(self.world.env, finish, ids[served],
                        lambda i, tt: self.world.dispatch(i, self.node, self.world.env.now))
        if (~served).any():
            call_batches_at(self.world.env, times[~served] + self.tolerance, ids[~served],
                            lambda i, tt: self._refuse(i))

    def _open_at(self, t: float) -> float:
        """``t``, or the end of the closure ``t`` falls in (closures may overlap)."""
        for start, stop in self._closures:
            if start <= t < stop:
                t = stop
        return t

    def _refuse(self, ids: np.ndarray) -> None:
        assert np.all(self.world.postings.status[ids] == DELIVERING)
        self.world.postings.transition(ids, NOT_ACCEPTED)
        self.refused += ids.size
