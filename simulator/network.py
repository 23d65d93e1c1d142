"""The transport network of one run: a networkx graph of nodes and lanes, route tables, faults.

Nodes are buyer regions, warehouses, sorting centres and last-mile hubs; a lane is a directed
edge. Routes (warehouse -> region) are shortest paths by expected hours or by cost, as
``network.routing`` says, computed once per run and kept as tables of node-index paths. A
route's expected hours add, per lane, the mean wait for the next departure and the mean
transit, and per sorting centre or hub on the way, half a wave plus the mean wait for the next
cut-off. Regions are sinks: no route passes through one.

Every node has a clock offset (minutes its local time is ahead of the platform's, see
:mod:`simulator.zones`): departures, cut-offs and shifts are local times of their node.

Faults close a node (``capacity_factor: 0``), cut its capacity, or delay a lane (one mode of
a pair, or all) for a window; a node's ``closed_dates`` are closures from local midnight to
midnight.
While a node is closed, parcels about to leave for it either take another route (computed on
demand, avoiding the closed nodes, and cached) or wait, as ``network.on_node_closed`` says.

:class:`LiveNetworkView` is the read-only ``NetworkView`` an allocation policy sees: routed
transit hours and cost per parcel (static), and the live backlog and open flag of warehouses
that the actors keep up to date.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from simulator.scenario import Lane, Scenario, hhmm_to_minutes
from simulator.zones import local_midnight, offset_minutes

REGION, WAREHOUSE, SORTING_CENTRE, HUB = "region", "warehouse", "sorting_centre", "hub"
DAY_MINUTES = 1440
HUB_WAVE_MINUTES = 15  # hubs process arrivals every this many minutes


def mean_wait_to_next(times_of_day: Sequence[int]) -> float:
    """Mean minutes from a uniformly random moment of the day to the next of ``times_of_day``."""
    if not times_of_day:
        return 0.0
    times = sorted(set(times_of_day))
    gaps = np.diff([*times, times[0] + DAY_MINUTES])
    return float(np.sum(gaps**2) / (2 * DAY_MINUTES))


@dataclass(frozen=True, slots=True)
class LaneInfo:
    """One lane with the figures routing and the carriers need (times in minutes)."""

    index: int
    src: int
    dst: int
    spec: Lane
    departures: tuple[int, ...]  # minutes of the day, sorted; empty = continuous
    expected_minutes: float  # mean wait for a departure + mean transit
    cost: float  # per parcel, trucks leaving full (what routing by cost compares)

    @property
    def continuous(self) -> bool:
        return not self.departures


@dataclass(frozen=True, slots=True)
class FaultWindow:
    start: float  # minutes
    end: float
    factor: float  # capacity factor (nodes); 1.0 for lanes
    delay: float  # extra minutes (lanes)


class Faults:
    """Fault windows by node and by lane, in model minutes."""

    def __init__(self, scenario: Scenario, node_index: dict[str, int], lane_index: dict,
                 offsets: Sequence[int]) -> None:
        self.node: dict[int, list[FaultWindow]] = {}
        self.lane: dict[int, list[FaultWindow]] = {}
        lanes = scenario.network.lanes
        for fault in scenario.faults:
            start = fault.start_hour * 60
            window = FaultWindow(start, start + fault.duration_hours * 60,
                                 fault.capacity_factor, fault.extra_delay_hours * 60)
            if fault.node is not None:
                self.node.setdefault(node_index[fault.node], []).append(window)
            else:
                for lane in lane_index[tuple(fault.lane)]:
                    if fault.mode in (None, lanes[lane].mode):
                        self.lane.setdefault(lane, []).append(window)
        net, start = scenario.network, scenario.clock.start
        for node in (*net.warehouses, *net.sorting_centres, *net.hubs):
            i = node_index[node.id]
            for day in node.closed_dates:
                begin = local_midnight(start, offsets[i], day)
                self.node.setdefault(i, []).append(FaultWindow(begin, begin + DAY_MINUTES,
                                                               0.0, 0.0))

    def capacity_factor(self, node: int, t: float) -> float:
        """Product of the factors of the node's faults active at ``t``."""
        factor = 1.0
        for w in self.node.get(node, ()):
            if w.start <= t < w.end:
                factor *= w.factor
        return factor

    def lane_delay(self, lane: int, t: float) -> float:
        """Extra minutes for a departure at ``t``."""
        return sum(w.delay for w in self.lane.get(lane, ()) if w.start <= t < w.end)

    def closures(self) -> list[tuple[float, float, int]]:
        """(start, end, node) of every window that closes a node."""
        return [(w.start, w.end, node) for node, ws in self.node.items() for w in ws
                if w.factor == 0]


