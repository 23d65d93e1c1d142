"""Allocation policies: invariants (hypothesis) and worked cases."""

from __future__ import annotations

import itertools
import math
import pickle
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator.policies  # noqa: F401  (registers the built-ins)
from simulator.policies.base import (
    Allocation,
    MappingStock,
    OrderLine,
    OrderRequest,
    Refusal,
    RefusalReason,
    StaticNetwork,
    allocation_policies,
)

NAMES = ["nearest_with_stock", "least_cost", "balanced", "single_warehouse"]
SPLITTING = ["nearest_with_stock", "least_cost", "balanced"]
WAREHOUSES = ["W0", "W1", "W2", "W3"]
REGIONS = ["R0", "R1"]
SKUS = [0, 1, 2]  # few SKUs so the same SKU often appears on two lines


@st.composite
def worlds(draw: st.DrawFn) -> tuple[OrderRequest, MappingStock, StaticNetwork, dict]:
    hours = st.one_of(st.floats(1, 100), st.just(math.inf))
    transit = {(w, r): draw(hours) for w in WAREHOUSES for r in REGIONS}
    cost = {
        (w, r): draw(st.sampled_from([50.0, 80.0, 120.0, 200.0]))
        for w in WAREHOUSES
        for r in REGIONS
    }
    load = {w: draw(st.floats(0, 20)) for w in WAREHOUSES}
    closed = draw(st.sets(st.sampled_from(WAREHOUSES), max_size=3))
    units = {(s, w): draw(st.integers(-1, 8)) for s in SKUS for w in WAREHOUSES}
    lines = draw(
        st.lists(
            st.builds(OrderLine, st.sampled_from(SKUS), st.integers(0, 7)), min_size=0, max_size=5
        )
    )
    order = OrderRequest(draw(st.sampled_from(REGIONS)), tuple(lines))
    net = StaticNetwork(WAREHOUSES, transit, cost, load, closed)
    return order, MappingStock(units), net, units


def usable(net: StaticNetwork, region: str) -> list[str]:
    return [
        w
        for w in WAREHOUSES
        if net.is_open(w)
        and math.isfinite(net.transit_hours(w, region))
        and math.isfinite(net.cost_per_parcel(w, region))
    ]


def demand(order: OrderRequest) -> Counter:
    need: Counter = Counter()
    for line in order.lines:
        need[line.sku] += line.quantity
    return need


def check_invariants(result, order, net, units) -> None:
    if isinstance(result, Refusal):
        positive = {i for i, line in enumerate(order.lines) if line.quantity > 0}
        assert result.lines and set(result.lines) <= positive
        return
    assert isinstance(result, Allocation)
    served: Counter = Counter()
    drawn: Counter = Counter()
    for pick in result.picks:
        assert pick.quantity > 0
        assert pick.warehouse in usable(net, order.region), "closed or unreachable warehouse"
        served[pick.line] += pick.quantity
        drawn[order.lines[pick.line].sku, pick.warehouse] += pick.quantity
    for key, qty in drawn.items():
        assert qty <= max(0, units[key]), f"over-allocated {key}: {qty} > {units[key]}"
    for i, line in enumerate(order.lines):
        assert served[i] == line.quantity, f"line {i} covered {served[i]} of {line.quantity}"


FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(world=worlds())
def test_never_over_allocates_and_covers_or_refuses(name, world) -> None:
    order, stock, net, units = world
    policy = allocation_policies.create(name)
    check_invariants(policy.allocate(order, stock, net), order, net, units)


@pytest.mark.parametrize("name", SPLITTING)
@FAST
@given(world=worlds())
def test_splitting_policies_refuse_only_when_the_open_network_is_short(name, world) -> None:
    order, stock, net, units = world
    pool = usable(net, order.region)
    short = any(
        qty > sum(max(0, units[sku, w]) for w in pool) for sku, qty in demand(order).items()
    )
    result = allocation_policies.create(name).allocate(order, stock, net)
    assert isinstance(result, Refusal) == short


