"""What a planner writes beyond the basics, each checked through its effect on a run: shifts by
date, trucks per departure and cost per truck, suppliers per SKU group, parallel lanes, and
the cost of return trips."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulator.actors.suppliers import choose_suppliers
from simulator.model import Simulation
from simulator.network import Network
from simulator.scenario import ScenarioError, parse_scenario

from .model_worlds import smoke_dict
from .test_model_invariants import check_invariants

DAY = 1440


def _run(d: dict[str, Any], seed: int = 1) -> Simulation:
    sim = Simulation(parse_scenario(d), seed)
    sim.result = sim.run()  # type: ignore[attr-defined]
    return sim


def _busy_smoke() -> dict[str, Any]:
    """Smoke with twice the orders: WH-MSK's evening queue lasts into the night."""
    d = smoke_dict()
    d["demand"]["baseline_orders_per_hour"] = 120
    d["faults"] = []
    return d


# --------------------------------------------------------------------------- shift calendars


def test_an_extra_shift_on_a_date_cuts_that_days_backlog_only() -> None:
    def day_one_backlog(d: dict[str, Any]) -> float:
        sim = _run(d)
        backlog = sim.backlog("warehouse").bin_means(np.array([0.0, DAY]))
        return float(backlog[0, 0])  # WH-MSK, mean over Friday

    extra = {"start": "14:00", "end": "23:00", "capacity_per_hour": 150}
    base = day_one_backlog(_busy_smoke())
    on_friday, on_sunday = _busy_smoke(), _busy_smoke()
    on_friday["network"]["warehouses"][0]["shifts"].append({**extra, "dates": ["2026-11-27"]})
    on_sunday["network"]["warehouses"][0]["shifts"].append({**extra, "dates": ["2026-11-29"]})
    assert day_one_backlog(on_friday) < 0.7 * base
    assert day_one_backlog(on_sunday) == base


def test_a_holiday_closure_stops_picking_that_local_day() -> None:
    d = smoke_dict()
    d["network"]["warehouses"][1]["closed_dates"] = ["2026-11-28"]  # WH-SPB, Saturday
    d["network"]["warehouses"][1]["time_zone"] = "Europe/Kaliningrad"  # an hour behind
    sim = _run(d)
    picked = sim.warehouses[1].picked_units
    saturday = (DAY + 60, 2 * DAY + 60)  # local midnight to midnight on the platform clock
    assert picked.within(*saturday) == 0
    assert picked.within(0, DAY) > 0 and picked.within(2 * DAY + 60, 3 * DAY) > 0


def test_days_and_dates_together_are_refused() -> None:
    d = smoke_dict()
    d["network"]["warehouses"][0]["shifts"][0].update(days=[0], dates=["2026-11-27"])
    with pytest.raises(ScenarioError, match=r"shifts\[0\]\.dates"):
        parse_scenario(d)


# --------------------------------------------------------------------------- trucks


def _trucked(trucks: int, cost_per_truck: float = 0.0) -> Simulation:
    d = _busy_smoke()
    lane = d["network"]["lanes"][0]  # WH-MSK -> SC-MSK, four departures a day
    lane.update(truck_capacity=25, trucks=trucks, cost_per_truck_rub=cost_per_truck)
    return _run(d)


def test_a_second_truck_doubles_what_leaves_and_each_truck_costs_whole() -> None:
    one, two = _trucked(1), _trucked(2)

    def most_per_departure(sim: Simulation) -> float:
        tally = sim.carriers[0].trucks  # one entry per truck that left
        return float(np.bincount(np.unique(tally.times, return_inverse=True)[1],
                                 weights=tally.values).max())

    assert most_per_departure(one) == 25 and most_per_departure(two) == 50
    priced = _trucked(2, cost_per_truck=1000)
    trucks = priced.carriers[0].trucks
    n = priced.postings.n
    extra = priced.postings.cost[:n].sum() - two.postings.cost[:n].sum()
    assert extra == pytest.approx(1000 * trucks.values.size)  # half-empty trucks cost whole
    assert trucks.values.min() < 25  # ... and some did leave part-empty
    assert priced.result.kpis["transport_cost_rub"] > two.result.kpis["transport_cost_rub"]


def test_trucks_on_a_continuous_lane_are_refused() -> None:
    d = smoke_dict()
    d["network"]["lanes"][-1]["trucks"] = 2  # a courier lane
    with pytest.raises(ScenarioError, match=r"lanes\[6\]\.trucks"):
        parse_scenario(d)


# --------------------------------------------------------------------------- suppliers


