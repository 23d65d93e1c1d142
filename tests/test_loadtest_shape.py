"""The load profile: the scenario's demand curve compressed into the test's duration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.profile import curve_plan, flat_plan, orders_per_hour
from simulator.scenario import load_scenario


@pytest.fixture(scope="module")
def smoke(smoke_path):
    return load_scenario(smoke_path)


def test_the_rate_is_the_simulators_curve_in_orders_per_hour(smoke):
    rate = orders_per_hour(smoke)
    dem = smoke.demand
    assert len(rate) == 24 * 60
    # 2026-11-27 is a Friday; the smoke day-of-week factors are all 1
    assert rate[30] == pytest.approx(60 * dem.hour_of_day[0])
    assert rate[19 * 60 + 1] == pytest.approx(60 * dem.hour_of_day[19] * 3)  # flash sale x3
    assert rate[21 * 60 + 1] == pytest.approx(60 * dem.hour_of_day[21])


def test_curve_follows_the_day_and_keeps_the_flash_spike(smoke):
    plan = curve_plan(smoke, duration_s=24, peak_users=30)  # one second per model hour
    users = [s.users for s in plan.stages]
    assert len(users) == 24
    rate = orders_per_hour(smoke)
    for hour, n in enumerate(users):
        assert n == max(1, round(30 * rate[hour * 60:(hour + 1) * 60].max() / rate.max()))
        assert plan.stages[hour].model_hour == hour
    assert max(users) == 30 and users.index(30) == 19 and users[20] == 30  # the 2-hour spike
    assert users[18] < 30 and users[21] < 30
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