class Network:
    """Nodes, lanes, the networkx graph and the route tables of one run.

    Route ids index :attr:`routes` (node-index paths) and :attr:`route_lanes` (the lane index
    of each hop); ``table[w, r]`` is the route id from warehouse ``w`` to region ``r`` (-1 when
    unreachable).
    """

    def __init__(self, scenario: Scenario) -> None:
        net = scenario.network
        self.routing = net.routing
        self.reroute_on_close = net.on_node_closed == "reroute"
        groups = ((REGION, net.regions), (WAREHOUSE, net.warehouses),
                  (SORTING_CENTRE, net.sorting_centres), (HUB, net.hubs))
        self.nodes = [node for _, group in groups for node in group]
        self.kinds = [kind for kind, group in groups for _ in group]
        self.ids = [node.id for node in self.nodes]
        self.index = {node_id: i for i, node_id in enumerate(self.ids)}
        self.region_nodes = [self.index[r.id] for r in net.regions]
        self.warehouse_nodes = [self.index[w.id] for w in net.warehouses]
        self.region_ids = [r.id for r in net.regions]
        self.warehouse_ids = [w.id for w in net.warehouses]
        self.node_delay = [self._node_delay(node, kind)
                           for node, kind in zip(self.nodes, self.kinds, strict=True)]
        clock = scenario.clock
        self.offset = [offset_minutes(node.time_zone, clock.time_zone, clock.start)
                       for node in self.nodes]

        self.lanes: list[LaneInfo] = []
        lane_index: dict[tuple[str, str], list[int]] = {}
        for i, lane in enumerate(net.lanes):
            departures = tuple(hhmm_to_minutes(d) for d in lane.departures)
            expected = mean_wait_to_next(departures) + lane.transit_hours.mean * 60
            info = LaneInfo(i, self.index[lane.from_], self.index[lane.to], lane, departures,
                            expected, lane.planned_cost_per_parcel)
            self.lanes.append(info)
            lane_index.setdefault((lane.from_, lane.to), []).append(i)
        self.faults = Faults(scenario, self.index, lane_index, self.offset)

        self.graph = nx.DiGraph()
        for i, (node, kind) in enumerate(zip(self.nodes, self.kinds, strict=False)):
            self.graph.add_node(i, id=node.id, kind=kind)
        for info in self.lanes:
            if self.kinds[info.src] == REGION:
                continue  # regions are sinks
            weight = self._weight(info)
            old = self.graph.get_edge_data(info.src, info.dst)
            if old is None or weight < old["weight"]:  # parallel lanes: keep the best
                self.graph.add_edge(info.src, info.dst, weight=weight, lane=info.index)

        self.routes: list[tuple[int, ...]] = []
        self.route_lanes: list[tuple[int, ...]] = []
        self.route_minutes: list[float] = []
        self.route_cost: list[float] = []
        self._route_ids: dict[tuple[int, ...], int] = {}
        self._reroute_cache: dict[tuple[int, int, frozenset[int]], int] = {}
        n_w, n_r = len(self.warehouse_nodes), len(self.region_nodes)
        self.table = np.full((n_w, n_r), -1, dtype=np.int32)
        for wi, w in enumerate(self.warehouse_nodes):
            paths = nx.single_source_dijkstra_path(self.graph, w, weight="weight")
            for ri, r in enumerate(self.region_nodes):
                if r in paths:
                    self.table[wi, ri] = self._route_id(tuple(paths[r]))
        self.transit_hours = np.full((n_w, n_r), math.inf)
        self.cost_per_parcel = np.full((n_w, n_r), math.inf)
        for (wi, ri), route in np.ndenumerate(self.table):
            if route >= 0:
                self.transit_hours[wi, ri] = self.route_minutes[route] / 60
                self.cost_per_parcel[wi, ri] = self.route_cost[route]

    # ------------------------------------------------------------------ building

    def _node_delay(self, node, kind: str) -> float:
        """Expected minutes a parcel spends in a sorting centre or hub with no queue."""
        if kind == SORTING_CENTRE:
            if node.servers is not None:
                return node.service_minutes.mean
            cutoffs = [hhmm_to_minutes(c) for c in node.cutoffs]
            return node.wave_minutes / 2 + mean_wait_to_next(cutoffs)
        if kind == HUB:
            return HUB_WAVE_MINUTES / 2
        return 0.0

    def _weight(self, info: LaneInfo) -> float:
        minutes = info.expected_minutes + self.node_delay[info.dst]
        if self.routing == "time":
            return minutes + 1e-6 * info.cost
        return info.cost + 1e-6 * minutes

    def _route_id(self, path: tuple[int, ...]) -> int:
        route = self._route_ids.get(path)
        if route is None:
            hops = zip(path[:-1], path[1:], strict=True)
            lanes = tuple(self.graph.edges[a, b]["lane"] for a, b in hops)
            route = len(self.routes)
            self.routes.append(path)
            self.route_lanes.append(lanes)
            self.route_minutes.append(sum(self.lanes[lane].expected_minutes
                                          + self.node_delay[self.lanes[lane].dst]
                                          for lane in lanes))
            self.route_cost.append(sum(self.lanes[lane].cost for lane in lanes))
            self._route_ids[path] = route
        return route

    # ------------------------------------------------------------------ queries

    def reroute(self, src: int, region: int, closed: frozenset[int]) -> int:
        """Route id of the best path ``src -> region`` avoiding ``closed`` nodes, or -1."""
        key = (src, region, closed)
        route = self._reroute_cache.get(key)
        if route is None:
            view = nx.subgraph_view(self.graph, filter_node=lambda n: n not in closed or n == src)
            try:
                path = nx.dijkstra_path(view, src, region, weight="weight")
                route = self._route_id(tuple(path))
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                route = -1
            self._reroute_cache[key] = route
        return route

    def home_warehouse(self, carried: np.ndarray | None = None) -> np.ndarray:
        """Home warehouse index per region, or per ``[sku, region]`` given ``carried[sku, w]``.

        The home is the warehouse with the best route (by ``routing``) among those carrying the
        SKU (any warehouse when none does): where its demand goes first, and where lost sales
        and demand priors are booked.
        """
        weights = self.transit_hours if self.routing == "time" else self.cost_per_parcel
        if carried is None:
            return np.argmin(weights, axis=0).astype(np.int32)
        rank = np.argsort(np.argsort(weights, axis=0, kind="stable"), axis=0)  # [w, r]
        home = np.zeros((carried.shape[0], weights.shape[1]), dtype=np.int32)
        for r in range(weights.shape[1]):  # carried warehouses first, then by route rank
            score = np.where(carried, rank[:, r], weights.shape[0] + rank[:, r])
            home[:, r] = np.argmin(score, axis=1)
        return home

    def nodes_of(self, kind: str) -> list[int]:
        """Node indexes of one kind (``warehouse``, ``sorting_centre``, ...), in scenario order."""
        return [i for i, k in enumerate(self.kinds) if k == kind]

    def node_rows(self) -> list[dict]:
        """The ``nodes`` table of a RunResult."""
        return [{"id": n.id, "kind": k, "name": n.name, "city": n.city, "lat": n.lat, "lon": n.lon}
                for n, k in zip(self.nodes, self.kinds, strict=False)]