def _short_stock(suppliers: list[dict[str, Any]], rule: str = "fastest") -> dict[str, Any]:
    d = smoke_dict()
    d["clock"].update(horizon_hours=96, drain_hours=0)
    # one-line orders from one warehouse: whether a line is filled depends on its SKU only
    # (an order with a line out of stock is refused whole)
    d["catalogue"]["lines_per_order"] = {"dist": "constant", "value": 1}
    d["stock"]["initial"] = [{"warehouse": "WH-MSK", "sku_group": "*", "days_of_cover": 0.5}]
    d["stock"]["supplier_lead_time_days"] = {"dist": "constant", "value": 2}
    d["stock"]["suppliers"] = suppliers
    d["policies"]["replenishment"] = {"name": "s_S", "params": {"s_days": 1, "S_days": 3},
                                      "supplier": rule}
    return d


def _stockout_hours_by_group(sim: Simulation) -> np.ndarray:
    per_sku = sim.stock.stockout_minutes.sum(axis=1) / 60
    return np.bincount(sim.skus.group, weights=per_sku)


def test_a_faster_supplier_for_one_group_cuts_that_groups_stockouts_only() -> None:
    express = {"name": "express", "sku_groups": ["electronics"],
               "lead_time_days": {"dist": "constant", "value": 0.25}, "cost_per_unit_rub": 40}
    slow = _run(_short_stock([]))
    fast = _run(_short_stock([express]))
    before, after = _stockout_hours_by_group(slow), _stockout_hours_by_group(fast)
    assert after[0] < 0.5 * before[0]  # electronics
    assert after[1] == before[1] > 0  # home: same supplier, same stock-outs
    lead = fast.replenisher.lead_mean  # per SKU, what the policy is told
    assert set(lead[fast.skus.group == 0].tolist()) == {0.25}
    assert set(lead[fast.skus.group == 1].tolist()) == {2.0}
    kpis = fast.result.kpis
    assert kpis["supply_cost_rub"] > 0 and kpis["supply_cost_rub"] % 40 == 0
    parts = ("holding", "transport", "return_transport", "supply", "stockout")
    assert kpis["total_cost_rub"] == pytest.approx(sum(kpis[f"{p}_cost_rub"] for p in parts))


def test_the_replenishment_rule_picks_a_groups_supplier() -> None:
    offers = [
        {"name": "near", "lead_time_days": {"dist": "constant", "value": 1},
         "cost_per_unit_rub": 30},
        {"name": "far", "lead_time_days": {"dist": "constant", "value": 6}},
    ]
    fastest = parse_scenario(_short_stock(offers, "fastest"))
    cheapest = parse_scenario(_short_stock(offers, "cheapest"))
    (lead_f, cost_f), = choose_suppliers(fastest)[0]
    (lead_c, cost_c), = choose_suppliers(cheapest)[0]
    assert (lead_f.mean, cost_f) == (1, 30) and (lead_c.mean, cost_c) == (6, 0)


# --------------------------------------------------------------------------- parallel lanes


def _air_and_road(routing: str, fault_mode: str | None = None) -> dict[str, Any]:
    d = smoke_dict()
    # Moscow's stock serves St Petersburg too: over SC-MSK -> H-SPB
    d["stock"]["initial"] = [{"warehouse": "WH-MSK", "sku_group": "*", "days_of_cover": 4}]
    d["network"]["routing"] = routing
    d["network"]["lanes"].append(  # beside the 10-hour road lane SC-MSK -> H-SPB
        {"from": "SC-MSK", "to": "H-SPB", "mode": "air", "cost_per_parcel_rub": 250,
         "transit_hours": {"dist": "lognormal", "mean": 2, "sd": 0.3},
         "departures": ["20:00"]})
    if fault_mode:
        d["faults"] = [{"name": "fog", "lane": ["SC-MSK", "H-SPB"], "mode": fault_mode,
                        "start_hour": 0, "duration_hours": 24, "extra_delay_hours": 6}]
    return d


def test_time_routing_flies_and_cost_routing_drives() -> None:
    def modes(routing: str) -> set[str]:
        net = Network(parse_scenario(_air_and_road(routing)))
        used = {net.lanes[lane].spec.mode for lanes in net.route_lanes for lane in lanes
                if net.ids[net.lanes[lane].dst] == "H-SPB"
                and net.ids[net.lanes[lane].src] == "SC-MSK"}
        return used

    assert modes("time") == {"air"} and modes("cost") == {"truck"}
    sim = _run(_air_and_road("time"))
    ids = sim.network.ids
    carried = {c.lane.spec.mode: c.parcels for c in sim.carriers
               if (ids[c.lane.src], ids[c.lane.dst]) == ("SC-MSK", "H-SPB")}
    assert carried["air"] > 0 and carried["truck"] == 0


