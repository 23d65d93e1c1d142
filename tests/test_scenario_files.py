"""The bundled scenario files say what they claim: sizes, a connected network, volumes, capacity.

These are structure claims on the data in ``scenarios/``, checked with the file's own numbers
(nothing simulated): the network graph is built directly with networkx, the day's orders are
integrated from the demand section region by region on each region's own clock (zoneinfo), and
a fluid (hour-by-hour) model of picking, on each warehouse's clock, checks that the capacities
fit the demand the comments promise.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import networkx as nx
import pytest

from simulator.scenario import Scenario, hhmm_to_minutes, load_scenario

from .conftest import SCENARIOS

BUNDLED = sorted(SCENARIOS.glob("*.yaml"))
RUSSIA = {"lat": (41.0, 70.0), "lon": (19.0, 180.0)}  # Kaliningrad .. Chukotka, Dagestan .. Arctic


@cache
def scenario(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml")


# --------------------------------------------------------------------------- helpers


def graph(sc: Scenario) -> nx.DiGraph:
    """Nodes with their kind; lanes as edges weighted by mean transit hours."""
    g = nx.DiGraph()
    net = sc.network
    for kind, nodes in (
        ("region", net.regions),
        ("warehouse", net.warehouses),
        ("sorting_centre", net.sorting_centres),
        ("hub", net.hubs),
    ):
        g.add_nodes_from((n.id, {"kind": kind}) for n in nodes)
    for lane in net.lanes:  # parallel lanes (road and air): the fastest counts
        hours = lane.transit_hours.mean
        if g.has_edge(lane.from_, lane.to):
            hours = min(hours, g.edges[lane.from_, lane.to]["hours"])
        g.add_edge(lane.from_, lane.to, hours=hours)
    return g


@cache
def local_offset(name: str, node_id: str) -> timedelta:
    """How far the node's clock is ahead of the platform's at the start of scenario ``name``."""
    sc = scenario(name)
    net = sc.network
    node = next(n for n in (*net.regions, *net.warehouses, *net.sorting_centres, *net.hubs)
                if n.id == node_id)
    start = datetime.fromisoformat(sc.clock.start).replace(tzinfo=ZoneInfo(sc.clock.time_zone))
    zone = ZoneInfo(node.time_zone or sc.clock.time_zone)
    return start.astimezone(zone).utcoffset() - start.utcoffset()


def rate(sc: Scenario, minute: float, group: str | None = None,
         regions: set[str] | None = None) -> float:
    """Orders/hour at ``minute`` of ``regions`` (default all): per region, its weight share x
    baseline x hour_of_day x day_of_week x peaks, on the region's own clock.

    With ``group`` it is that group's rate per unit of its share (promotions apply in
    full); without, the rate of all groups, where a promotion lifts only its groups' share
    of demand (taken as their share of the catalogue).
    """
    d = sc.demand
    weights = {r.id: r.weight for r in sc.network.regions}
    total = sum(weights.values())
    shares = {g.name: g.share for g in sc.catalogue.groups}
    start = datetime.fromisoformat(sc.clock.start)
    out = 0.0
    for region in regions or weights:
        shift = local_offset(sc.name, region)
        when = start + timedelta(minutes=minute) + shift
        local_minute = minute + shift.total_seconds() / 60
        value = (d.baseline_orders_per_hour * d.hour_of_day[when.hour]
                 * d.day_of_week[when.weekday()] * weights[region] / total)
        for peak in d.peaks:
            at = local_minute if peak.local_time else minute
            if not peak.start_minute <= at < peak.end_minute:
                continue
            if peak.sku_groups is None:
                value *= peak.multiplier
            elif group is not None:
                value *= peak.multiplier if group in peak.sku_groups else 1.0
            else:
                value *= 1 + (peak.multiplier - 1) * sum(shares[g] for g in peak.sku_groups)
        out += value
    return out


def expected_orders(sc: Scenario, first_hour: float, hours: float) -> float:
    """The rate integrated minute by minute (exact: every breakpoint is on a whole minute)."""
    start = int(first_hour * 60)
    return sum(rate(sc, m) for m in range(start, start + int(hours * 60))) / 60


def ordinary_day_orders(sc: Scenario) -> float:
    return sc.demand.baseline_orders_per_hour * 24


def units_per_order(sc: Scenario) -> float:
    return sc.catalogue.lines_per_order.mean * sc.catalogue.units_per_line.mean


def holds(sc: Scenario, warehouse: str, group: str) -> bool:
    """Whether the last stock rule matching (warehouse, group) gives it any stock."""
    amount: float = 0
    for rule in sc.stock.initial:
        matches = rule.warehouse in ("*", warehouse) and rule.sku_group in ("*", group)
        if rule.sku is None and matches:
            amount = rule.units if rule.units is not None else rule.days_of_cover or 0
    return amount > 0


def allocation(sc: Scenario) -> dict[tuple[str, str], str]:
    """(region, group) -> the warehouse nearest-with-stock sends those lines to.

    The warehouse with the shortest mean route time among those holding the group: what
    ``nearest_with_stock`` does while stock lasts.
    """
    g = graph(sc)
    dist = {
        w.id: nx.single_source_dijkstra_path_length(g, w.id, weight="hours")
        for w in sc.network.warehouses
    }
    chosen = {}
    for region in sc.network.regions:
        for grp in sc.catalogue.groups:
            holders = [w for w in dist if holds(sc, w, grp.name)]
            chosen[region.id, grp.name] = min(holders, key=lambda w: dist[w][region.id])
    return chosen


def demand_share(sc: Scenario, region: str, group: str) -> float:
    """Share of all demand in one region and group (region weight x group share)."""
    weights = {r.id: r.weight for r in sc.network.regions}
    shares = {g.name: g.share for g in sc.catalogue.groups}
    return weights[region] / sum(weights.values()) * shares[group]


def home_shares(sc: Scenario) -> dict[str, dict[str, float]]:
    """warehouse -> group -> share of all demand allocated there (see :func:`allocation`)."""
    out = {w.id: {g.name: 0.0 for g in sc.catalogue.groups} for w in sc.network.warehouses}
    for (region, group), warehouse in allocation(sc).items():
        out[warehouse][group] += demand_share(sc, region, group)
    return out


def pick_capacity(warehouse, minute: int) -> float:
    """Units/hour the warehouse picks at ``minute`` past its local midnight (the weekly shift
    windows, any weekday; shifts given by date are extra and left out)."""
    for shift in warehouse.shifts:
        if shift.dates:
            continue
        a, b = hhmm_to_minutes(shift.start), hhmm_to_minutes(shift.end)
        inside = a <= minute < b if a < b else (minute >= a or minute < b)
        if inside:
            return shift.capacity_per_hour
    return 0.0


def fluid_backlog(sc: Scenario, warehouse_id: str, hours: int) -> list[float]:
    """Hourly pick backlog (units) of one warehouse: its nearest-allocated demand vs shifts."""
    warehouse = next(w for w in sc.network.warehouses if w.id == warehouse_id)
    served = [(region, group) for (region, group), w in allocation(sc).items()
              if w == warehouse_id]
    shares = {g.name: g.share for g in sc.catalogue.groups}
    per_order = units_per_order(sc)
    start = datetime.fromisoformat(sc.clock.start) + local_offset(sc.name, warehouse_id)
    backlog, out = 0.0, []
    for h in range(hours):
        demand = 0.0
        if h < sc.clock.horizon_hours:
            demand = sum(rate(sc, h * 60, group, {region}) * shares[group]
                         for region, group in served) * per_order
        minute = (start + timedelta(hours=h)).hour * 60
        backlog = max(0.0, backlog + demand - pick_capacity(warehouse, minute))
        out.append(backlog)
    return out


# --------------------------------------------------------------------------- every bundled file


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_warehouse_reaches_every_region_via_sorting_or_hubs(path: Path) -> None:
    sc = load_scenario(path)
    g = graph(sc)
    kinds = nx.get_node_attributes(g, "kind")
    for lane in sc.network.lanes:
        assert kinds[lane.to] != "warehouse", f"a lane into warehouse {lane.to}"
        assert kinds[lane.from_] != "region", f"a lane out of region {lane.from_}"
        if kinds[lane.to] == "region":
            assert kinds[lane.from_] == "hub", f"region {lane.to} fed from {lane.from_}, not a hub"
    for w in sc.network.warehouses:
        paths = nx.single_source_dijkstra_path(g, w.id, weight="hours")
        for r in sc.network.regions:
            assert r.id in paths, f"{path.name}: {w.id} cannot reach {r.id}"
            middle = {kinds[n] for n in paths[r.id][1:-1]}
            assert middle and middle <= {"sorting_centre", "hub"}, (w.id, r.id, paths[r.id])


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_nodes_are_in_russia_and_lanes_are_unique(path: Path) -> None:
    sc = load_scenario(path)
    net = sc.network
    for node in (*net.regions, *net.warehouses, *net.sorting_centres, *net.hubs):
        assert RUSSIA["lat"][0] <= node.lat <= RUSSIA["lat"][1], node.id
        assert RUSSIA["lon"][0] <= node.lon <= RUSSIA["lon"][1], node.id
    pairs = [(lane.from_, lane.to, lane.mode) for lane in net.lanes]
    assert len(pairs) == len(set(pairs)), "two lanes of one mode between the same nodes"
    for lane in net.lanes:
        # line-haul keeps a timetable; only the last mile runs continuously
        assert bool(lane.departures) == (lane.mode != "courier"), (lane.from_, lane.to)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_group_is_stocked_and_every_warehouse_holds_something(path: Path) -> None:
    sc = load_scenario(path)
    groups = [g.name for g in sc.catalogue.groups]
    for w in sc.network.warehouses:
        assert any(holds(sc, w.id, g) for g in groups), f"{w.id} holds nothing"
    for g in groups:
        assert any(holds(sc, w.id, g) for w in sc.network.warehouses), f"nobody stocks {g}"


def test_readme_describes_every_bundled_file() -> None:
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    for path in BUNDLED:
        assert f"`{path.name}`" in readme, f"scenarios/README.md does not describe {path.name}"


# --------------------------------------------------------------------------- peak_day


def test_peak_day_size() -> None:
    sc = scenario("peak_day")
    net = sc.network
    assert len(net.warehouses) >= 8
    assert len(net.sorting_centres) >= 4
    assert len(net.regions) == 20
    assert len({r.city for r in net.regions}) == 20
    assert len(net.hubs) >= 1
    assert 1800 <= sc.catalogue.sku_count <= 2200
    assert len(sc.catalogue.groups) >= 6
    assert sc.clock.horizon_hours == 24
    assert datetime.fromisoformat(sc.clock.start).weekday() == 4  # Black Friday is a Friday


def test_peak_day_volume_is_about_300k_orders() -> None:
    sc = scenario("peak_day")
    orders = expected_orders(sc, 0, 24)
    assert 250_000 <= orders <= 350_000, orders
    assert orders == pytest.approx(292_473, rel=0.001)  # the figure the file's header quotes
    # the midnight flash: x8 on top of x3 for the first two hours (00:00 Moscow in Moscow)
    moscow = next(r.weight for r in sc.network.regions if r.id == "MSK") / sum(
        r.weight for r in sc.network.regions)
    flash = rate(sc, 0, regions={"MSK"}) / (
        sc.demand.baseline_orders_per_hour * sc.demand.hour_of_day[0] * moscow)
    assert flash == pytest.approx(24)
    assert max(rate(sc, m) for m in range(0, 120)) > 2 * max(rate(sc, m) for m in range(120, 1440))


def test_peak_day_capacity_copes_ordinarily_and_clears_the_peak() -> None:
    sc = scenario("peak_day")
    per_order = units_per_order(sc)
    assert per_order == pytest.approx(1.84)
    shares = home_shares(sc)
    hod_max = max(sc.demand.hour_of_day)
    for w in sc.network.warehouses:
        share = sum(shares[w.id].values())
        assert share > 0, f"{w.id} is nobody's nearest warehouse"
        ordinary_units = ordinary_day_orders(sc) * per_order * share
        lowest = min(s.capacity_per_hour for s in w.shifts if not s.dates)  # weekly ones
        # an ordinary day's busiest hour fits into the weaker shift
        assert ordinary_units / 24 * hod_max < lowest, w.id
        backlog = fluid_backlog(sc, w.id, 24 + 48)
        # Black Friday queues hours of picking everywhere; the day's backlog clears
        assert max(backlog[:24]) > 3 * lowest, f"{w.id}: the day builds no real backlog"
        assert min(backlog[24:48]) == 0, f"{w.id}: the backlog does not clear within a day"
        clocks = {local_offset(sc.name, r) for (r, _), x in allocation(sc).items() if x == w.id}
        if clocks == {timedelta(0)}:  # the midnight flash queues ~5 h where it is midnight
            assert max(backlog[:3]) > 3 * lowest, f"{w.id}: the flash builds no real backlog"
        if min(clocks) >= timedelta(hours=4):  # ...and little where it is 04:00 (Siberia)
            assert max(backlog[:3]) < lowest, f"{w.id}: the flash should land in the night"


def test_peak_day_sorting_centres_outrun_their_warehouses() -> None:
    """Each sorting centre sorts faster than its warehouses can pick for it (a parcel an order)."""
    sc = scenario("peak_day")
    g = graph(sc)
    shares = home_shares(sc)
    paths = {
        w.id: nx.single_source_dijkstra_path(g, w.id, weight="hours") for w in sc.network.warehouses
    }
    load = {c.id: 0.0 for c in sc.network.sorting_centres}  # parcels/h at full day-shift pick
    for (region, group), w in allocation(sc).items():
        warehouse = next(x for x in sc.network.warehouses if x.id == w)
        weekly = [s.capacity_per_hour for s in warehouse.shifts if not s.dates]
        fastest = max(weekly) / units_per_order(sc)
        fraction = demand_share(sc, region, group) / sum(shares[w].values())
        for node in paths[w][region]:
            if node in load:
                load[node] += fastest * fraction
    for centre in sc.network.sorting_centres:
        assert centre.capacity_per_hour >= 1.2 * load[centre.id], (centre.id, load[centre.id])
    faulted = {f.node for f in sc.faults if f.node}
    assert faulted & set(load), "the fault should hit a sorting centre"


def test_peak_day_policies_and_slo() -> None:
    sc = scenario("peak_day")
    assert sc.policies.allocation.name == "nearest_with_stock"
    assert sc.policies.replenishment.name == "s_S"
    params = sc.policies.replenishment.params
    assert 0 < params["s_days"] < params["S_days"]
    # the reorder point covers the supplier lead time
    assert params["s_days"] >= sc.stock.supplier_lead_time_days.mean
    assert sc.slo.endpoints and sc.slo.max_error_rate <= 0.01


# --------------------------------------------------------------------------- peak_season


def test_peak_season_spans_21_days_around_black_friday() -> None:
    sc = scenario("peak_season")
    start = datetime.fromisoformat(sc.clock.start)
    end = start + timedelta(hours=sc.clock.horizon_hours)
    assert sc.clock.horizon_hours == 21 * 24
    assert (start.date().isoformat(), (end - timedelta(minutes=1)).date().isoformat()) == (
        "2026-11-16",
        "2026-12-06",
    )
    black_friday = (datetime(2026, 11, 27) - start).total_seconds() / 3600
    days = [expected_orders(sc, day * 24, 24) for day in range(21)]
    busiest = max(range(21), key=days.__getitem__)
    assert busiest * 24 == black_friday
    ordinary = ordinary_day_orders(sc)
    assert 3 <= days[busiest] / ordinary <= 5  # Black Friday vs an ordinary day
    assert days[0] < 1.2 * ordinary and days[-1] < 1.5 * ordinary  # normal weeks either side
    assert 150_000 <= sum(days) <= 400_000  # small enough to simulate in well under a minute


def test_peak_season_size() -> None:
    net = scenario("peak_season").network
    assert 4 <= len(net.warehouses) <= 6
    assert len(net.sorting_centres) >= 2
    assert len(net.regions) == 10
    assert 400 <= scenario("peak_season").catalogue.sku_count <= 600


def test_peak_season_replenishment_cycles_matter() -> None:
    sc = scenario("peak_season")
    # opening stock: 10-14 days of ordinary demand over the network (full assortment each)
    cover = {
        w.id: next(
            r.days_of_cover
            for r in reversed(sc.stock.initial)
            if r.warehouse == w.id and r.days_of_cover is not None
        )
        for w in sc.network.warehouses
    }
    assert 10 <= sum(cover.values()) <= 14
    demand_days = sum(expected_orders(sc, d * 24, 24) for d in range(21)) / ordinary_day_orders(sc)
    assert demand_days > 1.5 * sum(cover.values())  # the opening stock cannot last
    lead = sc.stock.supplier_lead_time_days.mean
    assert 2 <= lead <= 10
    policy = sc.policies.replenishment
    assert policy.name in {"periodic_review", "s_S", "r_Q", "base_stock", "forecast"}
    if "review_hours" in policy.params:
        assert sc.clock.horizon_hours / policy.params["review_hours"] >= 4  # several cycles


def test_peak_season_backlog_clears_after_black_friday() -> None:
    sc = scenario("peak_season")
    black_friday_end = 12 * 24  # hour at which Saturday 28 Nov begins
    for w in sc.network.warehouses:
        backlog = fluid_backlog(sc, w.id, int(sc.clock.horizon_hours))
        assert max(backlog[: 11 * 24]) == 0, f"{w.id} queues before the peak"
        assert backlog[black_friday_end - 1] > 0, f"{w.id}: Black Friday builds no backlog"
        assert min(backlog[black_friday_end : black_friday_end + 48]) == 0, w.id
        assert math.isclose(backlog[-1], 0)
