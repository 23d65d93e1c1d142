"""Replenishment policies (properties and worked cases) and the inventory formulas in levels.py."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import simulator.policies  # noqa: F401  (registers the built-ins)
from simulator.policies import levels as lv
from simulator.policies.base import InventoryState, replenishment_policies

# --------------------------------------------------------------------------- properties


@st.composite
def states(draw: st.DrawFn) -> InventoryState:
    on_hand = draw(st.integers(0, 500))
    return InventoryState(
        sku=draw(st.integers(0, 3)),
        warehouse=draw(st.sampled_from(["W0", "W1"])),
        time_hours=draw(st.floats(0, 1000)),
        on_hand=on_hand,
        reserved=draw(st.integers(0, on_hand)),
        on_order=draw(st.integers(0, 500)),
        mean_daily_demand=draw(st.floats(0, 80)),
        sd_daily_demand=draw(st.floats(0, 40)),
        lead_time_days=draw(st.floats(0, 20)),
        lead_time_sd_days=draw(st.floats(0, 5)),
        demand_history=tuple(draw(st.lists(st.floats(0, 200), max_size=10))),
    )


days = st.floats(0, 30)
level_tables = st.dictionaries(
    st.tuples(st.integers(0, 3), st.sampled_from(["W0", "W1"])),
    st.tuples(st.integers(0, 300), st.integers(0, 300)).map(sorted).map(tuple),
    max_size=4,
)


@st.composite
def policies(draw: st.DrawFn):
    kind = draw(st.sampled_from(["s_S", "r_Q", "base_stock", "periodic_review", "forecast"]))
    if kind == "s_S":
        s, big = sorted((draw(days), draw(days)))
        params = {"s_days": s, "S_days": big, "levels": draw(level_tables)}
    elif kind == "r_Q":
        q = draw(
            st.one_of(
                st.builds(dict, Q_days=st.floats(0.1, 30)),
                st.builds(dict, Q_units=st.integers(1, 100)),
            )
        )
        params = {"r_days": draw(days), **q}
    elif kind == "base_stock":
        params = {"level_days": draw(days), "levels": draw(level_tables)}
    elif kind == "periodic_review":
        params = {"review_hours": draw(st.floats(1, 168)), "S_days": draw(days)}
    else:
        params = {
            "alpha": draw(st.floats(0.01, 1)),
            "service_level": draw(st.floats(0.5, 0.999)),
            "review_hours": draw(st.one_of(st.none(), st.floats(1, 168))),
        }
    return replenishment_policies.create(kind, params)


def ceiling(policy, state: InventoryState) -> int:
    """The level the inventory position must never be lifted above."""
    if policy.name == "s_S":
        return policy.reorder_levels(state)[1]
    if policy.name == "r_Q":
        r, q = policy.reorder_levels(state)
        return r + q
    return policy.order_up_to(state)


@settings(max_examples=400, deadline=None)
@given(policy=policies(), state=states())
def test_never_negative_never_above_the_order_up_to_level(policy, state) -> None:
    qty = policy.order_quantity(state)
    assert isinstance(qty, int) and qty >= 0
    position = state.inventory_position
    if qty:
        assert position + qty <= ceiling(policy, state)
    if policy.name == "s_S":
        s, big = policy.reorder_levels(state)
        assert qty == (big - position if position <= s and position < big else 0)
    if policy.name == "r_Q":
        r, q = policy.reorder_levels(state)
        assert (qty > 0) == (position <= r and q > 0)
        if qty:
            assert qty % q == 0 and position + qty > r


# --------------------------------------------------------------------------- worked cases


def state(**kw) -> InventoryState:
    base = dict(
        sku=7,
        warehouse="W",
        time_hours=0.0,
        on_hand=40,
        reserved=10,
        on_order=5,
        mean_daily_demand=10.0,
        sd_daily_demand=3.0,
        lead_time_days=4.0,
    )
    return InventoryState(**(base | kw))


def test_days_based_levels() -> None:
    create = replenishment_policies.create
    ip35 = state()  # inventory position 40 - 10 + 5 = 35
    assert create("s_S", {"s_days": 3, "S_days": 8}).order_quantity(ip35) == 0  # 35 > 30
    assert create("s_S", {"s_days": 3.5, "S_days": 8}).order_quantity(ip35) == 45  # up to 80
    assert create("r_Q", {"r_days": 4, "Q_days": 2}).order_quantity(ip35) == 20  # 35+20 > 40
    assert create("r_Q", {"r_days": 4, "Q_units": 50}).order_quantity(ip35) == 50
    assert create("base_stock", {"level_days": 5}).order_quantity(ip35) == 15
    assert create("base_stock", {"level_days": 3}).order_quantity(ip35) == 0
    periodic = create("periodic_review", {"review_hours": 12, "S_days": 6})
    assert periodic.order_quantity(ip35) == 25 and periodic.review_hours == 12
    # fractional levels round up to whole units: 2.25 days x 10/day = 22.5 -> 23
    assert create("base_stock", {"level_days": 2.25}).order_quantity(state(on_hand=10)) == 18


def test_absolute_levels_override_days_for_their_pairs_only() -> None:
    table = {(7, "W"): (40, 100)}
    as_list = [{"sku": 7, "warehouse": "W", "reorder_point": 40, "order_up_to": 100}]
    for levels in (table, as_list):
        ss = replenishment_policies.create("s_S", {"s_days": 1, "S_days": 2, "levels": levels})
        assert ss.order_quantity(state()) == 65  # 35 <= 40: up to 100
        assert ss.order_quantity(state(warehouse="X")) == 0  # days-based: 35 > s = 10
        bs = replenishment_policies.create("base_stock", {"level_days": 1, "levels": levels})
        assert bs.order_quantity(state()) == 65 and bs.order_quantity(state(sku=8)) == 0


def test_forecast_policy_by_hand() -> None:
    policy = replenishment_policies.create(
        "forecast", {"alpha": 0.5, "service_level": 0.95, "review_hours": 24}
    )
    history = (10.0, 14.0, 8.0, 12.0)
    # f: 10 -> 12 -> 10 -> 11; one-step errors 4, -4, 2 -> rmse sqrt(36/3)
    f, sigma = policy.forecast(state(demand_history=history))
    assert f == pytest.approx(11.0) and sigma == pytest.approx(math.sqrt(12.0))
    z = stats.norm.ppf(0.95)
    p = 4.0 + 1.0  # lead time + one review day
    expected = math.ceil(11.0 * p + z * math.sqrt(p * 12.0 + (11.0 * 1.0) ** 2))
    s = state(demand_history=history, lead_time_sd_days=1.0)
    assert policy.order_up_to(s) == expected
    assert policy.order_quantity(s) == expected - 35
    # no history: the state's mean and sd
    assert policy.forecast(state()) == (10.0, 3.0)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("s_S", {"s_days": -1}, "s_days must be >= 0"),
        ("s_S", {"s_days": 5, "S_days": 2}, "S_days .* must be >= s_days"),
        ("s_S", {"levels": {(1, "W"): (5, 3)}}, "reorder_point 5 exceeds order_up_to 3"),
        ("s_S", {"levels": {(1, "W"): (1.5, 3)}}, "whole number"),
        ("s_S", {"levels": [{"sku": 1, "warehouse": "W"}]}, "exactly the keys"),
        ("s_S", {"s": 2}, "unknown parameter.*accepted: s_days, S_days"),
        ("r_Q", {"Q_days": 2, "Q_units": 3}, "not both"),
        ("r_Q", {"Q_units": 0}, "Q_units must be >= 1"),
        ("r_Q", {"Q_days": 0}, "Q_days must be > 0"),
        ("base_stock", {"level_days": "a week"}, "must be a number"),
        ("periodic_review", {"review_hours": 0}, "review_hours must be > 0"),
        ("forecast", {"alpha": 1.5}, "alpha must be <= 1"),
        ("forecast", {"service_level": 1.0}, "service_level must be < 1"),
    ],
)
def test_constructors_validate_params(name, params, message) -> None:
    with pytest.raises(ValueError, match=message):
        replenishment_policies.create(name, params)


def test_policies_pickle() -> None:
    policy = replenishment_policies.create("s_S", {"levels": {(7, "W"): (40, 100)}})
    clone = pickle.loads(pickle.dumps(policy))
    assert clone.order_quantity(state()) == 65
    assert repr(clone) == "SS(s_days=3.0, S_days=7.0, levels=<1 pairs>, review_hours=None)"


# --------------------------------------------------------------------------- levels.py


def test_poisson_fill_rate_mean_10_level_13() -> None:
    # backorders: an arriving unit is filled when lead-time demand D <= S - 1
    assert lv.poisson_fill_rate(13, 10.0) == pytest.approx(stats.poisson.cdf(12, 10.0), abs=1e-12)
    assert lv.poisson_fill_rate(13, 10.0) == pytest.approx(0.7916, abs=5e-5)
    # lost sales: Erlang loss B(13, 10) = truncated-Poisson p(13) / F(13)
    blocked = stats.poisson.pmf(13, 10.0) / stats.poisson.cdf(13, 10.0)
    assert lv.poisson_fill_rate(13, 10.0, lost_sales=True) == pytest.approx(1 - blocked, abs=1e-12)
    assert lv.poisson_fill_rate(0, 10.0) == 0.0 and lv.poisson_fill_rate(0, 0.0) == 1.0


def test_poisson_expected_backorders() -> None:
    k = range(0, 200)
    direct = sum(max(0, x - 13) * p for x, p in zip(k, stats.poisson.pmf(k, 10.0), strict=True))
    assert lv.poisson_expected_backorders(13, 10.0) == pytest.approx(direct, abs=1e-10)
    assert lv.poisson_expected_backorders(0, 10.0) == pytest.approx(10.0)


@pytest.mark.parametrize("mean", [0.3, 4.0, 10.0, 57.5, 900.0])
@pytest.mark.parametrize("target", [0.5, 0.9, 0.98])
def test_poisson_base_stock_level_is_the_smallest_meeting_the_target(mean, target) -> None:
    for lost in (False, True):
        s = lv.poisson_base_stock_level(target, mean, lost_sales=lost)
        assert lv.poisson_fill_rate(s, mean, lost_sales=lost) >= target
        assert s == 0 or lv.poisson_fill_rate(s - 1, mean, lost_sales=lost) < target
    assert lv.poisson_base_stock_level(0.95, 10.0) == 16  # F(15) = 0.951, F(14) = 0.917


def test_normal_loss_matches_the_tables() -> None:
    # G(z) as tabulated in Silver, Pyke & Thomas / Axsaeter: 0.3989, 0.0833, 0.0085
    assert lv.normal_loss(0.0) == pytest.approx(0.3989, abs=1e-4)
    assert lv.normal_loss(1.0) == pytest.approx(0.0833, abs=1e-4)
    assert lv.normal_loss(2.0) == pytest.approx(0.0085, abs=1e-4)
    assert lv.normal_loss(-1.0) == pytest.approx(lv.normal_loss(1.0) + 1.0)  # G(-z) = G(z) + z
    for z in (-3.0, -0.4, 0.0, 1.3, 3.5):
        assert lv.inverse_normal_loss(lv.normal_loss(z)) == pytest.approx(z, abs=1e-8)


def test_normal_reorder_point_meets_the_fill_rate() -> None:
    mean, sd, q, beta = 100.0, 20.0, 200.0, 0.98
    r = lv.normal_reorder_point(mean, sd, q, beta)

    def loss(x: float) -> float:  # E[(D - x)^+] for D ~ N(mean, sd), by quadrature
        return integrate.quad(lambda d: (d - x) * stats.norm.pdf(d, mean, sd), x, mean + 12 * sd)[0]

    shortage_per_cycle = loss(r) - loss(r + q)
    assert 1 - shortage_per_cycle / q == pytest.approx(beta, abs=1e-6)
    assert r == pytest.approx(109.86, abs=0.01)
    assert lv.normal_reorder_point(mean, 0.0, q, beta) == mean


def test_normal_order_up_to_meets_the_fill_rate() -> None:
    mean, sd, per_review, beta = 150.0, 25.0, 30.0, 0.97
    s = lv.normal_order_up_to(mean, sd, per_review, beta)
    expected_short = sd * (
        stats.norm.pdf((s - mean) / sd) - (s - mean) / sd * stats.norm.sf((s - mean) / sd)
    )
    assert expected_short == pytest.approx((1 - beta) * per_review, rel=1e-6)


def test_safety_stock_with_lead_time_variability() -> None:
    # z(95 %) = 1.645; sqrt(L sigma_d^2 + mu_d^2 sigma_L^2) = sqrt(4*9 + 100*1) = 11.66
    assert lv.safety_stock(0.95, 10.0, 3.0, 4.0, 1.0) == pytest.approx(
        stats.norm.ppf(0.95) * math.sqrt(136.0)
    )
    assert lv.safety_stock(0.95, 10.0, 3.0, 4.0) == pytest.approx(1.6449 * 3.0 * 2.0, abs=1e-3)
    assert lv.lead_time_demand(10.0, 3.0, 4.0, 1.0) == pytest.approx((40.0, math.sqrt(136.0)))


def test_formulas_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="target_fill_rate"):
        lv.poisson_base_stock_level(1.0, 10.0)
    with pytest.raises(ValueError, match="mean"):
        lv.poisson_fill_rate(3, -1.0)
    with pytest.raises(ValueError, match="alpha"):
        lv.exponential_smoothing([1.0], 0.0)
    with pytest.raises(ValueError, match="order_quantity"):
        lv.normal_reorder_point(10.0, 2.0, 0.0, 0.9)
