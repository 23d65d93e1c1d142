"""Buyer returns: the share returned matches return_probability, returned units are sellable
stock again, and returns leave every other random input alone."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from simulator.actors.postings import DELIVERED
from simulator.model import Simulation
from simulator.scenario import ScenarioError, parse_scenario

from .model_worlds import smoke_dict
from .test_model_invariants import check_invariants


def _node(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "city": "Moscow", "lat": 55.75, "lon": 37.62, **extra}


def returns_world(*, p: float, units: int = 1_000_000, delay_hours: float = 2.0,
                  orders_per_hour: float = 200, horizon_hours: float = 24) -> dict[str, Any]:
    """One warehouse, one region, a 1-hour courier lane, single-unit orders of one SKU."""
    return {
        "name": "returns",
        "clock": {"horizon_hours": horizon_hours, "drain_hours": 12},
        "demand": {"baseline_orders_per_hour": orders_per_hour, "cancel_probability": 0,
                   "return_probability": p,
                   "return_delay_hours": {"dist": "constant", "value": delay_hours}},
        "catalogue": {"sku_count": 1, "lines_per_order": {"dist": "constant", "value": 1},
                      "units_per_line": {"dist": "constant", "value": 1},
                      "groups": [{"name": "all", "share": 1, "price_rub": [100, 100]}]},
        "network": {
            "regions": [_node("R", weight=1)],
            "warehouses": [_node("WH", wave_minutes=10, pack_minutes=0, shifts=[
                {"start": "00:00", "end": "00:00", "capacity_per_hour": 1e6}])],
            "lanes": [{"from": "WH", "to": "R", "mode": "courier", "cost_per_parcel_rub": 50,
                       "transit_hours": {"dist": "constant", "value": 1}}]},
        "stock": {"initial": [{"units": units}]},
        "policies": {"replenishment": {"name": "s_S", "params": {"s_days": 0, "S_days": 0}}},
    }


def simulate(data: dict[str, Any], seed: int = 1) -> tuple[Simulation, Any]:
    sim = Simulation(parse_scenario(data), seed)
    result = sim.run()
    check_invariants(sim, result)
    return sim, result


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_share_returned_is_within_the_binomial_interval(p: float) -> None:
    sim, result = simulate(returns_world(p=p))
    status = sim.postings.status[: sim.postings.n]
    delivered = int((status == DELIVERED).sum())
    assert delivered > 4000
    assert result.kpis["orders_in_flight"] == 0  # every return request falls inside the run
    share = result.kpis["returns_requested"] / delivered
    half = 2.576 * math.sqrt(p * (1 - p) / delivered)  # 99 % normal interval of a binomial
    assert abs(share - p) <= half, (share, p, half)
    # delay 2 h + 1 h back, put away at the next whole hour: all back before the drain ends
    assert result.kpis["returns_in_transit_at_end"] == 0
    assert result.kpis["units_returned_to_stock"] == result.kpis["returns_requested"]


def test_returned_units_go_back_on_hand_and_nothing_else_moves() -> None:
    """With ample stock, returns change on-hand by exactly what came back; the same postings,
    deliveries and costs happen (returns draw from their own random stream)."""
    without_sim, without = simulate(returns_world(p=0.0))
    with_sim, with_ = simulate(returns_world(p=0.2))
    returned = with_.kpis["units_returned_to_stock"]
    assert returned > 500 and without.kpis["units_returned_to_stock"] == 0
    assert np.array_equal(with_sim.stock.on_hand, without_sim.stock.on_hand + returned)
    level_gain = (with_.series["on_hand_warehouse"] - without.series["on_hand_warehouse"])[:, 0]
    assert level_gain[0] == 0 and np.all(np.diff(level_gain) >= -1e-9)
    assert level_gain[-1] > 0.9 * returned
    assert with_.series["returns_received"].sum() == with_.kpis["returns_requested"]
    for kpi in ("orders_demanded", "orders_delivered", "transport_cost_rub",
                "lead_time_p95_hours"):
        assert with_.kpis[kpi] == without.kpis[kpi], kpi
    assert np.array_equal(with_.samples["lead_time_hours"], without.samples["lead_time_hours"])


def test_returned_units_are_sold_again_when_stock_is_short() -> None:
    """500 units for 1,200 orders: returns refill the shelf, so more orders are placed."""
    short = {"units": 500, "orders_per_hour": 50, "horizon_hours": 24}
    _, without = simulate(returns_world(p=0.0, **short))
    _, with_ = simulate(returns_world(p=0.3, **short))
    assert without.kpis["orders_placed"] == 500
    gained = with_.kpis["orders_placed"] - without.kpis["orders_placed"]
    assert 0 < gained <= with_.kpis["units_returned_to_stock"]
    assert with_.kpis["lost_sales_units"] == without.kpis["lost_sales_units"] - gained


def test_same_seed_same_returns_other_seed_different() -> None:
    world = smoke_dict()
    world["demand"]["return_probability"] = 0.1
    world["demand"]["return_delay_hours"] = {"dist": "exponential", "mean": 4}
    first = simulate(world, 2)[1]
    again = simulate(world, 2)[1]
    assert first.kpis == again.kpis and first.kpis["returns_requested"] > 0
    assert np.array_equal(first.series["returns_received"], again.series["returns_received"])
    assert simulate(world, 3)[1].kpis["returns_requested"] != first.kpis["returns_requested"]


def test_return_delay_must_be_a_distribution() -> None:
    world = returns_world(p=0.1)
    world["demand"]["return_delay_hours"] = 96
    with pytest.raises(ScenarioError, match="demand.return_delay_hours"):
        parse_scenario(world)
    del world["demand"]["return_delay_hours"]
    delay = parse_scenario(world).demand.return_delay_hours
    assert delay.mean == pytest.approx(96) and delay.variance == pytest.approx(48**2)
