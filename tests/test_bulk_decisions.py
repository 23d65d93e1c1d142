"""Bulk decisions (speed) decide exactly what the policies decide one by one.

Plain orders are decided in bulk for policies that state their plain cases
(``PlainCases.preferences``), and replenishment in bulk for policies with
``order_quantities``: both must agree with ``allocate`` / ``order_quantity`` called one by
one, order by order, state by state.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator.policies  # noqa: F401  (registers the built-ins)
from simulator.actors.plain_orders import PlainOrders, supports_plain_orders
from simulator.model import run
from simulator.policies.allocation import LeastCost, NearestWithStock, SingleWarehouse
from simulator.policies.base import (
    InventoryBatch,
    InventoryState,
    OrderLine,
    OrderRequest,
    Refusal,
    StaticNetwork,
    allocation_policies,
    bulk_method,
    replenishment_policies,
)
from simulator.policies.replenishment import SS

from .model_worlds import stressed

WAREHOUSES = ["W0", "W1", "W2"]
REGIONS = ["R0", "R1"]
N_SKUS = 4
BULK_ALLOCATION = ["nearest_with_stock", "least_cost", "single_warehouse"]


class ArrayStock:
    """The StockView of an ``avail[warehouse, sku]`` array (what the model's policies see)."""

    def __init__(self, avail: np.ndarray) -> None:
        self.avail = avail

    def available(self, sku: int, warehouse: str) -> int:
        return int(self.avail[WAREHOUSES.index(warehouse), sku])


@st.composite
def order_streams(draw: st.DrawFn):
    hours = st.one_of(st.floats(1, 100), st.just(math.inf))
    transit = {(w, r): draw(hours) for w in WAREHOUSES for r in REGIONS}
    cost = {(w, r): draw(st.sampled_from([50.0, 80.0, 120.0])) for w in WAREHOUSES
            for r in REGIONS}
    closed = draw(st.sets(st.sampled_from(WAREHOUSES), max_size=2))
    avail = np.array(draw(st.lists(st.lists(st.integers(0, 6), min_size=N_SKUS,
                                            max_size=N_SKUS), min_size=3, max_size=3)))
    n = draw(st.integers(1, 12))
    region = np.array([draw(st.integers(0, 1)) for _ in range(n)])
    skus, qty, starts = [], [], [0]
    for _ in range(n):  # distinct SKUs per order (the model merges repeated ones)
        chosen = draw(st.lists(st.integers(0, N_SKUS - 1), min_size=1, max_size=3, unique=True))
        skus += chosen
        qty += [draw(st.integers(1, 4)) for _ in chosen]
        starts.append(len(skus))
    net = StaticNetwork(WAREHOUSES, transit, cost, closed=closed)
    return net, avail, region, np.array(starts), np.array(skus), np.array(qty)


def one_by_one(policy, net, avail, region, starts, skus, qty, k: int) -> list[tuple]:
    """Order ``k`` through ``allocate``: its postings (warehouse, [(line, qty)]) in the order
    the model makes them; reserves off ``avail``."""
    lines = tuple(OrderLine(int(s), int(q)) for s, q in zip(skus[starts[k]:starts[k + 1]],
                                                           qty[starts[k]:starts[k + 1]],
                                                           strict=True))
    result = policy.allocate(OrderRequest(REGIONS[region[k]], lines), ArrayStock(avail), net)
    if isinstance(result, Refusal):
        return []
    postings: dict[str, list] = {}
    for pick in result.picks:
        avail[WAREHOUSES.index(pick.warehouse), lines[pick.line].sku] -= pick.quantity
        postings.setdefault(pick.warehouse, []).append((starts[k] + pick.line, pick.quantity))
    return [(WAREHOUSES.index(w), picks) for w, picks in postings.items()]


@pytest.mark.parametrize("name", BULK_ALLOCATION)
@settings(max_examples=150, deadline=None)
@given(world=order_streams())
def test_plain_orders_are_decided_as_the_policy_decides_them(name, world) -> None:
    net, avail, region, starts, skus, qty = world
    policy = allocation_policies.create(name)
    plain = PlainOrders(policy, net, WAREHOUSES, REGIONS, N_SKUS)
    expected_avail = avail.copy()
    k = 0
    while k < region.size:
        run_ = plain.decide(avail, region, starts, skus, qty, k, region.size)
        got: dict[int, list] = {}
        for p in range(run_.order.size):
            a = int(run_.n_lines[:p].sum())
            lines = [(int(line), int(q)) for line, q in zip(
                run_.line[a:a + run_.n_lines[p]], run_.qty[a:a + run_.n_lines[p]], strict=True)]
            got.setdefault(int(run_.order[p]), []).append((int(run_.warehouse[p]), lines))
        for o in range(k, run_.stop):
            want = one_by_one(policy, net, expected_avail, region, starts, skus, qty, o)
            assert got.get(o, []) == want, f"order {o}"
        np.subtract.at(avail.reshape(-1), run_.pair, run_.qty)
        assert np.array_equal(avail, expected_avail)
        k = run_.stop
        if k < region.size:  # not plain: the policy decides it
            one_by_one(policy, net, avail, region, starts, skus, qty, k)
            one_by_one(policy, net, expected_avail, region, starts, skus, qty, k)
            k += 1


def test_ample_stock_is_all_plain() -> None:
    """With stock everywhere every order is decided in bulk, in one run."""
    net = StaticNetwork(WAREHOUSES, {(w, r): 10.0 + i for i, w in enumerate(WAREHOUSES)
                                     for r in REGIONS})
    plain = PlainOrders(NearestWithStock(), net, WAREHOUSES, REGIONS, N_SKUS)
    avail = np.full((3, N_SKUS), 100)
    starts, skus, qty = np.array([0, 1, 3, 4]), np.array([0, 1, 2, 3]), np.array([1, 2, 1, 5])
    run_ = plain.decide(avail, np.array([0, 1, 0]), starts, skus, qty, 0, 3)
    assert run_.stop == 3 and run_.warehouse.tolist() == [0, 0, 0]
    assert run_.n_lines.tolist() == [1, 2, 1]


def test_a_subclass_overriding_allocate_is_asked_order_by_order() -> None:
    class Mine(NearestWithStock):
        def allocate(self, order, stock, network):
            return super().allocate(order, stock, network)

    assert supports_plain_orders(NearestWithStock())
    assert supports_plain_orders(LeastCost()) and supports_plain_orders(SingleWarehouse())
    assert not supports_plain_orders(Mine())
    assert not supports_plain_orders(allocation_policies.create("balanced"))

    class MySS(SS):
        def order_quantity(self, state):
            return super().order_quantity(state)

    assert bulk_method(SS(), "order_quantities", "order_quantity") is not None
    assert bulk_method(MySS(), "order_quantities", "order_quantity") is None


# --------------------------------------------------------------------------- replenishment

REPLENISHMENT = [
    ("s_S", {"s_days": 2.5, "S_days": 6, "levels": {(1, "W1"): (3, 9), (2, "W0"): (0, 4)}}),
    ("base_stock", {"level_days": 3.3, "levels": {(0, "W2"): (1, 5)}}),
    ("r_Q", {"r_days": 2, "Q_days": 1.5}),
    ("r_Q", {"r_days": 1, "Q_units": 7}),
    ("periodic_review", {"review_hours": 12, "S_days": 4.2}),
]


@pytest.mark.parametrize(("name", "params"), REPLENISHMENT)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bulk_order_quantities_equal_one_by_one(name, params, data) -> None:
    policy = replenishment_policies.create(name, params)
    n = data.draw(st.integers(1, 30))
    ints = st.lists(st.integers(0, 40), min_size=n, max_size=n)
    sku = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    wh = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    on_hand, on_order = np.array(data.draw(ints)), np.array(data.draw(ints))
    reserved = np.minimum(np.array(data.draw(ints)), on_hand)
    mean = np.array(data.draw(st.lists(st.floats(0, 20), min_size=n, max_size=n)))
    batch = InventoryBatch(sku, wh, tuple(WAREHOUSES), 5.0, on_hand, reserved, on_order,
                           mean, np.sqrt(mean), 2.0, 0.5)
    bulk = policy.order_quantities(batch)
    single = [policy.order_quantity(InventoryState(
        int(sku[i]), WAREHOUSES[wh[i]], 5.0, int(on_hand[i]), int(reserved[i]),
        int(on_order[i]), float(mean[i]), math.sqrt(mean[i]), 2.0, 0.5)) for i in range(n)]
    assert bulk.tolist() == single


# --------------------------------------------------------------------------- whole runs


class OneByOneNearest(NearestWithStock):
    def allocate(self, order, stock, network):
        return super().allocate(order, stock, network)


class OneByOneLeastCost(LeastCost):
    def allocate(self, order, stock, network):
        return super().allocate(order, stock, network)


class OneByOneSS(SS):
    def order_quantity(self, state):
        return super().order_quantity(state)


@pytest.mark.parametrize(("bulk", "single"), [(NearestWithStock, OneByOneNearest),
                                              (LeastCost, OneByOneLeastCost)])
def test_a_stressed_run_is_identical_with_and_without_bulk_decisions(bulk, single) -> None:
    """Short stock, cancellations, returns and a closed warehouse: every KPI, series and
    table equal, bulk decisions or not."""
    scenario = stressed()
    a = run(scenario, 3, allocation=bulk(), replenishment=SS(s_days=1, S_days=2))
    b = run(scenario, 3, allocation=single(), replenishment=OneByOneSS(s_days=1, S_days=2))
    assert a.kpis["orders_refused"] > 0 and a.kpis["replenishment_orders"] > 0
    assert a.kpis == b.kpis
    assert a.tables == b.tables
    for name, values in a.series.items():
        assert np.array_equal(values, b.series[name], equal_nan=True), name
