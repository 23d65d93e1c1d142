"""Inventory-theory formulas: fill rates, reorder points, order-up-to levels, safety stock.

Pure functions of numbers (no state), used by the forecast replenishment policy, by the stock
planner and by the analytic-validation tests. Notation: ``mean`` is the mean demand over the
lead time (or protection interval), ``S`` a base-stock / order-up-to level in units, the
fill rate is the type-2 service level (the expected fraction of demand filled from stock) and
the cycle service level the type-1 one (the probability of no stock-out in a cycle).

References: P. Zipkin, *Foundations of Inventory Management* (2000), ch. 6 (base-stock
policies, Poisson demand); S. Axsaeter, *Inventory Control*, 3rd ed. (2015), ch. 5
(reorder points, fill rates, the normal loss function); E. Silver, D. Pyke and D. Thomas,
*Inventory and Production Management in Supply Chains*, 4th ed. (2017), ch. 6 (safety stock
with lead-time variability, periodic review).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

__all__ = [
    "erlang_b",
    "exponential_smoothing",
    "inverse_normal_loss",
    "lead_time_demand",
    "normal_loss",
    "normal_order_up_to",
    "normal_reorder_point",
    "poisson_base_stock_level",
    "poisson_expected_backorders",
    "poisson_fill_rate",
    "safety_factor",
    "safety_stock",
]

_N = NormalDist()


def _check(name: str, value: float, *, low: float = 0.0, high: float = math.inf) -> None:
    if not (low <= value <= high) or math.isnan(value):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")


def _check_fill(name: str, value: float) -> None:
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


# --------------------------------------------------------------------------- Poisson


def erlang_b(servers: int, load: float) -> float:
    """Erlang loss probability B(c, a) by the stable recursion B(k) = a B(k-1) / (k + a B(k-1)).

    With lost sales, a base-stock level S and Poisson unit demand, the units on order form an
    M/G/S/S loss system (each of the S units is a "server" busy for one lead time), so the
    fraction of demand lost is B(S, mean lead-time demand), whatever the lead-time
    distribution (Palm's theorem).
    """
    _check("load", load)
    if servers < 0:
        raise ValueError(f"servers must be >= 0, got {servers}")
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def poisson_fill_rate(S: int, mean: float, *, lost_sales: bool = False) -> float:
    """Type-2 fill rate of a continuous-review base-stock level ``S`` under Poisson demand.

    Backorders (Zipkin ch. 6; Axsaeter ch. 5): demand arrives one unit at a time and, by PASTA,
    finds the net inventory S - D where D ~ Poisson(mean) is the lead-time demand; it is
    filled when S - D >= 1, so fill rate = P(D <= S - 1).

    Lost sales (``lost_sales=True``): 1 - erlang_b(S, mean), see :func:`erlang_b`.

    A level of 0 fills nothing; with no demand (mean 0) every (absent) demand counts as filled.
    """
    _check("mean", mean)
    if mean == 0:
        return 1.0
    if S <= 0:
        return 0.0
    if lost_sales:
        return 1.0 - erlang_b(int(S), mean)
    from scipy.special import pdtr  # Poisson CDF; imported lazily (scipy is slow to import)

    return float(pdtr(int(S) - 1, mean))


def poisson_expected_backorders(S: int, mean: float) -> float:
    """E[(D - S)^+] for D ~ Poisson(mean): mean * P(D >= S) - S * P(D >= S + 1).

    The Poisson first-order loss function (Zipkin ch. 6): the expected number of backorders
    of a base-stock level S whose lead-time demand is Poisson.
    """
    _check("mean", mean)
    if S <= 0:
        return mean - S
    from scipy.special import pdtrc  # P(D > k)

    return float(mean * pdtrc(int(S) - 1, mean) - S * pdtrc(int(S), mean))


def poisson_base_stock_level(
    target_fill_rate: float, mean: float, *, lost_sales: bool = False
) -> int:
    """The smallest base-stock level S whose :func:`poisson_fill_rate` reaches the target."""
    _check_fill("target_fill_rate", target_fill_rate)
    _check("mean", mean)
    if mean == 0:
        return 0
    if lost_sales:  # 1 - B(S) increases in S; walk the Erlang recursion once
        b, s = 1.0, 0
        while 1.0 - b < target_fill_rate:
            s += 1
            b = mean * b / (s + mean * b)
        return s
    lo, hi = 0, max(1, math.ceil(mean))
    while poisson_fill_rate(hi, mean) < target_fill_rate:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # invariant: fill(lo) < target <= fill(hi)
        mid = (lo + hi) // 2
        if poisson_fill_rate(mid, mean) >= target_fill_rate:
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------- normal


def normal_loss(z: float) -> float:
    """Standard normal first-order loss G(z) = E[(X - z)^+] = phi(z) - z (1 - Phi(z))."""
    return _N.pdf(z) - z * (1.0 - _N.cdf(z))


def inverse_normal_loss(g: float) -> float:
    """The z with G(z) = g (G decreases strictly from +inf to 0); bisection to 1e-10."""
    if not g > 0 or math.isinf(g):
        raise ValueError(f"the normal loss takes values in (0, inf), got {g!r}")
    lo, hi = -1.0, 1.0
    while normal_loss(lo) < g:
        lo *= 2
    while normal_loss(hi) > g:
        hi *= 2
    while hi - lo > 1e-10:
        mid = 0.5 * (lo + hi)
        if normal_loss(mid) > g:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def safety_factor(service_level: float) -> float:
    """z = Phi^-1(cycle service level): the probability of no stock-out in a cycle."""
    _check_fill("service_level", service_level)
    return _N.inv_cdf(service_level)


def lead_time_demand(
    mean_daily: float, sd_daily: float, lead_time_days: float, lead_time_sd_days: float = 0.0
) -> tuple[float, float]:
    """Mean and sd of demand over a random lead time L (days), daily demand i.i.d.

    mean = mu_d E[L]; var = E[L] sigma_d^2 + mu_d^2 Var[L]  (Silver, Pyke & Thomas ch. 6;
    Axsaeter ch. 5).
    """
    for name, v in (
        ("mean_daily", mean_daily),
        ("sd_daily", sd_daily),
        ("lead_time_days", lead_time_days),
        ("lead_time_sd_days", lead_time_sd_days),
    ):
        _check(name, v)
    mean = mean_daily * lead_time_days
    var = lead_time_days * sd_daily**2 + mean_daily**2 * lead_time_sd_days**2
    return mean, math.sqrt(var)


def safety_stock(
    service_level: float,
    mean_daily: float,
    sd_daily: float,
    lead_time_days: float,
    lead_time_sd_days: float = 0.0,
    review_days: float = 0.0,
) -> float:
    """z * sqrt((L + R) sigma_d^2 + mu_d^2 sigma_L^2) for a cycle service level.

    Protects the interval lead time plus review period (R = 0 for continuous review) against
    both demand and lead-time variability (Silver, Pyke & Thomas ch. 6). It is the familiar
    z sigma sqrt(L) when the lead time is fixed and the review continuous.
    """
    _check("review_days", review_days)
    _, sd = lead_time_demand(mean_daily, sd_daily, lead_time_days + review_days, lead_time_sd_days)
    return safety_factor(service_level) * sd


def normal_reorder_point(mean: float, sd: float, order_quantity: float, fill_rate: float) -> float:
    """Reorder point r of a continuous-review (r, Q) policy for a target fill rate.

    With lead-time demand ~ N(mean, sd^2) the expected shortage per replenishment cycle is
    sd [G(k) - G(k + Q/sd)] (Axsaeter ch. 5); setting it to (1 - fill_rate) Q and solving for
    the safety factor k gives r = mean + k sd. Without variability (sd = 0) r = mean.
    """
    _check("mean", mean)
    _check("sd", sd)
    _check_fill("fill_rate", fill_rate)
    if not order_quantity > 0:
        raise ValueError(f"order_quantity must be > 0, got {order_quantity!r}")
    if sd == 0:
        return mean
    target = (1.0 - fill_rate) * order_quantity / sd
    q = order_quantity / sd
    lo, hi = -1.0, 1.0  # shortage(k) = G(k) - G(k + q) decreases strictly in k

    def shortage(k: float) -> float:
        return normal_loss(k) - normal_loss(k + q)

    while shortage(lo) < target:
        lo *= 2
    while shortage(hi) > target:
        hi *= 2
    while hi - lo > 1e-10:
        mid = 0.5 * (lo + hi)
        if shortage(mid) > target:
            lo = mid
        else:
            hi = mid
    return mean + 0.5 * (lo + hi) * sd


def normal_order_up_to(mean: float, sd: float, demand_per_review: float, fill_rate: float) -> float:
    """Order-up-to level S of a periodic-review (R, S) policy for a target fill rate.

    ``mean`` and ``sd`` describe demand over the protection interval R + L, normal; the
    expected shortage per review cycle sd G(k) is set to (1 - fill_rate) times the demand of
    one review period and solved for k: S = mean + k sd (Silver, Pyke & Thomas ch. 6; the
    usual approximation that ignores shortage carried over from the previous cycle).
    """
    _check("mean", mean)
    _check("sd", sd)
    _check_fill("fill_rate", fill_rate)
    if not demand_per_review > 0:
        raise ValueError(f"demand_per_review must be > 0, got {demand_per_review!r}")
    if sd == 0:
        return mean
    return mean + inverse_normal_loss((1.0 - fill_rate) * demand_per_review / sd) * sd


# --------------------------------------------------------------------------- forecasting


def exponential_smoothing(
    history: Sequence[float], alpha: float, initial: float | None = None
) -> tuple[float, float | None]:
    """Simple exponential smoothing: the level forecast and the RMSE of one-step forecasts.

    f_t = alpha x_t + (1 - alpha) f_{t-1}, started at ``initial`` or else at the first
    observation (which then makes no forecast error). The second value is
    sqrt(mean of (x_t - f_{t-1})^2) over the errors made, None with fewer than two errors.
    For an empty history the forecast is ``initial`` (0 when None).
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    values = list(history)
    if initial is None:
        if not values:
            return 0.0, None
        level, values = float(values[0]), values[1:]
    else:
        level = float(initial)
    squared = 0.0
    for x in values:
        squared += (x - level) ** 2
        level += alpha * (x - level)
    rmse = math.sqrt(squared / len(values)) if len(values) >= 2 else None
    return level, rmse
