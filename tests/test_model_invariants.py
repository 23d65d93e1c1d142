"""Model invariants: order states partition, stock is conserved, runs are reproducible."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.actors.postings import (
    AWAITING_PACKAGING,
    CANCELLED,
    DELIVERED,
    Postings,
)
from simulator.lifecycle import STATUS_CODES, IllegalTransition, PostingStatus
from simulator.metrics import KPI_DOC, RunResult
from simulator.model import Simulation, run
from simulator.scenario import load_scenario, parse_scenario

from .model_worlds import smoke_dict, stressed

CONTRACT_KPIS = {
    "orders_placed", "orders_delivered", "orders_cancelled", "orders_not_accepted",
    "orders_in_flight", "line_fill_rate", "order_fill_rate", "lost_sales_units",
    "lost_sales_rub", "cycle_time_p50_hours", "cycle_time_p95_hours", "cycle_time_p99_hours",
    "lead_time_p50_hours", "lead_time_p95_hours", "lead_time_p99_hours", "on_time_rate",
    "avg_on_hand_units", "holding_cost_rub", "transport_cost_rub", "stockout_cost_rub",
    "total_cost_rub", "picker_utilisation", "sorting_utilisation", "truck_utilisation",
    "stockout_sku_hours",
}


def check_invariants(sim: Simulation, result: RunResult) -> None:
    """Every placed order is in exactly one state; stock adds up pair by pair."""
    k = result.kpis
    assert k["orders_placed"] == (k["orders_delivered"] + k["orders_cancelled"]
                                  + k["orders_not_accepted"] + k["orders_in_flight"])
    assert k["orders_demanded"] == k["orders_placed"] + k["orders_refused"]
    # every placed order has exactly one outcome; in flight = overdue + not yet due
    assert k["orders_placed"] == (k["orders_delivered_on_time"] + k["orders_delivered_late"]
                                  + k["orders_in_flight_late"] + k["orders_not_yet_due"]
                                  + k["orders_cancelled"] + k["orders_not_accepted"])
    assert k["orders_delivered"] == k["orders_delivered_on_time"] + k["orders_delivered_late"]
    assert k["orders_in_flight"] == k["orders_in_flight_late"] + k["orders_not_yet_due"]
    regions = result.tables["regions"]
    for name in ("orders_delivered_on_time", "orders_in_flight_late", "orders_not_yet_due",
                 "orders_cancelled", "orders_not_accepted"):
        assert sum(r[name] for r in regions) == k[name], name
    p, stock = sim.postings, sim.stock
    n = p.n
    assert set(np.unique(p.status[:n]).tolist()) <= set(STATUS_CODES.values())
    # every order's postings are contiguous and belong to it
    buyers = sim.buyers
    placed = np.flatnonzero(buyers.n_postings > 0)
    assert buyers.n_postings.sum() == n
    assert np.all(p.order[buyers.first_posting[placed]] == placed)
    # a posting's status agrees with its timestamps
    status = p.status[:n]
    assert np.all(~np.isnan(p.delivered[:n][status == DELIVERED]))
    assert np.all(np.isnan(p.delivered[:n][status != DELIVERED]))
    assert np.all(~np.isnan(p.handover[:n][status == DELIVERED]))
    # reserved == unpicked open postings
    line_post = np.repeat(np.arange(n), p.line_count[:n])
    sku, qty = p.line_sku[: p.n_lines], p.line_qty[: p.n_lines]
    wh = p.warehouse[line_post]
    picked = ~np.isnan(p.picked[line_post])
    shipped_mask = picked & (p.status[line_post] != CANCELLED)
    shipped = np.zeros_like(stock.on_hand)
    np.add.at(shipped, (sku[shipped_mask], wh[shipped_mask]), qty[shipped_mask])
    reserved = np.zeros_like(stock.on_hand)
    open_mask = ~picked & (p.status[line_post] == AWAITING_PACKAGING)
    np.add.at(reserved, (sku[open_mask], wh[open_mask]), qty[open_mask])
    # buyer returns: rows of delivered postings; what came back is on the shelf again, the rest
    # is in the reverse flow
    ret, requested, putaway = sim.returns.columns()
    back, back_at = sim.returns.received()
    assert np.unique(ret).size == ret.size and np.isin(back, ret).all()
    assert np.all(p.status[ret] == DELIVERED)
    assert np.all(requested >= p.delivered[ret]) and np.all(requested <= sim.end)
    assert np.all(putaway >= requested) and np.all(back_at <= sim.end)
    assert k["returns_requested"] == ret.size
    assert k["returns_in_transit_at_end"] == ret.size - back.size
    assert result.series["returns_received"].sum() == back.size
    back_lines = p.lines_of(back)
    returned = np.zeros_like(stock.on_hand)
    np.add.at(returned, (p.line_sku[back_lines],
                         np.repeat(p.warehouse[back], p.line_count[back])), p.line_qty[back_lines])
    assert np.array_equal(stock.returned, returned)
    assert k["units_returned_to_stock"] == returned.sum()
    # stock: initial + received from suppliers + returned == on hand + shipped
    assert np.array_equal(stock.initial + stock.received + stock.returned,
                          stock.on_hand + shipped)
    assert np.array_equal(stock.reserved, reserved)
    assert np.array_equal(stock.available, stock.on_hand - stock.reserved)
    assert stock.available.min() >= 0
    # units allocated never exceed what the lines asked
    assert np.all(buyers.filled <= sim.arrivals.qty)
    assert k["lost_sales_units"] == float((sim.arrivals.qty - buyers.filled).sum())


@pytest.fixture(scope="module")
def smoke_run(smoke_path_module):
    sim = Simulation(load_scenario(smoke_path_module), seed=7)
    return sim, sim.run()


@pytest.fixture(scope="module")
def smoke_path_module():
    from .conftest import SCENARIOS

    return SCENARIOS / "smoke.yaml"


def test_smoke_invariants_and_result_contract(smoke_run) -> None:
    sim, result = smoke_run
    check_invariants(sim, result)
    assert CONTRACT_KPIS <= set(result.kpis) == set(KPI_DOC)
    assert result.kpis["orders_placed"] > 1000
    assert result.kpis["orders_in_flight"] == 0  # 48 h drain empties the tiny network
    t = result.series_time.size
    assert t == 72 and result.series["orders_placed"].shape == (t,)
    for name, cols in result.series_columns.items():
        assert result.series[name].shape == (t, len(cols)), name
    assert result.series_columns["backlog_warehouse"] == ["WH-MSK", "WH-SPB"]
    assert result.series["orders_placed"].sum() == result.kpis["orders_placed"]
    assert result.series["orders_delivered"].sum() == result.kpis["orders_delivered"]
    expected = result.series["demand_expected"]
    assert expected.sum() == pytest.approx(sim.curve.rate.sum())
    assert expected[20] == pytest.approx(3 * expected[17] * 1.7 / 1.5)  # flash sale x3 at 19-21
    assert result.samples["lead_time_hours"].size == result.kpis["orders_delivered"]
    assert np.all(result.samples["lead_time_hours"] >= result.samples["cycle_time_hours"])
    assert {"id", "kind", "name", "city", "lat", "lon"} <= set(result.tables["nodes"][0])
    flows = {(f["from"], f["to"]): f["parcels"] for f in result.tables["flows"]}
    delivered = int((sim.postings.status[: sim.postings.n] == DELIVERED).sum())
    assert flows[("H-MSK", "R-MSK")] + flows[("H-SPB", "R-SPB")] == delivered
    row = result.tables["sku_warehouse"][0]
    assert set(row) == {"sku", "offer_id", "warehouse", "demand_units", "filled_units",
                        "lost_units", "avg_on_hand", "stockout_hours"}
    for name in ("picker_utilisation", "sorting_utilisation", "truck_utilisation", "on_time_rate",
                 "line_fill_rate", "order_fill_rate"):
        assert 0 <= result.kpis[name] <= 1, name


def test_result_round_trips_through_json(smoke_run, tmp_path) -> None:
    _, result = smoke_run
    back = RunResult.read_json(result.write_json(tmp_path / "r.json"))
    assert back.kpis == pytest.approx(result.kpis, nan_ok=True)
    assert np.array_equal(back.series["backlog_warehouse"], result.series["backlog_warehouse"])
    assert back.tables == json.loads(json.dumps(result.tables))


def _fingerprint(result: RunResult) -> str:
    return json.dumps(result.to_dict(), sort_keys=True)


def test_same_seed_identical_other_seed_different(smoke_run, smoke_path_module) -> None:
    _, first = smoke_run
    scenario = load_scenario(smoke_path_module)
    assert _fingerprint(run(scenario, 7)) == _fingerprint(first)
    other = run(scenario, 8)
    assert _fingerprint(other) != _fingerprint(first)
    assert other.kpis["orders_demanded"] != first.kpis["orders_demanded"]


@pytest.mark.parametrize("mode", ["wait", "reroute"])
def test_stressed_world_invariants(mode: str) -> None:
    sim = Simulation(stressed(mode), seed=3)
    result = sim.run()
    check_invariants(sim, result)
    k = result.kpis
    assert k["orders_refused"] > 0 and k["orders_cancelled"] > 0 and k["stockout_sku_hours"] > 0
    assert k["replenishment_orders"] > 0 and k["units_received"] > 0
    flows = {(f["from"], f["to"]): f["parcels"] for f in result.tables["flows"]}
    if mode == "reroute":  # parcels for Moscow go round the closed sorting centre
        assert flows[("WH-MSK", "H-MSK")] > 0
    else:  # they wait; those already on the way are refused at the closed centre
        assert flows[("WH-MSK", "H-MSK")] == 0
        assert k["orders_not_accepted"] > 0


def test_closed_warehouse_gets_no_orders_while_closed() -> None:
    sim = Simulation(stressed(), seed=5)
    sim.run()
    p = sim.postings
    spb = sim.network.warehouse_ids.index("WH-SPB")
    created = p.created[: p.n][p.warehouse[: p.n] == spb]
    assert created.size > 0
    assert not np.any((created > 5 * 60 + 1) & (created < 15 * 60))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    cover_days=st.floats(0.05, 3),
    cancel=st.floats(0, 0.5),
    returns=st.floats(0, 0.5),
    allocation=st.sampled_from(["nearest_with_stock", "least_cost", "balanced",
                                "single_warehouse"]),
    replenishment=st.sampled_from([
        {"name": "s_S", "params": {"s_days": 1, "S_days": 2}},
        {"name": "r_Q", "params": {"r_days": 1, "Q_days": 1}},
        {"name": "base_stock", "params": {"level_days": 1}},
        {"name": "forecast", "params": {"review_hours": 6}},
    ]),
)
def test_invariants_hold_for_any_world(seed, cover_days, cancel, returns, allocation,
                                       replenishment) -> None:
    d = smoke_dict()
    d["clock"]["horizon_hours"] = 12
    d["demand"]["baseline_orders_per_hour"] = 30
    d["demand"]["cancel_probability"] = cancel
    d["demand"]["return_probability"] = returns
    d["demand"]["return_delay_hours"] = {"dist": "exponential", "mean": 3}
    d["stock"]["initial"] = [{"days_of_cover": cover_days}]
    d["policies"] = {"allocation": {"name": allocation}, "replenishment": replenishment}
    sim = Simulation(parse_scenario(d), seed)
    check_invariants(sim, sim.run())


def test_illegal_transitions_are_refused() -> None:
    postings = Postings(4)
    ids = postings.append(order=np.array([0, 1]), warehouse=np.array([0, 0]),
                          route=np.array([0, 0]), n_lines=np.array([1, 1]),
                          line_of=np.array([0, 1]), line_sku=np.array([3, 4]),
                          line_qty=np.array([1, 2]), t=0.0)
    assert postings.units[ids].tolist() == [1, 2]
    with pytest.raises(IllegalTransition, match="awaiting_packaging -> delivered"):
        postings.transition(ids, DELIVERED)
    postings.transition(ids[:1], CANCELLED)
    with pytest.raises(IllegalTransition, match="cancelled -> awaiting_deliver"):
        postings.transition(ids, STATUS_CODES[PostingStatus.AWAITING_DELIVER])
    assert postings.status[ids].tolist() == [CANCELLED, AWAITING_PACKAGING]  # nothing moved


def test_overlapping_closures_keep_a_node_closed_until_the_last_ends() -> None:
    d = smoke_dict()
    d["faults"] = [
        {"name": "a", "node": "WH-SPB", "start_hour": 2, "duration_hours": 4, "capacity_factor": 0},
        {"name": "b", "node": "WH-SPB", "start_hour": 4, "duration_hours": 6, "capacity_factor": 0},
    ]
    sim = Simulation(parse_scenario(d), 1)
    node = sim.network.index["WH-SPB"]
    for hour, closed in ((1, False), (5, True), (7, True), (11, False)):
        sim.env.run(until=hour * 60)
        assert (node in sim.world.closed) is closed, hour
        assert sim.network_view.is_open("WH-SPB") is not closed
