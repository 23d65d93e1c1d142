"""Buyer demand: the catalogue's SKU attributes, the order-rate curve and sampled arrivals.

Rate of orders per minute (model minute ``m``, evaluated at the minute's middle)::

    baseline/60 * hour_of_day[h(m)] * day_of_week[d(m)] * prod(active global peaks)
               * sum_g popularity(g) * prod(active promotions of group g)

so a promotion on a SKU group multiplies that group's demand (more orders, and their lines
tilt towards the group) and leaves the others' alone. Arrivals are a non-homogeneous Poisson
process with this piecewise-constant rate: a Poisson count per minute and uniform times within
it (numpy, vectorised). Each order's region is drawn by region weight, its number of lines and
units per line from the catalogue's distributions, and each line's SKU by Zipf popularity
(rank ``r`` has weight ``1 / r**zipf_exponent``; ranks are shuffled over SKUs by
``catalogue.seed``; a listed catalogue, ``catalogue.skus``, ranks SKUs by list position or
gives each its empirical popularity) tilted by the promotions active at the order's minute.
Lines of one order that drew the same SKU are merged into one line.

The forecast (``scenario.forecast_demand()``) is the rate stock and policy levels are planned
on; the demand that happens is the scenario's ``demand``, times a demand shock when it has one:
a factor per (SKU group, region) drawn each replication (:func:`draw_shock`), which multiplies
that group's demand in that region (so regions' shares of the orders and the groups' share of
their lines shift with it). Without a shock the draws are exactly those of no shock at all.

Regions on their own clocks (a ``time_zone`` other than the platform's) or peaks in local
time make the rate a sum over groups of regions with one clock each
(:mod:`simulator.local_demand`), and each order's region depends on its minute.

SKU ``k`` belongs to a group by contiguous blocks of the catalogue in group order (shares);
its price is log-uniform in the group's range, its weight uniform, its unit cost
``price * unit_cost_ratio``; all fixed by ``catalogue.seed``, so they are the same in every
replication.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from simulator.local_demand import ZonedDemand
from simulator.scenario import Catalogue, Clock, Demand, Scenario

DAY_MINUTES = 1440


def clock_origin(clock: Clock) -> tuple[int, int]:
    """(weekday 0=Monday, minute of the day) of model minute 0."""
    start = datetime.fromisoformat(clock.start)
    return start.weekday(), start.hour * 60 + start.minute


def calendar(clock: Clock, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day and weekday of model times ``minutes``."""
    weekday0, minute0 = clock_origin(clock)
    absolute = np.floor(np.asarray(minutes, dtype=float) + minute0).astype(np.int64)
    return (absolute // 60) % 24, (weekday0 + absolute // DAY_MINUTES) % 7


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class SkuTable:
    """SKU attributes (arrays indexed by SKU number)."""

    group: np.ndarray  # group index per SKU
    group_names: tuple[str, ...]
    price: np.ndarray  # RUB
    unit_cost: np.ndarray  # RUB
    weight: np.ndarray  # kg
    popularity: np.ndarray  # probability a line picks this SKU (no promotions)

    @property
    def count(self) -> int:
        return len(self.group)

    def group_mass(self) -> np.ndarray:
        return np.bincount(self.group, weights=self.popularity, minlength=len(self.group_names))

    def skus_of(self, group: int) -> np.ndarray:
        return np.flatnonzero(self.group == group)


def build_skus(catalogue: Catalogue) -> SkuTable:
    """SKU attributes fixed by ``catalogue.seed``."""
    rng = np.random.default_rng(catalogue.seed)
    n = catalogue.sku_count
    shares = np.array([g.share for g in catalogue.groups])
    bounds = np.rint(np.cumsum(shares) * n).astype(int)
    group = np.searchsorted(bounds, np.arange(n), side="right").astype(np.int16)
    group = np.minimum(group, len(shares) - 1)
    lo_p = np.array([g.price_rub[0] for g in catalogue.groups])[group]
    hi_p = np.array([g.price_rub[1] for g in catalogue.groups])[group]
    price = np.exp(rng.uniform(np.log(lo_p), np.log(hi_p)))
    ratio = np.array([g.unit_cost_ratio for g in catalogue.groups])[group]
    lo_w = np.array([g.weight_kg[0] for g in catalogue.groups])[group]
    hi_w = np.array([g.weight_kg[1] for g in catalogue.groups])[group]
    weight = rng.uniform(lo_w, hi_w)
    ranks = rng.permutation(n) + 1
    if catalogue.skus is not None:  # listed SKUs: ranked by position, real prices
        ranks = np.arange(1, n + 1)
        listed = np.array([sku.price_rub or np.nan for sku in catalogue.skus])
        price = np.where(np.isnan(listed), price, listed)
    popularity = 1.0 / ranks.astype(float) ** catalogue.zipf_exponent
    if catalogue.skus is not None and catalogue.skus[0].popularity is not None:
        popularity = np.array([sku.popularity for sku in catalogue.skus], dtype=float)
    popularity /= popularity.sum()
    return SkuTable(group, tuple(g.name for g in catalogue.groups), np.round(price, 2),
                    np.round(price * ratio, 2), np.round(weight, 3), popularity)


# --------------------------------------------------------------------------- rate curve


def draw_shock(scenario: Scenario, rng: np.random.Generator) -> np.ndarray | None:
    """This replication's demand shock: a factor ``[sku group, region]`` (lognormal, mean 1,
    the shock's CV; one value repeated along what ``per`` leaves out), or None without one.

    Drawn as standard normals, so replications with the same seed share them whatever the CV.
    """
    shock = scenario.demand.shock
    if shock is None:
        return None
    n_g, n_r = len(scenario.catalogue.groups), len(scenario.network.regions)
    shape = (n_g if "sku_group" in shock.per else 1, n_r if "region" in shock.per else 1)
    sigma = math.sqrt(math.log1p(shock.cv**2))
    factor = np.exp(sigma * rng.standard_normal(shape) - sigma**2 / 2)
    return np.broadcast_to(factor, (n_g, n_r)).copy()


class DemandCurve:
    """The order rate per minute over the horizon, and what it implies in expectation.

    ``demand`` defaults to the scenario's (the demand that happens; the forecast is
    ``scenario.forecast_demand()``); ``shock`` multiplies it per (SKU group, region).
    """

    def __init__(self, scenario: Scenario, skus: SkuTable, demand: Demand | None = None,
                 shock: np.ndarray | None = None) -> None:
        self.scenario = scenario
        self.skus = skus
        self.shock = shock
        demand = demand or scenario.demand
        self.minutes = math.ceil(scenario.clock.horizon_minutes)
        mid = np.arange(self.minutes) + 0.5
        self.group_mass = skus.group_mass()
        self.zoned = ZonedDemand.build(scenario, demand, self.group_mass, skus.group_names,
                                       shock, mid)
        if self.zoned is not None:
            self.rate = self.zoned.rate  # orders per minute
            return
        hour, weekday = calendar(scenario.clock, mid)
        base = (demand.baseline_orders_per_hour / 60 * np.asarray(demand.hour_of_day)[hour]
                * np.asarray(demand.day_of_week)[weekday])
        n_groups = len(skus.group_names)
        group_index = {name: i for i, name in enumerate(skus.group_names)}
        promo = np.ones((self.minutes, n_groups))
        for peak in demand.peaks:
            active = (mid >= peak.start_minute) & (mid < peak.end_minute)
            if peak.sku_groups is None:
                base[active] *= peak.multiplier
            else:
                for name in peak.sku_groups:
                    promo[active, group_index[name]] *= peak.multiplier
        # distinct promotion states (rows of group multipliers) and the state of each minute
        self.states, self.state_of_minute = np.unique(promo, axis=0, return_inverse=True)
        self.state_of_minute = self.state_of_minute.reshape(-1)
        if shock is None:
            self.rate = base * (promo @ self.group_mass)  # orders per minute
        else:
            weights = np.array([r.weight for r in scenario.network.regions])
            self.region_weight = weights / weights.sum()
            self.rate = base * (promo @ (self.group_mass[:, None] * shock) @ self.region_weight)

    def expected_orders(self, edges_minutes: np.ndarray) -> np.ndarray:
        """Expected orders in each bin ``[edges[i], edges[i+1])`` (zero after the horizon)."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.rate)])
        grid = np.arange(self.minutes + 1, dtype=float)
        at = np.interp(np.asarray(edges_minutes, dtype=float), grid, cumulative)
        return np.diff(at)

    def mean_units_per_order(self) -> float:
        cat = self.scenario.catalogue
        return cat.lines_per_order.mean * cat.units_per_line.mean

    def sku_daily_units(self) -> np.ndarray:
        """Mean units per day of each SKU at the forecast's baseline (no peaks, no
        promotions): what stock and policy levels are planned on."""
        daily_orders = self.scenario.forecast_demand().baseline_orders_per_hour * 24
        return daily_orders * self.mean_units_per_order() * self.skus.popularity


# --------------------------------------------------------------------------- arrivals


@dataclass
class Arrivals:
    """Orders of one run, in arrival order.

    The lines of order ``i`` are ``line_start[i]:line_start[i + 1]`` of ``sku`` and ``qty``.
    """

    time: np.ndarray  # minutes, sorted
    region: np.ndarray  # region index
    line_start: np.ndarray  # len n + 1
    sku: np.ndarray
    qty: np.ndarray
    cancel_at: np.ndarray  # minutes; inf = never cancelled

    @property
    def count(self) -> int:
        return len(self.time)


def _sample_skus(skus: SkuTable, states: np.ndarray, state: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """SKU of each line given its state: Zipf popularity tilted by the group multipliers
    ``states[state[line]]`` (promotions, and the shock of the order's region)."""
    out = np.empty(len(state), dtype=np.int32)
    u = rng.random(len(state))
    global_cdf = np.cumsum(skus.popularity)
    group_mass = skus.group_mass()
    group_skus = [skus.skus_of(g) for g in range(len(skus.group_names))]
    group_cdf = [np.cumsum(skus.popularity[s]) for s in group_skus]
    for k, multipliers in enumerate(states):
        rows = np.flatnonzero(state == k) if len(states) > 1 else slice(None)
        uk = u[rows]
        if np.all(multipliers == 1):
            idx = np.searchsorted(global_cdf, uk * global_cdf[-1], side="right")
            out[rows] = np.minimum(idx, skus.count - 1)
            continue
        weights = group_mass * multipliers
        cdf = np.cumsum(weights) / weights.sum()
        group = np.minimum(np.searchsorted(cdf, uk, side="right"), len(cdf) - 1)
        rows = np.arange(len(state))[rows]
        v = rng.random(len(rows))
        for g, members in enumerate(group_skus):
            sel = group == g
            if members.size == 0 or not sel.any():
                continue
            c = group_cdf[g]
            idx = np.minimum(np.searchsorted(c, v[sel] * c[-1], side="right"), members.size - 1)
            out[rows[sel]] = members[idx]
    return out


def _shocked_regions(curve: DemandCurve, minute: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regions of orders under a shock, and the group multipliers of each order's (promotion
    state, region): a region's share of a minute's orders is its weight times its shocked
    demand at that minute's promotions."""
    n_regions = curve.region_weight.size
    # per (promotion state, region): the groups' multipliers, and the region's demand share
    n_groups = curve.shock.shape[0]
    states = (curve.states[:, None, :] * curve.shock.T[None, :, :]).reshape(-1, n_groups)
    share = (states @ curve.group_mass).reshape(-1, n_regions) * curve.region_weight
    cdf = np.cumsum(share, axis=1) / share.sum(axis=1, keepdims=True)
    promo_state = curve.state_of_minute[minute]
    u = rng.random(minute.size)
    region = np.empty(minute.size, dtype=np.int16)
    for k in range(len(curve.states)):
        rows = np.flatnonzero(promo_state == k)
        region[rows] = np.minimum(np.searchsorted(cdf[k], u[rows], side="right"),
                                  n_regions - 1)
    return region, states, promo_state * n_regions + region


#: The generators :func:`sample_arrivals` draws from (and no one else does).
ARRIVAL_STREAMS = ("arrivals", "regions", "baskets", "skus", "cancels")
_shared: OrderedDict[tuple, tuple[Arrivals, list[dict]]] | None = None  # see shared_demand()
_shared_size = 2


@contextmanager
def shared_demand(size: int = 2) -> Iterator[None]:
    """Within this block the process keeps the last ``size`` demand streams it sampled: a
    run of another variant under the same seed (and the same demand: the scenario but its
    policies and stock) gets a copy of the same orders instead of sampling them again, and
    its generators are left where sampling would have left them, so the run is the same."""
    global _shared, _shared_size
    outer, _shared = (_shared, _shared_size), OrderedDict()
    _shared_size = size
    try:
        yield
    finally:
        _shared, _shared_size = outer


def _demand_key(scenario: Scenario, curve: DemandCurve,
                streams: dict[str, np.random.Generator]) -> tuple:
    world = scenario.model_dump_json(exclude={"policies", "stock", "name", "description"})
    digest = hashlib.blake2b(world.encode(), digest_size=16)
    digest.update(np.ascontiguousarray(curve.rate).tobytes())
    seeds = []
    for name in ARRIVAL_STREAMS:
        seq = streams[name].bit_generator.seed_seq
        seeds.append((repr(getattr(seq, "entropy", None)), getattr(seq, "spawn_key", None),
                      repr(streams[name].bit_generator.state)))
    return digest.hexdigest(), tuple(seeds)


def sample_arrivals(
    scenario: Scenario, curve: DemandCurve, streams: dict[str, np.random.Generator]
) -> Arrivals:
    """All orders of the horizon, vectorised. ``streams`` has generators named
    ``arrivals``, ``regions``, ``baskets``, ``skus`` and ``cancels``.

    Inside :func:`shared_demand` the same demand and generator states give a copy of the
    orders sampled before (the generators end in the same states)."""
    if _shared is None:
        return _sample_arrivals(scenario, curve, streams)
    key = _demand_key(scenario, curve, streams)
    if key in _shared:
        arrivals, states = _shared[key]
        _shared.move_to_end(key)
        for name, state in zip(ARRIVAL_STREAMS, states, strict=True):
            streams[name].bit_generator.state = state
        return _copy(arrivals)
    arrivals = _sample_arrivals(scenario, curve, streams)
    _shared[key] = (arrivals, [streams[n].bit_generator.state for n in ARRIVAL_STREAMS])
    while len(_shared) > _shared_size:
        _shared.popitem(last=False)
    return _copy(arrivals)


def _copy(arrivals: Arrivals) -> Arrivals:
    return replace(arrivals, **{f: getattr(arrivals, f).copy() for f in (
        "time", "region", "line_start", "sku", "qty", "cancel_at")})


def _sample_arrivals(
    scenario: Scenario, curve: DemandCurve, streams: dict[str, np.random.Generator]
) -> Arrivals:
    demand, cat = scenario.demand, scenario.catalogue
    counts = streams["arrivals"].poisson(curve.rate)
    minute = np.repeat(np.arange(curve.minutes), counts)
    time = minute + streams["arrivals"].random(minute.size)
    order = np.argsort(time, kind="stable")
    time, minute = time[order], minute[order]
    keep = time < scenario.clock.horizon_minutes
    time, minute = time[keep], minute[keep]
    n = time.size

    if curve.zoned is not None:
        region, states, order_state = curve.zoned.draw_regions(minute, streams["regions"])
    elif curve.shock is None:
        weights = np.array([r.weight for r in scenario.network.regions])
        cdf = np.cumsum(weights) / weights.sum()
        region = np.minimum(np.searchsorted(cdf, streams["regions"].random(n), side="right"),
                            len(weights) - 1).astype(np.int16)
        states, order_state = curve.states, curve.state_of_minute[minute]
    else:
        region, states, order_state = _shocked_regions(curve, minute, streams["regions"])

    baskets = streams["baskets"]
    n_lines = np.maximum(np.rint(cat.lines_per_order.sample(baskets, n)), 1).astype(np.int64)
    line_order = np.repeat(np.arange(n, dtype=np.int64), n_lines)
    qty = np.maximum(np.rint(cat.units_per_line.sample(baskets, line_order.size)), 1)
    sku = _sample_skus(curve.skus, states, order_state[line_order], streams["skus"])

    # merge lines of one order that drew the same SKU
    key = line_order * cat.sku_count + sku
    unique, inverse = np.unique(key, return_inverse=True)
    qty = np.bincount(inverse.reshape(-1), weights=qty, minlength=unique.size)
    line_order, sku = unique // cat.sku_count, unique % cat.sku_count
    line_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(line_order, minlength=n), out=line_start[1:])

    cancels = streams["cancels"]
    cancel_at = np.full(n, np.inf)
    chosen = np.flatnonzero(cancels.random(n) < demand.cancel_probability)
    cancel_at[chosen] = time[chosen] + demand.cancel_delay_hours.sample(cancels, chosen.size) * 60
    return Arrivals(time, region, line_start, sku.astype(np.int32), qty.astype(np.int32), cancel_at)