@FAST
@given(world=worlds())
def test_single_warehouse_never_splits(world) -> None:
    order, stock, net, units = world
    result = allocation_policies.create("single_warehouse").allocate(order, stock, net)
    holders = [
        w
        for w in usable(net, order.region)
        if all(units[sku, w] >= qty for sku, qty in demand(order).items() if qty > 0)
    ]
    if isinstance(result, Allocation):
        assert len(result.warehouses()) <= 1
    else:
        assert not holders


@FAST
@given(world=worlds())
def test_least_cost_matches_brute_force(world) -> None:
    order, stock, net, units = world
    result = allocation_policies.create("least_cost").allocate(order, stock, net)
    if not isinstance(result, Allocation):
        return
    pool = usable(net, order.region)
    need = {s: q for s, q in demand(order).items() if q > 0}
    best = (math.inf, math.inf)
    for size in range(len(pool) + 1):
        for subset in itertools.combinations(pool, size):
            if all(sum(max(0, units[s, w]) for w in subset) >= q for s, q in need.items()):
                cost = sum(net.cost_per_parcel(w, order.region) for w in subset)
                best = min(best, (cost, size))
    used = result.warehouses()
    assert (sum(net.cost_per_parcel(w, order.region) for w in used), len(used)) == best


# --------------------------------------------------------------------------- worked cases


def net4(**kw) -> StaticNetwork:
    transit = {("A", "R"): 10.0, ("B", "R"): 20.0, ("C", "R"): 30.0, ("D", "R"): math.inf}
    cost = {("A", "R"): 300.0, ("B", "R"): 100.0, ("C", "R"): 120.0, ("D", "R"): 10.0}
    return StaticNetwork(["A", "B", "C", "D"], transit, cost, **kw)


def order(*lines: tuple[int, int]) -> OrderRequest:
    return OrderRequest("R", tuple(OrderLine(s, q) for s, q in lines))


def picks(result) -> list[tuple[int, str, int]]:
    assert isinstance(result, Allocation), result
    return sorted((p.line, p.warehouse, p.quantity) for p in result.picks)


def test_nearest_takes_the_nearest_warehouse_holding_the_whole_line() -> None:
    stock = MappingStock({(1, "A"): 2, (1, "B"): 5, (1, "C"): 9, (1, "D"): 99})
    policy = allocation_policies.create("nearest_with_stock")
    assert picks(policy.allocate(order((1, 2)), stock, net4())) == [(0, "A", 2)]
    assert picks(policy.allocate(order((1, 4)), stock, net4())) == [(0, "B", 4)]
    # no single warehouse holds 15: split nearest-first; D is unreachable
    assert picks(policy.allocate(order((1, 15)), stock, net4())) == [
        (0, "A", 2),
        (0, "B", 5),
        (0, "C", 8),
    ]
    short = policy.allocate(order((1, 17)), stock, net4())
    assert short == Refusal(RefusalReason.OUT_OF_STOCK, (0,))


def test_same_sku_on_two_lines_draws_on_one_pool() -> None:
    stock = MappingStock({(1, "A"): 3, (1, "B"): 3})
    policy = allocation_policies.create("nearest_with_stock")
    assert picks(policy.allocate(order((1, 2), (1, 2)), stock, net4())) == [
        (0, "A", 2),
        (1, "B", 2),
    ]
    # the short line is reported; the other one does not count against it
    assert policy.allocate(order((1, 5), (1, 2), (1, 1)), stock, net4()) == Refusal(
        RefusalReason.OUT_OF_STOCK, (1,)
    )


def test_is_open_is_read_on_every_call_despite_the_cached_ranking() -> None:
    stock = MappingStock({(1, "A"): 5, (1, "B"): 5})
    network = net4()
    policy = allocation_policies.create("nearest_with_stock")
    assert picks(policy.allocate(order((1, 1)), stock, network)) == [(0, "A", 1)]
    network.closed.add("A")
    assert picks(policy.allocate(order((1, 1)), stock, network)) == [(0, "B", 1)]
    network.closed.update({"B", "C"})
    assert policy.allocate(order((1, 1)), stock, network) == Refusal(
        RefusalReason.NO_OPEN_WAREHOUSE, (0,)
    )
    # another network object (different distances) is ranked afresh
    other = StaticNetwork(["A", "B"], {("A", "R"): 50.0, ("B", "R"): 5.0})
    assert picks(policy.allocate(order((1, 1)), stock, other)) == [(0, "B", 1)]


