"""The load profile: the scenario's demand curve compressed into the test's duration.

A scenario's demand is ``baseline x hour_of_day x day_of_week x peaks`` orders per hour over
``clock.horizon_hours`` (promotions multiply their SKU groups' share), as
``simulator.demand.DemandCurve`` computes it per model minute. The load test replays that
curve in ``duration_s`` seconds (a 24-hour Black-Friday day in, say, five minutes): at test
second ``t`` the model clock stands at ``t / duration_s x horizon``, and the number of
simulated users is ``peak_users x rate / max rate`` (at least ``min_users``). Each one-second
tick covers a slice of model time and takes the highest rate in that slice, so a flash spike
shorter than a tick still shows. ``loadtests.shape.ScenarioShape`` is the Locust
``LoadTestShape`` that plays a :class:`LoadPlan`; the plan itself is plain data (this module
does not import Locust).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simulator.demand import DemandCurve, build_skus
from simulator.scenario import Scenario

ShapeKind = Literal["curve", "flat"]


def orders_per_hour(scenario: Scenario) -> np.ndarray:
    """The scenario's expected order rate for each model minute, in orders per hour.

    The simulator's own curve (``simulator.demand.DemandCurve``): one implementation of the
    demand the model simulates and the load test replays.
    """
    curve = DemandCurve(scenario, build_skus(scenario.catalogue))
    return np.asarray(curve.rate, dtype=float) * 60


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
    rate = orders_per_hour(scenario)
    minutes = len(rate)
    top = float(rate.max())
    ticks = max(1, math.ceil(duration_s / tick_s))
    stages = []
    for i in range(ticks):
        lo = min(minutes - 1, math.floor(i * tick_s / duration_s * minutes + 1e-9))
        hi = max(lo + 1, math.ceil((i + 1) * tick_s / duration_s * minutes - 1e-9))
        peak = float(rate[lo:hi].max())
        users = max(min_users, min(peak_users, round(peak_users * peak / top))) if top else 1
        stages.append(Stage(i * tick_s, users, peak, lo / 60))
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
