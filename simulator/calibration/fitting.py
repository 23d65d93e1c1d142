"""Fits of everything but the demand curve: SKU popularity, baskets, cancellations and
returns, buyer regions and warehouse handling times. Each fit keeps the observations it was
made from, for the report, and raises :class:`CalibrationError` naming its block when the
history holds too little to fit it.

* Popularity: a finite Zipf law over the catalogue's ranks by maximum likelihood; it is used
  when a parametric bootstrap (200 histories drawn as the model draws them, same baskets,
  refitted) does not reject it at 5 % on the Kolmogorov-Smirnov distance, else the empirical
  shares are written per SKU.
* Baskets: shifted Poisson (``1 + Poisson(mean - 1)``; the sample mean is the MLE), checked
  by a chi-square test on the count frequencies.
* Cancellations: the share of orders whose postings were all cancelled (Wilson interval);
  with cancellation times, the probability and the gamma delay jointly by maximum likelihood
  allowing for the cancellations refused because the order was already handed over (the
  simulator refuses them too, so its ``cancel_probability`` is the buyers' intent).
  Returns: the probability and the gamma delay from delivery (from hand-over when the
  history has no delivery times) to the return, jointly by maximum likelihood allowing for
  the returns not yet made when they were read (postings delivered at the end of the period
  had less time to come back; one not yet delivered none).
* Handling: hours from ``in_process_at`` to ``delivering_date`` per warehouse, lognormal.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from simulator.calibration.cities import City
from simulator.calibration.demand_fit import DemandFit, PlacedOrder, fit_demand, placed_orders
from simulator.calibration.history import CalibrationError, History

MIN_LINES = 30
MIN_ORDERS = 30
MIN_HANDED_OVER = 30
MIN_DELAYS = 10
BOOTSTRAP = 200


def _too_little(block: str, what: str, have: int, need: int) -> CalibrationError:
    return CalibrationError(
        f"{block} block: too little data to fit it ({have} {what}; needs at least {need})")


# --------------------------------------------------------------------------- catalogue


@dataclass
class CatalogueFit:
    sku_ids: list[int]  # by observed popularity, most ordered first
    lines: np.ndarray  # order lines per SKU, same order
    prices: list[float | None]  # mean unit price per SKU (None: never sold, no list price)
    zipf_exponent: float
    ks_distance: float
    bootstrap_p: float

    @property
    def zipf_fits(self) -> bool:
        return self.bootstrap_p >= 0.05

    def zipf_pmf(self) -> np.ndarray:
        return _zipf_pmf(self.zipf_exponent, len(self.sku_ids))


def _zipf_pmf(s: float, n: int) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=float) ** -s
    return weights / weights.sum()


def _zipf_mle(counts: np.ndarray) -> float:
    """The exponent maximising the likelihood of counts by rank (rank 1 first)."""
    log_rank = np.log(np.arange(1, counts.size + 1))

    def nll(s: float) -> float:
        return float(counts @ (s * log_rank) + counts.sum() * np.log(np.exp(-s * log_rank).sum()))

    return float(optimize.minimize_scalar(nll, bounds=(0.0, 6.0), method="bounded").x)


def _ks(counts: np.ndarray, pmf: np.ndarray) -> float:
    return float(np.max(np.abs(np.cumsum(counts) / counts.sum() - np.cumsum(pmf))))


def _bootstrap_ks(s: float, basket_sizes: np.ndarray, n_skus: int, rng: np.random.Generator,
                  ) -> float:
    """KS distance of one history drawn from the fitted law the way the model draws it:
    each order's lines by popularity, a SKU drawn twice in an order merged into one line."""
    order = np.repeat(np.arange(basket_sizes.size), basket_sizes)
    ranks = rng.choice(n_skus, size=order.size, p=_zipf_pmf(s, n_skus))
    merged = np.unique(order * n_skus + ranks) % n_skus
    sample = np.sort(np.bincount(merged, minlength=n_skus))[::-1].astype(float)
    return _ks(sample, _zipf_pmf(_zipf_mle(sample), n_skus))


