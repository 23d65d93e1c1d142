"""What a seeded seller takes from its scenario: catalogue, initial stock, warning lines, routes.

Pure functions of the scenario (numpy arrays, no database). The catalogue is fixed by
``catalogue.seed`` exactly as the simulator draws it, so SKU ``i`` has the same group,
price and weight in a simulation and in the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from simulator.scenario import Scenario, StockRule


@dataclass(frozen=True)
class Catalogue:
    """SKU attributes indexed by scenario SKU number."""

    group: np.ndarray  # group index
    group_names: tuple[str, ...]
    price: np.ndarray  # RUB, 2 decimals
    unit_cost: np.ndarray
    weight_kg: np.ndarray
    daily_units: np.ndarray  # mean units/day at baseline demand

    @property
    def count(self) -> int:
        return len(self.group)


def build_catalogue(scenario: Scenario) -> Catalogue:
    """SKU attributes and baseline daily demand (same draws as ``simulator.demand``)."""
    cat = scenario.catalogue
    rng = np.random.default_rng(cat.seed)
    n = cat.sku_count
    shares = np.array([g.share for g in cat.groups])
    bounds = np.rint(np.cumsum(shares) * n).astype(int)
    group = np.minimum(np.searchsorted(bounds, np.arange(n), side="right"), len(shares) - 1)
    lo_p = np.array([g.price_rub[0] for g in cat.groups])[group]
    hi_p = np.array([g.price_rub[1] for g in cat.groups])[group]
    price = np.exp(rng.uniform(np.log(lo_p), np.log(hi_p)))
    ratio = np.array([g.unit_cost_ratio for g in cat.groups])[group]
    lo_w = np.array([g.weight_kg[0] for g in cat.groups])[group]
    hi_w = np.array([g.weight_kg[1] for g in cat.groups])[group]
    weight = rng.uniform(lo_w, hi_w)
    ranks = rng.permutation(n) + 1
    popularity = 1.0 / ranks.astype(float) ** cat.zipf_exponent
    popularity /= popularity.sum()
    units_per_order = cat.lines_per_order.mean * cat.units_per_line.mean
    daily = scenario.demand.baseline_orders_per_hour * 24 * units_per_order * popularity
    return Catalogue(
        group=group.astype(np.int16),
        group_names=tuple(g.name for g in cat.groups),
        price=np.round(price, 2),
        unit_cost=np.round(price * ratio, 2),
        weight_kg=np.round(weight, 3),
        daily_units=daily,
    )


def _matches(
    rule: StockRule, warehouses: list[str], catalogue: Catalogue
) -> tuple[list[int], np.ndarray]:
    wh = [i for i, w in enumerate(warehouses) if rule.warehouse in ("*", w)]
    skus = np.ones(catalogue.count, dtype=bool)
    if rule.sku_group != "*":
        skus &= catalogue.group == catalogue.group_names.index(rule.sku_group)
    if rule.sku is not None:
        only = np.zeros_like(skus)
        only[rule.sku] = True
        skus &= only
    return wh, skus


def initial_stock(scenario: Scenario, catalogue: Catalogue) -> np.ndarray:
    """Units per (warehouse, SKU) after applying ``stock.initial`` rules in order.

    ``units`` sets each matching pair; ``days_of_cover`` sets ceil(days x daily demand /
    number of warehouses the rule matches).
    """
    warehouses = [w.id for w in scenario.network.warehouses]
    units = np.zeros((len(warehouses), catalogue.count), dtype=np.int64)
    for rule in scenario.stock.initial:
        wh, skus = _matches(rule, warehouses, catalogue)
        if not wh:
            continue
        if rule.units is not None:
            value = np.full(catalogue.count, rule.units, dtype=np.int64)
        else:
            value = np.ceil(rule.days_of_cover * catalogue.daily_units / len(wh) - 1e-9)
            value = value.astype(np.int64)
        for w in wh:
            units[w, skus] = value[skus]
    return units


def warning_levels(scenario: Scenario, catalogue: Catalogue) -> np.ndarray:
    """Warning line per (warehouse, SKU): ``warning_days_of_cover`` of demand split evenly."""
    n_wh = len(scenario.network.warehouses)
    per_wh = np.ceil(scenario.stock.warning_days_of_cover * catalogue.daily_units / n_wh - 1e-9)
    return np.tile(per_wh.astype(np.int64), (n_wh, 1))


@dataclass(frozen=True)
class RouteRow:
    warehouse: str  # scenario warehouse id
    region: str
    transit_hours: float
    cost_per_parcel: float


def route_table(scenario: Scenario) -> list[RouteRow]:
    """Expected transit hours and cost from each warehouse to each region it can reach.

    Shortest paths over the lane graph by the scenario's ``routing`` (time or cost), with each
    lane's mean transit plus the mean wait for its next departure.
    """
    net = scenario.network
    graph = nx.DiGraph()
    regions = {r.id for r in net.regions}
    for lane in net.lanes:
        if lane.from_ in regions:
            continue
        hours = lane.transit_hours.mean + _mean_wait_hours(lane.departures)
        weight = hours if net.routing == "time" else lane.cost_per_parcel_rub + 1e-6 * hours
        old = graph.get_edge_data(lane.from_, lane.to)
        if old is None or weight < old["weight"]:
            graph.add_edge(lane.from_, lane.to, weight=weight, hours=hours,
                           cost=lane.cost_per_parcel_rub)
    rows: list[RouteRow] = []
    for wh in net.warehouses:
        if wh.id not in graph:
            continue
        paths = nx.single_source_dijkstra_path(graph, wh.id, weight="weight")
        for region in net.regions:
            path = paths.get(region.id)
            if path is None:
                continue
            hops = list(zip(path[:-1], path[1:], strict=True))
            rows.append(RouteRow(
                wh.id, region.id,
                round(sum(graph.edges[a, b]["hours"] for a, b in hops), 4),
                round(sum(graph.edges[a, b]["cost"] for a, b in hops), 4),
            ))
    return rows


def _mean_wait_hours(departures: list[str]) -> float:
    """Mean wait for the next of the daily departures (0 for a continuous lane)."""
    if not departures:
        return 0.0
    minutes = sorted(int(d[:2]) * 60 + int(d[3:]) for d in departures)
    gaps = [b - a for a, b in zip(minutes[:-1], minutes[1:], strict=True)]
    gaps.append(minutes[0] + 1440 - minutes[-1])
    return sum(g * g / 2 for g in gaps) / 1440 / 60


def capacity_per_hour(scenario: Scenario) -> dict[str, float]:
    """Largest shift pick capacity of each warehouse (units/hour)."""
    return {w.id: max((s.capacity_per_hour for s in w.shifts), default=0.0)
            for w in scenario.network.warehouses}


