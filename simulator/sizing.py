"""How big a run of a scenario will be, before it runs: orders, events, memory and CPU time.

Orders are the demand curve integrated over the horizon (exact in expectation); lines follow
from the basket distribution. Scheduled events count the waves of every warehouse, sorting
centre and hub, the truck departures and the replenishment reviews over the run; SimPy's own
count is of the same order (arrivals of parcels add some). Memory is a linear model fitted
to measured peak resident memory of runs (orders, order lines, (SKU, warehouse) pairs,
per-minute capacity curves, result series) and rounded up: it errs on the side of too much,
by up to about half for large runs. With a demand shock, orders are sized at the shock's
99th percentile. CPU time is a linear model of orders, lines and scheduled events, measured
on this project's machines (below). An experiment (``compare``, ``plan-stock``) is a
:class:`Workload`: its replications, so many at once on ``--jobs`` processes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from simulator.demand import build_skus, calendar
from simulator.distributions import Constant, ShiftedPoisson
from simulator.local_demand import region_offsets
from simulator.network import HUB_WAVE_MINUTES
from simulator.policies.base import replenishment_policies
from simulator.scenario import Scenario

# bytes, fitted on smoke (x1 .. x300 demand, 20,000 .. 1M SKUs, 4,000 h, 1-minute series),
# peak_day and peak_season; the fixed part lowered on 2026-12-07 once supplier deliveries of a
# minute shared one event (smoke at 3,000 orders/h: 24-26 MB measured, 71 MB estimated)
FIXED_BYTES = 26 * 2**20
BYTES_PER_ORDER = 200
BYTES_PER_LINE = 160
BYTES_PER_PAIR = 800  # one (SKU, warehouse): stock ledger, demand history, levels
BYTES_PER_NODE_MINUTE = 70  # capacity curves of each working node
BYTES_PER_NODE_BIN = 40  # result series of each working node, per resolution bin
BYTES_PER_GROUP_MINUTE = 24  # the demand curve's promotion table and its copies
BYTES_PER_ROUTE = 400  # one (warehouse, region): route tables and the policies' view

# CPU seconds of one replication (``time.process_time`` of building and running the model),
# fitted on the project's shared 2-core machine on 2026-12-07 (CPU time, steadier than wall
# time there): smoke 1,803 orders 0.54 s; smoke at 3,000 orders/h 91,652 orders 1.00 s and
# over 400 h 1,209,349 orders 27.9 s; peak_day 301,896 orders / 9,603 events 9.5 s;
# peak_season 273,980 orders / 33,633 events over 552 h 21.4 s. Per order (its ~1.6 lines
# included) about 20 us (more in long runs, whose in-flight state grows); a scheduled event
# (a wave, a departure, a review) moves every order and stock row it concerns: about 0.4 ms.
# Measured again after the bulk allocation/replenishment decisions (same day): smoke 0.47 s,
# at 3,000/h 0.8-1.0 s and over 400 h 25.7 s, peak_day (291,000 orders) 3.6 s, peak_season
# 27.3 s; in the suite smoke at 3,000/h took 0.62 s. Refitted then: 8 us an order (the bulk
# decisions took most per-order work away), events as before. On an idle machine, after supplier
# deliveries of a minute shared one event (2026-12-07): smoke 0.21 s, at 3,000/h 0.38 s,
# peak_day 2.1 s, peak_season 9.4 s (a loaded machine takes about 2x): refitted to 4 us an
# order and 0.3 ms an event, the estimate is 1.2x (peak_season) to 2.2x (smoke) of an idle run.
CPU_FIXED_SECONDS = 0.1
CPU_SECONDS_PER_ORDER = 4e-6
CPU_SECONDS_PER_EVENT = 0.3e-3


@dataclass(frozen=True)
class RunSize:
    """The expected size of one replication."""

    orders: float
    lines: float
    pairs: int  # (SKU, warehouse) pairs
    run_hours: float  # horizon + drain
    events: float  # scheduled: waves, departures, reviews, day ends
    memory_bytes: float
    cpu_seconds: float

    def summary(self) -> str:
        return (f"~{self.orders:,.0f} orders ({self.lines:,.0f} lines) over {self.run_hours:,g} h; "
                f"~{self.events:,.0f} scheduled events; {self.pairs:,} SKU-warehouse pairs; "
                f"~{human_bytes(self.memory_bytes)} of memory; "
                f"~{human_seconds(self.cpu_seconds)} of CPU")


@dataclass(frozen=True)
class Workload:
    """The replications a command runs (each one's size) and how many run at once."""

    runs: tuple[RunSize, ...]
    at_once: int  # processes running replications side by side

    @classmethod
    def of(cls, runs: Sequence[RunSize], jobs: int) -> Workload:
        """``runs`` on ``jobs`` processes (never more at once than there are runs)."""
        return cls(tuple(runs), max(1, min(jobs, len(runs))))

    @property
    def memory_bytes(self) -> float:
        """Memory of the largest runs side by side."""
        return self.at_once * max(run.memory_bytes for run in self.runs)

    @property
    def cpu_seconds(self) -> float:
        return sum(run.cpu_seconds for run in self.runs)

    @property
    def wall_seconds(self) -> float:
        """CPU time shared by the processes, at most one core each (of those this machine has)."""
        return self.cpu_seconds / max(1, min(self.at_once, os.cpu_count() or 1))

    def summary(self) -> str:
        largest = max(self.runs, key=lambda run: run.memory_bytes)
        return (f"{len(self.runs):,} runs, {self.at_once} at once, each up to "
                f"~{largest.orders:,.0f} orders and ~{human_bytes(largest.memory_bytes)}: "
                f"~{human_bytes(self.memory_bytes)} of memory, "
                f"~{human_seconds(self.wall_seconds)} ({human_seconds(self.cpu_seconds)} of CPU)")


def _mean_count(dist: Constant | ShiftedPoisson) -> float:
    """Mean of a count distribution as the model rounds it (at least one, at most its cap)."""
    if isinstance(dist, Constant):
        return max(1.0, float(round(dist.value)))
    return min(dist.mean, float(dist.max))


def expected_orders(scenario: Scenario, group_mass: np.ndarray) -> float:
    """Orders over the horizon: the rate of :class:`~simulator.demand.DemandCurve` integrated,
    without its minute-by-group table (a year of 100 groups is 400 MB): peaks change the rate
    only at their edges, so each stretch between edges is one sum of the hourly-weekly rate
    times one mix of group multipliers. Regions on other clocks add up by clock (offset),
    each with its regions' share of the weight."""
    offsets = region_offsets(scenario)
    weights = np.array([r.weight for r in scenario.network.regions])
    return sum(float(weights[offsets == offset].sum() / weights.sum())
               * _expected_on_clock(scenario, group_mass, int(offset))
               for offset in np.unique(offsets))


def _expected_on_clock(scenario: Scenario, group_mass: np.ndarray, offset: int) -> float:
    """:func:`expected_orders` of a network whose buyers all keep a clock ``offset`` minutes
    ahead of the platform's."""
    demand, clock = scenario.demand, scenario.clock
    horizon = clock.horizon_minutes
    minutes = math.ceil(horizon)
    hour, weekday = calendar(clock, np.arange(minutes) + 0.5 + offset)  # a minute's middle
    base = (demand.baseline_orders_per_hour / 60 * np.asarray(demand.hour_of_day)[hour]
            * np.asarray(demand.day_of_week)[weekday])
    base[-1] *= horizon - (minutes - 1)  # a part-minute at the end counts in part
    cumulative = np.concatenate([[0.0], np.cumsum(base)])
    peaks = demand.peaks
    if not peaks:
        return float(cumulative[-1] * group_mass.sum())
    # minutes whose middle lies in [start, end) of each peak: [first, stop)
    starts = [p.start_minute - (offset if p.local_time else 0) for p in peaks]
    ends = [p.end_minute - (offset if p.local_time else 0) for p in peaks]
    first = np.clip([math.ceil(t - 0.5) for t in starts], 0, minutes)
    stop = np.clip([math.ceil(t - 0.5) for t in ends], 0, minutes)
    edges = np.unique(np.concatenate([[0, minutes], first, stop]))
    active = (first[None, :] <= edges[:-1, None]) & (edges[:-1, None] < stop[None, :])
    log_mult = np.log([p.multiplier for p in peaks])
    names = [g.name for g in scenario.catalogue.groups]
    promotes = np.zeros((len(peaks), len(names)))  # a group named twice counts twice
    for i, peak in enumerate(peaks):
        for name in peak.sku_groups or ():
            promotes[i, names.index(name)] += 1
    is_global = np.array([p.sku_groups is None for p in peaks])
    overall = np.exp(active @ (log_mult * is_global))
    mix = np.exp(active @ (promotes * (log_mult * ~is_global)[:, None])) @ group_mass
    return float(np.sum(np.diff(cumulative[edges]) * overall * mix))


def shock_quantile(scenario: Scenario, level: float = 0.99) -> float:
    """The ``level`` quantile of the demand shock's lognormal factor (mean 1); 1 without one.

    A factor per SKU group or region mixes several draws, so this bounds their total too.
    """
    shock = scenario.demand.shock
    if shock is None:
        return 1.0
    sigma = math.sqrt(math.log1p(shock.cv**2))
    return math.exp(-sigma**2 / 2 + sigma * NormalDist().inv_cdf(level))


def estimate(scenario: Scenario) -> RunSize:
    """The expected size of a replication of ``scenario`` (no random numbers drawn)."""
    clock, net, cat = scenario.clock, scenario.network, scenario.catalogue
    orders = expected_orders(scenario, build_skus(cat).group_mass())
    lines = orders * _mean_count(cat.lines_per_order)
    pairs = cat.sku_count * len(net.warehouses)
    run_minutes = clock.horizon_minutes + clock.drain_hours * 60
    waves = (sum(run_minutes / w.wave_minutes for w in net.warehouses)
             + sum(run_minutes / c.wave_minutes for c in net.sorting_centres)
             + len(net.hubs) * run_minutes / HUB_WAVE_MINUTES)
    days = run_minutes / 1440
    departures = sum(len(lane.departures) for lane in net.lanes) * math.ceil(days)
    choice = scenario.policies.replenishment
    review = replenishment_policies.create(choice.name, choice.params).review_hours
    reviews = run_minutes / (review * 60) if review else 0.0
    nodes = len(net.warehouses) + len(net.sorting_centres) + len(net.hubs)
    shocked = shock_quantile(scenario)  # memory for a replication whose demand came high
    memory = (FIXED_BYTES + (BYTES_PER_ORDER * orders + BYTES_PER_LINE * lines) * shocked
              + BYTES_PER_PAIR * pairs + BYTES_PER_NODE_MINUTE * nodes * run_minutes
              + BYTES_PER_NODE_BIN * nodes * run_minutes / clock.resolution_minutes
              + BYTES_PER_GROUP_MINUTE * len(cat.groups) * clock.horizon_minutes
              + BYTES_PER_ROUTE * len(net.warehouses) * len(net.regions))
    events = waves + departures + reviews + days
    cpu = CPU_FIXED_SECONDS + CPU_SECONDS_PER_ORDER * orders + CPU_SECONDS_PER_EVENT * events
    return RunSize(orders, lines, pairs, run_minutes / 60, events, memory, cpu)


def available_memory() -> int | None:
    """Bytes of memory this machine can give a new run now (``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human_seconds(seconds: float) -> str:
    """``42`` -> ``"42 s"``, ``300`` -> ``"5.0 min"``, ``7200`` -> ``"2.0 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.1f} h"


def human_bytes(size: float) -> str:
    """``1536 * 2**20`` -> ``"1.5 GB"`` (binary units, as the kernel counts)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TB"