def fit_catalogue(history: History, seed: int = 0) -> CatalogueFit:
    lines: Counter[int] = Counter()
    paid: defaultdict[int, list[float]] = defaultdict(list)
    baskets: defaultdict[str, set[int]] = defaultdict(set)
    for posting in history.postings:
        for line in posting.lines:
            lines[line.sku] += 1
            baskets[posting.order_number].add(line.sku)
            if line.price > 0:
                paid[line.sku].append(line.price)
    total = sum(lines.values())
    if total < MIN_LINES:
        raise _too_little("catalogue", "order lines", total, MIN_LINES)
    listed = {p.sku: p.price for p in history.products}
    skus = sorted(set(lines) | set(listed), key=lambda sku: (-lines[sku], sku))
    counts = np.array([lines[sku] for sku in skus], dtype=float)
    s = _zipf_mle(counts)
    distance = _ks(counts, _zipf_pmf(s, counts.size))
    rng = np.random.default_rng(seed)
    sizes = np.array([len(b) for b in baskets.values()])
    boot = np.array([_bootstrap_ks(s, sizes, counts.size, rng) for _ in range(BOOTSTRAP)])
    prices = [float(np.mean(paid[sku])) if paid[sku] else listed.get(sku) for sku in skus]
    return CatalogueFit(skus, counts, prices, s, distance, float(np.mean(boot >= distance)))


# --------------------------------------------------------------------------- baskets


@dataclass
class CountFit:
    """A shifted Poisson fitted to counts >= 1, with a chi-square check."""

    values: np.ndarray
    mean: float
    max: int
    chi2_p: float  # nan: too few distinct counts to test

    def pmf(self, k: np.ndarray) -> np.ndarray:
        return stats.poisson.pmf(np.asarray(k) - 1, self.mean - 1)


def fit_counts(values: list[int]) -> CountFit:
    data = np.asarray(values, dtype=int)
    mean = max(1.0, float(data.mean()))
    top = int(data.max())
    fit = CountFit(data, mean, max(top, 1), float("nan"))
    # bins 1..k with the tail pooled so that every expected count is at least 5
    n = data.size
    k = 1
    while k < top and n * (1 - stats.poisson.cdf(k - 1, mean - 1)) >= 5:
        k += 1
    if k >= 3 and mean > 1:
        observed = np.array([np.sum(data == j) for j in range(1, k)] + [np.sum(data >= k)])
        expected = n * np.append(fit.pmf(np.arange(1, k)), stats.poisson.sf(k - 2, mean - 1))
        fit.chi2_p = float(stats.chisquare(observed, expected * observed.sum() / expected.sum(),
                                           ddof=1).pvalue)
    return fit


@dataclass
class BasketFit:
    lines_per_order: CountFit
    units_per_line: CountFit


def fit_baskets(history: History) -> BasketFit:
    orders: defaultdict[str, Counter[int]] = defaultdict(Counter)
    for posting in history.postings:
        for line in posting.lines:
            orders[posting.order_number][line.sku] += line.quantity
    if len(orders) < MIN_ORDERS:
        raise _too_little("catalogue.lines_per_order", "orders", len(orders), MIN_ORDERS)
    return BasketFit(
        fit_counts([len(lines) for lines in orders.values()]),
        fit_counts([units for lines in orders.values() for units in lines.values()]))


# --------------------------------------------------------------------------- outcomes


@dataclass
class Share:
    hits: int
    of: int

    @property
    def value(self) -> float:
        return self.hits / self.of

    def interval(self) -> tuple[float, float]:
        ci = stats.binomtest(self.hits, self.of).proportion_ci(method="wilson")
        return float(ci.low), float(ci.high)


@dataclass
class DelayFit:
    """Gamma fitted to delays in hours (None when fewer than ``MIN_DELAYS``)."""

    hours: np.ndarray
    mean: float | None = None
    sd: float | None = None
    ks_distance: float | None = None


def fit_delay(hours: list[float]) -> DelayFit:
    data = np.asarray([h for h in hours if h > 0], dtype=float)
    if data.size < MIN_DELAYS:
        return DelayFit(data)
    shape, _, scale = stats.gamma.fit(data, floc=0)
    mean, sd = shape * scale, np.sqrt(shape) * scale
    distance = stats.kstest(data, "gamma", args=(shape, 0, scale)).statistic
    return DelayFit(data, float(mean), float(sd), float(distance))