class LiveNetworkView:
    """The ``NetworkView`` allocation policies see during a run.

    Transit hours and cost come from the route tables; ``load`` is the warehouse backlog (units
    queued for picking) in hours of its mean pick capacity; ``is_open`` is False while a fault
    closes the warehouse. The warehouse actors update :attr:`backlog_units`, fault switches call
:meth:`set_open`.
    """

    def __init__(self, network: Network, mean_capacity_per_hour: Sequence[float]) -> None:
        self.warehouses: tuple[str, ...] = tuple(network.warehouse_ids)
        self._wi = {w: i for i, w in enumerate(network.warehouse_ids)}
        ri = {r: i for i, r in enumerate(network.region_ids)}
        self._transit = {(w, r): float(network.transit_hours[self._wi[w], ri[r]])
                         for w in network.warehouse_ids for r in network.region_ids}
        self._cost = {(w, r): float(network.cost_per_parcel[self._wi[w], ri[r]])
                      for w in network.warehouse_ids for r in network.region_ids}
        self._capacity = [max(c, 1e-9) for c in mean_capacity_per_hour]
        self.backlog_units: list[float] = [0.0] * len(self.warehouses)
        self._open = dict.fromkeys(self.warehouses, True)
        # policies call is_open for every candidate of every order: a bound dict lookup
        self.is_open = self._open.__getitem__  # type: ignore[method-assign]

    def transit_hours(self, warehouse: str, region: str) -> float:
        return self._transit.get((warehouse, region), math.inf)

    def cost_per_parcel(self, warehouse: str, region: str) -> float:
        return self._cost.get((warehouse, region), math.inf)

    def load(self, warehouse: str) -> float:
        i = self._wi[warehouse]
        return self.backlog_units[i] / self._capacity[i]

    def is_open(self, warehouse: str) -> bool:
        return self._open[warehouse]

    def set_open(self, warehouse: str, is_open: bool) -> None:
        self._open[warehouse] = is_open
