"""The run context the actors share: clock, random streams, postings, queue visits, stock, and
parcel routing.

There is no global state: one :class:`World` per replication, passed to every actor. It moves
parcels between actors: :meth:`dispatch` sends parcels that are ready at a node onto the lane
their route takes next (re-routing around closed nodes when the scenario says so), and
:meth:`arrive` hands parcels that finished a lane to the actor of the destination node, or
books them delivered when the destination is a buyer region (where buyer returns are decided).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import simpy

from simulator.actors.postings import DELIVERED, DELIVERING, Postings
from simulator.actors.stock import StockLedger
from simulator.actors.visits import VisitLog
from simulator.network import REGION, Network
from simulator.scenario import Scenario


class Receiver(Protocol):
    """An actor parcels can arrive at (warehouse cross-dock, sorting centre, hub)."""

    def receive(self, ids: np.ndarray, times: np.ndarray, t: float) -> None: ...


class World:
    """Everything one replication's actors share."""

    def __init__(self, *, env: simpy.Environment, scenario: Scenario, network: Network,
                 streams: dict[str, np.random.Generator], postings: Postings,
                 stock: StockLedger, order_region: np.ndarray, end: float,
                 window: tuple[float, float]) -> None:
        self.env = env
        self.scenario = scenario
        self.network = network
        self.streams = streams
        self.postings = postings
        self.visits = VisitLog(postings, capacity=3 * postings.capacity + 64)  # ~3 a parcel
        self.stock = stock
        self.order_region = order_region  # region index per order
        self.end = end  # minutes: horizon + drain
        self.window = window  # statistics window (warmup, horizon) in minutes
        self.receivers: dict[int, Receiver] = {}
        self.carriers: list = []  # per lane, filled by the model
        self.returns = None  # buyer returns (simulator.actors.returns.Returns), set by the model
        self.closed: set[int] = set()
        self._closures: dict[int, int] = {}
        self.on_close_change: list[Callable[[int, bool], None]] = []
        self.unroutable = 0
        self._route_lane = np.zeros((0, 1), dtype=np.int32)
        self._region_node = np.asarray(network.region_nodes)
        self._lane_dst = np.array([lane.dst for lane in network.lanes])

    # ------------------------------------------------------------------ routing

    def _lane_table(self) -> np.ndarray:
        routes = self.network.route_lanes
        if len(routes) != self._route_lane.shape[0]:
            width = max((len(r) for r in routes), default=0) + 1
            table = np.full((len(routes), width), -1, dtype=np.int32)
            for i, lanes in enumerate(routes):
                table[i, : len(lanes)] = lanes
            self._route_lane = table
        return self._route_lane

    def next_lanes(self, ids: np.ndarray) -> np.ndarray:
        """Lane each parcel takes from its current node (-1: no route)."""
        p = self.postings
        route, hop = p.route[ids], p.hop[ids]
        lanes = np.full(ids.size, -1, dtype=np.int32)
        ok = route >= 0
        lanes[ok] = self._lane_table()[route[ok], hop[ok]]
        return lanes

    def reroute(self, ids: np.ndarray, node: int) -> np.ndarray:
        """Give parcels at ``node`` a route around the closed nodes; mask of those that got one."""
        p = self.postings
        closed = frozenset(self.closed)
        region = self.order_region[p.order[ids]]
        done = np.zeros(ids.size, dtype=bool)
        for r in np.unique(region).tolist():
            route = self.network.reroute(node, int(self._region_node[r]), closed)
            if route >= 0:
                sel = region == r
                p.route[ids[sel]] = route
                p.hop[ids[sel]] = 0
                done |= sel
        return done

    def dispatch(self, ids: np.ndarray, node: int, t: float) -> None:
        """Parcels ready at ``node`` join the queue of the lane their route takes next."""
        if ids.size == 0:
            return
        lanes = self.next_lanes(ids)
        if self.network.reroute_on_close and self.closed:
            dst = self._lane_dst[np.maximum(lanes, 0)]
            blocked = (lanes >= 0) & np.isin(dst, list(self.closed))
            if blocked.any():
                self.reroute(ids[blocked], node)
                lanes = self.next_lanes(ids)
        stuck = lanes < 0
        if stuck.any():  # no route from here: the parcel stays where it is (in flight)
            self.unroutable += int(stuck.sum())
            ids, lanes = ids[~stuck], lanes[~stuck]
        if lanes.size and np.all(lanes == lanes[0]):
            self.carriers[int(lanes[0])].enqueue(ids, t)
            return
        order = np.argsort(lanes, kind="stable")
        ids, lanes = ids[order], lanes[order]
        cuts = np.flatnonzero(np.diff(lanes)) + 1
        starts, stops = np.concatenate([[0], cuts]), np.concatenate([cuts, [lanes.size]])
        for a, b in zip(starts, stops, strict=True):
            self.carriers[int(lanes[a])].enqueue(ids[a:b], t)

    def arrive(self, ids: np.ndarray, times: np.ndarray, node: int) -> None:
        """Parcels finished a lane into ``node`` (times: exact arrival minutes)."""
        self.postings.hop[ids] += 1
        if self.network.kinds[node] == REGION:
            self.deliver(ids, times)
        else:
            self.receivers[node].receive(ids, times, self.env.now)

    def deliver(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Book deliveries at ``times`` (may lie ahead; :meth:`finish_deliveries` settles them)."""
        self.postings.delivered[ids] = times
        if self.returns is not None:
            self.returns.book(ids, times)

    def finish_deliveries(self, t: float) -> None:
        """Parcels delivered by ``t`` move delivering -> delivered; later ones stay in flight."""
        p = self.postings
        times = p.delivered[: p.n]  # booked deliveries (NaN: none)
        done = np.flatnonzero(times <= t)
        assert np.all(p.status[done] == DELIVERING)
        p.transition(done, DELIVERED)
        times[times > t] = np.nan

    # ------------------------------------------------------------------ faults

    def set_closed(self, node: int, closed: bool) -> None:
        """A closure window of ``node`` starts (True) or ends; windows may overlap."""
        count = self._closures.get(node, 0) + (1 if closed else -1)
        self._closures[node] = count
        was = node in self.closed
        if count > 0:
            self.closed.add(node)
        else:
            self.closed.discard(node)
        if was != (count > 0):
            for callback in self.on_close_change:
                callback(node, count > 0)
