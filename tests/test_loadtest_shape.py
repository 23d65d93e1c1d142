"""The load profile: the scenario's demand curve compressed into the test's duration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.profile import curve_plan, demand_rate, flat_plan, max_rate
from simulator.scenario import load_scenario


@pytest.fixture(scope="module")
def smoke(smoke_path):
    return load_scenario(smoke_path)


def test_rate_is_baseline_times_hour_day_and_peak(smoke):
    dem = smoke.demand
    # 2026-11-27 is a Friday; the smoke day-of-week factors are all 1
    assert demand_rate(smoke, 0) == pytest.approx(60 * dem.hour_of_day[0])
    assert demand_rate(smoke, 10 * 60 + 30) == pytest.approx(60 * dem.hour_of_day[10])
    # the evening flash sale (19:00-21:00, x3)
    assert demand_rate(smoke, 19 * 60) == pytest.approx(60 * dem.hour_of_day[19] * 3)
    assert demand_rate(smoke, 21 * 60) == pytest.approx(60 * dem.hour_of_day[21])


def test_day_of_week_and_promotion_share(smoke):
    weekly = smoke.with_overrides(**{
        "demand.day_of_week": [1, 1, 1, 1, 2, 1, 1],  # Friday twice the others (normalised)
        "demand.peaks": [{"name": "promo", "start_hour": 0, "duration_hours": 1,
                          "multiplier": 3, "sku_groups": ["electronics"]}],
    })
    friday = 2 / (8 / 7)
    hod0 = weekly.demand.hour_of_day[0]
    # electronics are 30 % of the catalogue: 1 + (3 - 1) x 0.3
    assert demand_rate(weekly, 0) == pytest.approx(60 * hod0 * friday * 1.6)
    assert demand_rate(weekly, 24 * 60) == pytest.approx(60 * hod0 * (1 / (8 / 7)))


def test_curve_follows_the_day_and_keeps_the_flash_spike(smoke):
    plan = curve_plan(smoke, duration_s=24, peak_users=30)  # one second per model hour
    users = [s.users for s in plan.stages]
    assert len(users) == 24
    assert max(users) == 30 and users.index(30) == 19  # the spike hour gets the peak users
    assert users[20] == 30  # the spike lasts two model hours
    top = max_rate(smoke, 0, 24 * 60)
    assert users[3] == max(1, round(30 * demand_rate(smoke, 3 * 60) / top))
    assert users[3] < users[12] < users[19]
    assert plan.users_at(23.9) == users[23] and plan.users_at(24.0) is None


def test_a_spike_shorter_than_a_tick_still_shows(smoke):
    short = smoke.with_overrides(**{"demand.peaks": [
        {"name": "flash", "start_hour": 10.2, "duration_hours": 0.1, "multiplier": 5}]})
    plan = curve_plan(short, duration_s=6, peak_users=50)  # 4 model hours a tick
    users = [s.users for s in plan.stages]
    assert users[2] == 50 and users.count(50) == 1


@given(duration=st.floats(1, 600), peak=st.integers(1, 500))
def test_plan_bounds(smoke, duration, peak):
    plan = curve_plan(smoke, duration, peak)
    assert all(1 <= s.users <= peak for s in plan.stages)
    assert max(s.users for s in plan.stages) == peak
    assert all(s.spawn_rate >= 1 for s in plan.stages)
    previous = 0
    for stage in plan.stages:  # each change can complete within one tick
        assert stage.spawn_rate * plan.tick_s >= abs(stage.users - previous)
        previous = stage.users
    assert plan.users_at(duration) is None


def test_flat_plan_ramps_then_holds():
    plan = flat_plan(30, 100)
    assert [s.users for s in plan.stages] == [20, 40, 60, 80, 100]
    assert plan.users_at(29) == 100 and plan.users_at(30) is None
