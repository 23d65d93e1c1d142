"""The demand curve fitted to hourly order counts: baseline, hour-of-day and day-of-week
profiles, a trend, and the past peaks that stand out of them.

Model (the scenario's, plus a trend): orders in hour ``t`` from the buyers on clock ``z`` are
Poisson with mean ``B x W[z] x H[local hour(t, z)] x D[local weekday(t, z)] x exp(g x
weeks(t))``, fitted by maximum likelihood (iterative proportional scaling for the factors,
Newton steps for ``g``) on the ordinary hours. A buyer's clock is their city's time zone (the
bundled table; Moscow when the city is unknown), so the hour-of-day and day-of-week profiles
are in the buyers' local time, as the scenario's regions read them; ``W`` is each clock's
share of the orders. A run of hours whose counts the model cannot explain (Poisson tail
probability below 1e-4 and at least 1.5x the expected count) is a peak: it is left out and
the model refitted, three rounds. Each peak is reported with its multiplier, observed /
expected orders.

The day-of-week profile needs two weeks of history and the trend four weeks (and p < 0.01);
with less they stay flat, and the fit says so. The baseline written to the scenario is the
level at the end of the history (with a trend, where it has got to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from scipy import stats

from simulator.calibration.cities import City, locate
from simulator.calibration.history import CalibrationError, History, PostingRecord

MOSCOW = ZoneInfo("Europe/Moscow")  # scenario clocks are Moscow time; the Seller API's UTC
MIN_ORDERS = 30
MIN_HOURS = 24
DOW_MIN_DAYS = 14
TREND_MIN_DAYS = 28
PEAK_P = 1e-4
PEAK_MIN_RATIO = 1.5


@dataclass(frozen=True)
class PastPeak:
    start: datetime  # local (Moscow) time
    hours: int
    multiplier: float
    orders: int


@dataclass
class DemandFit:
    """The fitted curve and the hourly series it was fitted to."""

    baseline_orders_per_hour: float
    hour_of_day: list[float]
    day_of_week: list[float]
    trend_per_week: float  # fractional growth per week (0: none fitted)
    trend_p: float | None  # two-sided p of the trend (None: not enough history to test)
    peaks: list[PastPeak]
    hours: list[datetime]  # local start of each hourly bin
    observed: np.ndarray  # orders per bin
    fitted: np.ndarray  # expected orders per bin, peaks included
    orders: int
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> float:
        return len(self.hours) / 24

    @property
    def correlation(self) -> float:
        """Pearson correlation of observed and fitted hourly counts."""
        if np.std(self.observed) == 0 or np.std(self.fitted) == 0:
            return float("nan")
        return float(np.corrcoef(self.observed, self.fitted)[0, 1])

    @property
    def dispersion(self) -> float:
        """Pearson chi-square / degrees of freedom: about 1 when counts are Poisson around
        the fit, well above 1 when the model misses variation."""
        expected = np.maximum(self.fitted, 1e-9)
        dof = max(1, len(self.observed) - 24 - 7 - 2 - len(self.peaks))
        return float(np.sum((self.observed - expected) ** 2 / expected) / dof)


@dataclass(frozen=True)
class PlacedOrder:
    """An order as the fits read it: when it was placed (the earliest ``in_process_at`` of its
    postings) and where its buyer is, as named on that posting and located in the table."""

    at: datetime
    city: str
    region: str
    place: City | None  # None: neither name is in the table

    @property
    def time_zone(self) -> str:
        """The buyer's clock: their city's, Moscow when the city is not in the table."""
        return self.place.time_zone if self.place else "Europe/Moscow"


def placed_orders(history: History) -> list[PlacedOrder]:
    """Every order of ``history``, its buyer located once."""
    first: dict[str, PostingRecord] = {}
    for posting in history.postings:
        known = first.get(posting.order_number)
        if known is None or posting.in_process_at < known.in_process_at:
            first[posting.order_number] = posting
    return [PlacedOrder(p.in_process_at, p.city, p.region, locate(p.city, p.region))
            for p in first.values()]


def hours_ahead_of_moscow(zone: str, moment: datetime) -> int:
    """How many hours ``zone``'s clock is ahead of Moscow's at ``moment`` (Russia's zones
    are whole hours apart and keep no summer time)."""
    delta = ZoneInfo(zone).utcoffset(moment) - MOSCOW.utcoffset(moment)
    return round(delta.total_seconds() / 3600)


def hourly_counts(history: History, orders: list[PlacedOrder]) -> tuple[
        list[datetime], dict[int, np.ndarray]]:
    """Moscow hour bins covering ``[since, to)`` of ``history`` and, per buyers' clock (hours
    ahead of Moscow), the ``orders`` placed in each."""
    start = history.since.astimezone(MOSCOW).replace(minute=0, second=0, microsecond=0)
    n = int(np.ceil((history.to - start).total_seconds() / 3600))
    hours = [start + timedelta(hours=i) for i in range(n)]
    ahead = {zone: hours_ahead_of_moscow(zone, history.to)
             for zone in {order.time_zone for order in orders}}
    counts = {offset: np.zeros(n) for offset in sorted(set(ahead.values()))}
    for order in orders:
        index = int((order.at - start).total_seconds() // 3600)
        if 0 <= index < n:
            counts[ahead[order.time_zone]][index] += 1
    return hours, counts


@dataclass(frozen=True)
class Bins:
    """The hourly bins of every buyers' clock side by side: clock ``z``'s bins are the Moscow
    hours ``t``, indexed by their local hour and weekday on ``z``."""

    counts: np.ndarray
    hour: np.ndarray
    weekday: np.ndarray
    weeks: np.ndarray
    clock: np.ndarray  # which clock (index into the sorted offsets)
    clocks: int

    @staticmethod
    def of(hours: list[datetime], counts: dict[int, np.ndarray]) -> Bins:
        weeks = (np.arange(len(hours)) - (len(hours) - 1) / 2) / 168
        local = [[h + timedelta(hours=ahead) for h in hours] for ahead in counts]
        return Bins(np.concatenate(list(counts.values())),
                    np.array([h.hour for clock in local for h in clock]),
                    np.array([h.weekday() for clock in local for h in clock]),
                    np.tile(weeks, len(counts)), np.repeat(np.arange(len(counts)), len(hours)),
                    len(counts))

    def pooled(self, values: np.ndarray) -> np.ndarray:
        """Per Moscow hour: the sum over the clocks."""
        return values.reshape(self.clocks, -1).sum(axis=0)


def _fit(bins: Bins, use: np.ndarray, fit_dow: bool, fit_trend: bool) -> tuple[
        float, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(B, W, H, D, g, Fisher information of g) by maximum likelihood on the ``use`` bins
    (W sums to 1, so B is the orders an hour of every clock together)."""
    hour, weekday, weeks, clock = bins.hour, bins.weekday, bins.weeks, bins.clock
    h_f, d_f, w_f, g, info = np.ones(24), np.ones(7), np.ones(bins.clocks), 0.0, 0.0
    c = bins.counts[use]
    for _ in range(60):
        trend = np.exp(g * weeks)
        share = w_f[clock] if bins.clocks > 1 else 1.0
        base = c.sum() / np.sum((h_f[hour] * d_f[weekday] * share * trend)[use])
        for factor, index, other, size, on in (
                (h_f, hour, d_f[weekday] * share, 24, True),
                (d_f, weekday, h_f[hour] * share, 7, fit_dow),
                (w_f, clock, h_f[hour] * d_f[weekday], bins.clocks, bins.clocks > 1)):
            if not on:
                continue
            mu = (base * other * trend)[use]  # the mean without this factor
            seen = np.bincount(index[use], weights=c, minlength=size)
            exposure = np.bincount(index[use], weights=mu, minlength=size)
            factor[:] = np.where(exposure > 0, seen / np.maximum(exposure, 1e-12), 1.0)
            factor /= factor.sum() if factor is w_f else factor.mean()
        if fit_trend:
            share = w_f[clock] if bins.clocks > 1 else 1.0
            mu = (base * h_f[hour] * d_f[weekday] * share * np.exp(g * weeks))[use]
            x = weeks[use]
            info = float(np.sum(x * x * mu))
            g += float(np.sum(x * (c - mu))) / max(info, 1e-12)
    return base, w_f, h_f, d_f, g, info