@dataclass
class OutcomeFit:
    """``returned`` is the fitted probability as returns of an effective number of postings
    (``handed_over`` counts them all)."""

    cancelled: Share
    cancel_delay: DelayFit
    returned: Share
    return_delay: DelayFit
    handed_over: int
    return_clock: str = "handed over"  # when the return delay starts: "delivered" if known


def fit_outcomes(history: History) -> OutcomeFit:
    by_order: defaultdict[str, list] = defaultdict(list)
    for posting in history.postings:
        by_order[posting.order_number].append(posting)
    if len(by_order) < MIN_ORDERS:
        raise _too_little("demand.cancel_probability", "orders", len(by_order), MIN_ORDERS)
    until = history.returns_until or history.to
    cancelled = [ps for ps in by_order.values() if all(p.cancelled for p in ps)]
    cancel_hours = [(p.cancelled_at - p.in_process_at).total_seconds() / 3600
                    for ps in cancelled for p in ps[:1] if p.cancelled_at]
    cancel_delay = fit_delay(cancel_hours)
    cancels = Share(len(cancelled), len(by_order))
    if cancel_delay.mean is not None:  # a cancellation after hand-over is refused
        windows = np.array([
            (min([p.delivering_date for p in ps if p.delivering_date] or [until])
             - min(p.in_process_at for p in ps)).total_seconds() / 3600
            for ps in by_order.values() if not all(p.cancelled for p in ps)])
        p, cancel_delay = _cure_mle(cancel_delay, np.maximum(windows, 0), len(by_order))
        cancels = Share(len(cancelled), max(len(cancelled), round(len(cancelled) / p)))
    handed = {p.posting_number: p for p in history.postings
              if p.delivering_date is not None and not p.cancelled}
    if len(handed) < MIN_HANDED_OVER:
        raise _too_little("demand.return_probability", "postings handed over", len(handed),
                          MIN_HANDED_OVER)
    returns = {r.posting_number: r for r in history.returns
               if r.kind != "Cancellation" and r.posting_number in handed}
    # the clock starts at delivery when the history has delivery times, else at hand-over
    from_delivery = any(p.delivered_at for p in handed.values())
    start = {n: p.delivered_at if from_delivery else p.delivering_date
             for n, p in handed.items()}
    return_hours = [(r.returned_at - start[n]).total_seconds() / 3600
                    for n, r in returns.items() if r.returned_at and start[n]]
    delay = fit_delay(return_hours)
    returned = Share(len(returns), len(handed))
    if delay.mean is not None:  # a posting delivered late had less time to come back
        waited = np.array([(until - start[n]).total_seconds() / 3600 if start[n] else 0.0
                           for n in handed if n not in returns])
        p, delay = _cure_mle(delay, np.maximum(waited, 0), len(handed))
        returned = Share(len(returns), max(len(returns), round(len(returns) / p)))
    return OutcomeFit(cancels, cancel_delay, returned, delay, len(handed),
                      "delivered" if from_delivery else "handed over")


def _cure_mle(delay: DelayFit, waited: np.ndarray, handed: int) -> tuple[float, DelayFit]:
    """Probability and gamma delay of an event (a return, a cancellation) by maximum
    likelihood, allowing for events not seen: one seen after ``d`` hours contributes
    ``p f(d)``, a case without it after ``w`` hours (waited so far, or until the event could
    no longer happen) ``1 - p F(w)`` (a cure model with censoring)."""
    d = delay.hours
    shape0, scale0 = (delay.mean / delay.sd) ** 2, delay.sd**2 / delay.mean

    def nll(theta: np.ndarray) -> float:
        p, shape, scale = special.expit(theta[0]), np.exp(theta[1]), np.exp(theta[2])
        return -(d.size * np.log(p) + stats.gamma.logpdf(d, shape, scale=scale).sum()
                 + np.log1p(-p * stats.gamma.cdf(waited, shape, scale=scale)).sum())

    start = [special.logit(min(0.99, d.size / handed)), np.log(shape0), np.log(scale0)]
    theta = optimize.minimize(nll, start, method="Nelder-Mead",
                              options={"xatol": 1e-5, "fatol": 1e-6, "maxiter": 4000}).x
    p, shape, scale = special.expit(theta[0]), np.exp(theta[1]), np.exp(theta[2])
    distance = stats.kstest(d, "gamma", args=(shape, 0, scale)).statistic
    return float(p), DelayFit(d, float(shape * scale), float(np.sqrt(shape) * scale),
                              float(distance))