def test_a_lane_fault_with_a_mode_hits_that_lane_only() -> None:
    net = Network(parse_scenario(_air_and_road("time", fault_mode="air")))
    hit = {net.lanes[i].spec.mode for i in net.faults.lane}
    assert hit == {"air"}
    both = Network(parse_scenario(_air_and_road("time", fault_mode=None) | {"faults": [
        {"name": "storm", "lane": ["SC-MSK", "H-SPB"], "start_hour": 0, "duration_hours": 2,
         "extra_delay_hours": 1}]}))
    assert {both.lanes[i].spec.mode for i in both.faults.lane} == {"air", "truck"}
    d = _air_and_road("time")
    d["network"]["lanes"].append(dict(d["network"]["lanes"][-1]))
    with pytest.raises(ScenarioError, match="a second air lane"):
        parse_scenario(d)


# --------------------------------------------------------------------------- returns


def test_return_trips_cost_their_route_and_count_in_total_cost() -> None:
    d = smoke_dict()
    d["demand"].update(return_probability=0.0,
                       return_delay_hours={"dist": "exponential", "mean": 4})
    d["catalogue"]["groups"][0]["return_probability"] = 0.6  # electronics come back, home not
    sim = _run(d)
    kpis = sim.result.kpis
    posting, _, _ = sim.returns.columns()
    assert posting.size > 0 and kpis["return_transport_cost_rub"] > 0
    # every returned posting holds an electronics unit
    p = sim.postings
    for ids in np.array_split(posting, 4):
        groups = sim.skus.group[p.line_sku[p.lines_of(ids)]]
        owners = np.repeat(np.arange(ids.size), p.line_count[ids])
        assert np.all(np.bincount(owners, weights=groups == 0, minlength=ids.size) > 0)
    # each return costs its forward route's per-parcel cost: between the cheapest and dearest
    routes = sim.network.cost_per_parcel[np.isfinite(sim.network.cost_per_parcel)]
    per_return = kpis["return_transport_cost_rub"] / posting.size
    assert routes.min() <= per_return <= routes.max()
    parts = ("holding", "transport", "return_transport", "supply", "stockout")
    assert kpis["total_cost_rub"] == pytest.approx(sum(kpis[f"{p}_cost_rub"] for p in parts))


# --------------------------------------------------------------------------- all at once


def test_every_feature_at_once_keeps_the_invariants_and_the_seed() -> None:
    """Local clocks, a local peak, a dated shift, a holiday, trucks, suppliers, a parallel
    air lane with its own fault, per-group returns: every order ends in one state, stock adds
    up, and the same seed gives the same result byte for byte."""
    d = _air_and_road("time", fault_mode="air")
    d["stock"]["initial"] = [{"warehouse": "*", "sku_group": "*", "days_of_cover": 0.7}]
    net = d["network"]
    net["regions"][1]["time_zone"] = "Europe/Kaliningrad"
    net["warehouses"][0]["time_zone"] = "Europe/Samara"
    net["warehouses"][0]["shifts"].append(
        {"start": "10:00", "end": "18:00", "capacity_per_hour": 80, "dates": ["2026-11-27"]})
    net["warehouses"][1]["closed_dates"] = ["2026-11-28"]
    net["sorting_centres"][0]["time_zone"] = "Asia/Yekaterinburg"
    net["lanes"][0].update(truck_capacity=30, trucks=3, cost_per_truck_rub=900)
    d["demand"].update(return_probability=0.2,
                       return_delay_hours={"dist": "exponential", "mean": 6})
    d["demand"]["peaks"].append({"name": "local deal", "start_hour": 12, "duration_hours": 3,
                                 "multiplier": 2, "local_time": True, "sku_groups": ["home"]})
    d["catalogue"]["groups"][0]["return_probability"] = 0.5
    d["stock"]["suppliers"] = [{"name": "express", "sku_groups": ["home"], "cost_per_unit_rub": 9,
                                "lead_time_days": {"dist": "gamma", "mean": 0.5, "sd": 0.2}}]
    first, second = _run(d, seed=4), _run(d, seed=4)
    check_invariants(first, first.result)
    assert first.result.to_dict() == second.result.to_dict()
    kpis = first.result.kpis
    assert kpis["returns_requested"] > 0 and kpis["supply_cost_rub"] > 0