def test_balanced_trades_transit_for_load() -> None:
    stock = MappingStock({(1, "A"): 5, (1, "B"): 5})
    busy = net4(load={"A": 15.0, "B": 0.0})
    assert picks(allocation_policies.create("balanced").allocate(order((1, 1)), stock, busy)) == [
        (0, "B", 1)
    ]
    lazy = allocation_policies.create("balanced", {"load_weight": 0.5})
    assert picks(lazy.allocate(order((1, 1)), stock, busy)) == [(0, "A", 1)]  # 10+7.5 < 20


def test_least_cost_prefers_cheaper_split_and_fewer_postings_on_ties() -> None:
    policy = allocation_policies.create("least_cost")
    # A (300) holds both SKUs; B (100) + C (120) = 220 hold them between them
    stock = MappingStock({(1, "A"): 5, (2, "A"): 5, (1, "B"): 5, (2, "C"): 5})
    assert picks(policy.allocate(order((1, 1), (2, 1)), stock, net4())) == [
        (0, "B", 1),
        (1, "C", 1),
    ]
    # a tie in cost goes to one posting
    tie = StaticNetwork(
        ["A", "B", "C"],
        {("A", "R"): 1.0, ("B", "R"): 1.0, ("C", "R"): 1.0},
        {("A", "R"): 200.0, ("B", "R"): 100.0, ("C", "R"): 100.0},
    )
    assert picks(policy.allocate(order((1, 1), (2, 1)), stock, tie)) == [(0, "A", 1), (1, "A", 1)]


def test_single_warehouse_reasons() -> None:
    policy = allocation_policies.create("single_warehouse")
    stock = MappingStock({(1, "A"): 5, (2, "B"): 5})
    split_only = policy.allocate(order((1, 1), (2, 1)), stock, net4())
    assert split_only == Refusal(RefusalReason.NOT_IN_ONE_WAREHOUSE, (1,))
    assert policy.allocate(order((1, 9)), stock, net4()) == Refusal(
        RefusalReason.OUT_OF_STOCK, (0,)
    )
    both = MappingStock({(1, "A"): 5, (1, "C"): 5, (2, "C"): 5})
    assert picks(policy.allocate(order((1, 1), (2, 1)), both, net4())) == [
        (0, "C", 1),
        (1, "C", 1),
    ]
    by_cost = allocation_policies.create("single_warehouse", {"rank_by": "cost"})
    stock_bc = MappingStock({(1, "A"): 5, (1, "B"): 5, (1, "C"): 5})
    assert picks(by_cost.allocate(order((1, 1)), stock_bc, net4())) == [(0, "B", 1)]


def test_empty_order_and_zero_lines_allocate_nothing() -> None:
    for name in NAMES:
        policy = allocation_policies.create(name)
        assert policy.allocate(order(), MappingStock({}), net4()) == Allocation(())
        assert policy.allocate(order((1, 0)), MappingStock({}), net4()) == Allocation(())
        with pytest.raises(ValueError, match="quantity"):
            policy.allocate(order((1, -1)), MappingStock({}), net4())


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("balanced", {"load_weight": -1}, "load_weight must be >= 0"),
        ("balanced", {"load_weight": "heavy"}, "load_weight must be a number"),
        ("balanced", {"load_weight_hours": 2}, "unknown parameter"),
        ("single_warehouse", {"rank_by": "beauty"}, "rank_by must be one of"),
        ("nearest_with_stock", {"radius": 3}, "accepted: none"),
    ],
)
def test_constructors_validate_params(name, params, message) -> None:
    with pytest.raises(ValueError, match=message):
        allocation_policies.create(name, params)


def test_policies_pickle_without_their_cache() -> None:
    policy = allocation_policies.create("balanced", {"load_weight": 2.0})
    stock = MappingStock({(1, "A"): 5})
    policy.allocate(order((1, 1)), stock, net4())
    clone = pickle.loads(pickle.dumps(policy))
    assert clone.load_weight == 2.0 and clone._cache == (None, {})
    assert picks(clone.allocate(order((1, 1)), stock, net4())) == [(0, "A", 1)]
    assert repr(clone) == "Balanced(load_weight=2.0)"