# --------------------------------------------------------------------------- regions


@dataclass
class RegionFit:
    weights: dict[City, float]  # share of orders from each known city
    unknown: dict[str, float]  # unmatched names and their share of orders
    orders: int


def fit_regions(orders: list[PlacedOrder]) -> RegionFit:
    known: Counter[City] = Counter()
    unknown: Counter[str] = Counter()
    for order in orders:
        if order.place:
            known[order.place] += 1
        else:
            named = dict.fromkeys(filter(None, (order.city, order.region)))
            unknown[" / ".join(named) or "(blank)"] += 1
    n = len(orders)
    if not known:
        names = ", ".join(sorted(unknown)[:10])
        raise CalibrationError(
            f"network.regions block: none of the buyers' cities is in the bundled table of "
            f"Russian cities (seen: {names})")
    return RegionFit({c: k / n for c, k in known.most_common()},
                     {name: k / n for name, k in unknown.most_common()}, n)


# --------------------------------------------------------------------------- handling


@dataclass
class HandlingFit:
    """Hours from taken into processing to handed over at one warehouse, lognormal."""

    warehouse_id: int
    hours: np.ndarray
    median_hours: float
    mean: float
    sd: float
    ks_distance: float
    busiest_hour_units: int


def fit_handling(history: History) -> dict[int, HandlingFit]:
    hours: defaultdict[int, list[float]] = defaultdict(list)
    units: defaultdict[tuple[int, object], int] = defaultdict(int)
    for p in history.postings:
        if p.warehouse_id is None:
            continue
        hour = p.in_process_at.replace(minute=0, second=0, microsecond=0)
        units[p.warehouse_id, hour] += sum(line.quantity for line in p.lines)
        if p.delivering_date is not None:
            hours[p.warehouse_id].append(
                max((p.delivering_date - p.in_process_at).total_seconds() / 3600, 1e-3))
    busiest: defaultdict[int, int] = defaultdict(int)
    for (warehouse, _), count in units.items():
        busiest[warehouse] = max(busiest[warehouse], count)
    fits = {}
    for warehouse, values in hours.items():
        if len(values) < MIN_DELAYS:
            continue
        data = np.asarray(values)
        shape, _, scale = stats.lognorm.fit(data, floc=0)
        dist = stats.lognorm(shape, 0, scale)
        fits[warehouse] = HandlingFit(
            warehouse, data, float(np.median(data)), float(dist.mean()), float(dist.std()),
            float(stats.kstest(data, dist.cdf).statistic), busiest[warehouse])
    if not fits:
        have = max((len(v) for v in hours.values()), default=0)
        raise _too_little("network.warehouses (handling times)",
                          "handed-over postings at the best-covered warehouse", have, MIN_DELAYS)
    return fits


@dataclass
class Calibration:
    """Every fitted block of one history, and the uplift asked for the coming peak."""

    history: History
    demand: DemandFit
    catalogue: CatalogueFit
    baskets: BasketFit
    outcomes: OutcomeFit
    regions: RegionFit
    handling: dict[int, HandlingFit]
    uplift: float = 1.0


def calibrate(history: History, *, uplift: float = 1.0) -> Calibration:
    """Fit every block (:class:`CalibrationError` names the first that cannot be fitted)."""
    orders = placed_orders(history)
    return Calibration(history, fit_demand(history, orders), fit_catalogue(history),
                       fit_baskets(history), fit_outcomes(history), fit_regions(orders),
                       fit_handling(history), uplift)
