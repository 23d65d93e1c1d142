"""The load profile: the scenario's demand curve compressed into the test's duration.

A scenario's demand is ``baseline x hour_of_day x day_of_week x peaks`` orders per hour over
``clock.horizon_hours``. The load test replays that curve in ``duration_s`` seconds (a 24-hour
Black-Friday day in, say, five minutes): at test second ``t`` the model clock stands at
``t / duration_s x horizon``, and the number of simulated users is
``peak_users x rate / max rate`` (at least ``min_users``). Each one-second tick covers a slice
of model time and takes the highest rate in that slice, so a flash spike shorter than a tick
still shows. ``loadtests.shape.ScenarioShape`` is the Locust ``LoadTestShape`` that plays a
:class:`LoadPlan`; the plan itself is plain data (this module does not import Locust).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from simulator.scenario import Scenario

ShapeKind = Literal["curve", "flat"]


def _start(scenario: Scenario) -> datetime:
    return datetime.fromisoformat(scenario.clock.start)


def demand_rate(scenario: Scenario, minute: float) -> float:
    """Expected orders per hour network-wide at model ``minute`` (all SKU groups).

    A promotion peak (``sku_groups``) multiplies only its groups' share of demand, taken as
    their share of the catalogue.
    """
    demand = scenario.demand
    when = _start(scenario) + timedelta(minutes=minute)
    rate = (
        demand.baseline_orders_per_hour
        * demand.hour_of_day[when.hour]
        * demand.day_of_week[when.weekday()]
    )
    shares = {g.name: g.share for g in scenario.catalogue.groups}
    for peak in demand.peaks:
        if peak.start_minute <= minute < peak.end_minute:
            if peak.sku_groups:
                share = sum(shares[g] for g in peak.sku_groups)
                rate *= 1 + (peak.multiplier - 1) * share
            else:
                rate *= peak.multiplier
    return rate


def _breakpoints(scenario: Scenario, lo: float, hi: float) -> list[float]:
    """Model minutes in ``[lo, hi)`` where the piecewise-constant rate may change, plus ``lo``."""
    start = _start(scenario)
    offset = start.minute + start.second / 60  # minutes past the hour at minute 0
    first_hour = math.ceil((lo + offset) / 60)
    points = {lo}
    m = first_hour * 60 - offset
    while m < hi:
        points.add(m)
        m += 60
    for peak in scenario.demand.peaks:
        for edge in (peak.start_minute, peak.end_minute):
            if lo <= edge < hi:
                points.add(edge)
    return sorted(points)


def max_rate(scenario: Scenario, lo: float, hi: float) -> float:
    """The highest demand rate over model minutes ``[lo, hi)``."""
    return max(demand_rate(scenario, m) for m in _breakpoints(scenario, lo, hi))


@dataclass(frozen=True)
class Stage:
    """Users to run from test second ``start_s`` until the next stage."""

    start_s: float
    users: int
    rate: float  # the demand rate (orders/hour) this stage stands for
    model_hour: float
    spawn_rate: float = 1.0  # users per second to reach ``users`` within about one tick


@dataclass(frozen=True)
class LoadPlan:
    """A user-count timetable for a test of ``duration_s`` seconds."""

    duration_s: float
    peak_users: int
    stages: tuple[Stage, ...]
    kind: ShapeKind = "curve"
    tick_s: float = 1.0

    def stage_at(self, t: float) -> Stage | None:
        """The stage in force at test second ``t``; ``None`` once the test is over."""
        if t >= self.duration_s or t < 0:
            return None
        chosen = self.stages[0]
        for stage in self.stages:
            if stage.start_s > t:
                break
            chosen = stage
        return chosen

    def users_at(self, t: float) -> int | None:
        stage = self.stage_at(t)
        return None if stage is None else stage.users

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "duration_s": self.duration_s,
            "peak_users": self.peak_users,
            "stages": [
                {"start_s": s.start_s, "users": s.users, "spawn_rate": s.spawn_rate,
                 "orders_per_hour": round(s.rate, 3), "model_hour": round(s.model_hour, 3)}
                for s in self.stages
            ],
        }


def curve_plan(
    scenario: Scenario, duration_s: float, peak_users: int, *, min_users: int = 1,
    tick_s: float = 1.0,
) -> LoadPlan:
    """Replay the scenario's demand over its horizon in ``duration_s`` seconds."""
    if duration_s <= 0 or peak_users < 1:
        raise ValueError("duration_s must be > 0 and peak_users >= 1")
    horizon = scenario.clock.horizon_minutes
    top = max_rate(scenario, 0, horizon)
    ticks = max(1, math.ceil(duration_s / tick_s))
    stages = []
    for i in range(ticks):
        lo = i * tick_s / duration_s * horizon
        hi = min(horizon, (i + 1) * tick_s / duration_s * horizon)
        rate = max_rate(scenario, lo, max(hi, lo + 1e-9))
        users = max(min_users, min(peak_users, round(peak_users * rate / top)))
        stages.append(Stage(i * tick_s, users, rate, lo / 60))
    return LoadPlan(duration_s, peak_users, _with_spawn_rates(stages, peak_users, tick_s), "curve",
                    tick_s)


def _with_spawn_rates(stages: list[Stage], peak_users: int, tick_s: float) -> tuple[Stage, ...]:
    """Give each stage a spawn rate that makes its change within one tick (never below 1/s)."""
    out, previous = [], 0
    for stage in stages:
        rate = max(1.0, abs(stage.users - previous) / tick_s, peak_users / 10)
        out.append(Stage(stage.start_s, stage.users, stage.rate, stage.model_hour, float(rate)))
        previous = stage.users
    return tuple(out)


def flat_plan(duration_s: float, peak_users: int, *, ramp_s: float | None = None) -> LoadPlan:
    """Ramp to ``peak_users`` (within 5 s or a fifth of the run), then hold: capacity tests."""
    if duration_s <= 0 or peak_users < 1:
        raise ValueError("duration_s must be > 0 and peak_users >= 1")
    ramp = min(5.0, duration_s / 5) if ramp_s is None else ramp_s
    steps = max(1, math.ceil(ramp))
    stages = [
        Stage(float(i), max(1, round(peak_users * (i + 1) / steps)), 0.0, 0.0)
        for i in range(steps)
    ]
    return LoadPlan(duration_s, peak_users, _with_spawn_rates(stages, peak_users, 1.0), "flat", 1.0)


def make_plan(scenario: Scenario, kind: ShapeKind, duration_s: float, peak_users: int) -> LoadPlan:
    return curve_plan(scenario, duration_s, peak_users) if kind == "curve" else flat_plan(
        duration_s, peak_users
    )