def _expected(bins: Bins, base: float, w_f: np.ndarray, h_f: np.ndarray, d_f: np.ndarray,
              g: float) -> np.ndarray:
    return base * w_f[bins.clock] * h_f[bins.hour] * d_f[bins.weekday] * np.exp(g * bins.weeks)


def fit_demand(history: History, placed: list[PlacedOrder]) -> DemandFit:
    """Fit the curve to ``history``'s orders (``placed``: :func:`placed_orders`);
    :class:`CalibrationError` when the history is too short or thin."""
    hours, by_clock = hourly_counts(history, placed)
    bins = Bins.of(hours, by_clock)
    counts = bins.pooled(bins.counts)
    orders = int(counts.sum())
    if len(hours) < MIN_HOURS or orders < MIN_ORDERS:
        raise CalibrationError(
            f"demand block: too little data to fit a demand curve ({orders} orders over "
            f"{len(hours)} h; needs at least {MIN_ORDERS} orders over {MIN_HOURS} h)")
    days = len(hours) / 24
    fit_dow, fit_trend = days >= DOW_MIN_DAYS, days >= TREND_MIN_DAYS
    use = np.ones(len(hours), dtype=bool)  # per Moscow hour: a peak is one for every clock
    for _ in range(3):
        base, w_f, h_f, d_f, g, info = _fit(bins, np.tile(use, bins.clocks), fit_dow,
                                            fit_trend)
        expected = bins.pooled(_expected(bins, base, w_f, h_f, d_f, g))
        tail = stats.poisson.sf(counts - 1, np.maximum(expected, 1e-9))
        peak = (tail < PEAK_P) & (counts >= PEAK_MIN_RATIO * expected)
        if np.array_equal(~peak, use):
            break
        use = ~peak
    if counts[use].sum() < MIN_ORDERS:
        raise CalibrationError(
            f"demand block: too little data to fit a demand curve: {counts[use].sum():.0f} "
            f"orders outside the peaks (needs at least {MIN_ORDERS})")
    notes = []
    trend_p = None
    if fit_trend:
        trend_p = float(2 * stats.norm.sf(abs(g) * np.sqrt(max(info, 1e-12))))
        if trend_p >= 0.01:
            notes.append(f"no significant trend (p={trend_p:.2f}): level taken as flat")
            base, w_f, h_f, d_f, g, _ = _fit(bins, np.tile(use, bins.clocks), fit_dow, False)
    else:
        notes.append(f"trend not fitted: {days:.0f} days of history (needs {TREND_MIN_DAYS})")
    if not fit_dow:
        notes.append(f"day-of-week profile flat: {days:.0f} days of history "
                     f"(needs {DOW_MIN_DAYS})")
    if bins.clocks > 1:
        notes.append(f"hour-of-day and day-of-week profiles in the buyers' local time "
                     f"({bins.clocks} clocks)")
    expected = bins.pooled(_expected(bins, base, w_f, h_f, d_f, g))
    peaks = _peak_runs(hours, counts, expected, ~use)
    fitted = expected.copy()
    for run in peaks:
        first = hours.index(run.start)
        fitted[first:first + run.hours] *= run.multiplier
    return DemandFit(
        baseline_orders_per_hour=float(base * np.exp(g * bins.weeks[len(hours) - 1])),
        hour_of_day=h_f.tolist(), day_of_week=d_f.tolist(),
        trend_per_week=float(np.expm1(g)), trend_p=trend_p, peaks=peaks,
        hours=hours, observed=counts, fitted=fitted, orders=orders, notes=notes)


def _peak_runs(hours: list[datetime], counts: np.ndarray, expected: np.ndarray,
               flagged: np.ndarray) -> list[PastPeak]:
    runs: list[PastPeak] = []
    i = 0
    while i < len(hours):
        if not flagged[i]:
            i += 1
            continue
        j = i
        while j < len(hours) and flagged[j]:
            j += 1
        seen, wanted = counts[i:j].sum(), expected[i:j].sum()
        runs.append(PastPeak(hours[i], j - i, float(seen / max(wanted, 1e-9)), int(seen)))
        i = j
    return runs
