"""Supplier deliveries due in the same minute share one event (``MinuteBatches``): where the
first of them was scheduled, after any reader of stock that sealed the minute in between, and
with results identical to one event per purchase-order batch."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from simulator.actors.schedule import MinuteBatches, call_at
from simulator.model import Simulation

from .model_worlds import stressed


def test_items_of_a_minute_join_its_pending_event_until_a_reader_seals_it() -> None:
    env = simpy.Environment()
    seen: list[tuple[float, object]] = []
    batches = MinuteBatches(env, 100.0, lambda rows: seen.append((env.now, rows[:, 0].tolist())))
    batches.add(np.array([5.0, 7.0, 5.0]), np.array([[1], [2], [3]]))
    call_at(env, 5.0, lambda: seen.append((env.now, "reader")))
    batches.seal(5.0)  # the reader at minute 5 sees items 1 and 3, not 4
    batches.add(np.array([7.0, 5.0, 100.0, 250.0]), np.array([[5], [4], [6], [7]]))
    env.run(until=300.0)  # items due at the end (100) or later are never scheduled
    assert seen == [(5.0, [1, 3]), (5.0, "reader"), (5.0, [4]), (7.0, [2, 5])]


@pytest.mark.parametrize("replenishment", [
    {"name": "base_stock", "params": {"level_days": 2}},
    {"name": "periodic_review", "params": {"review_hours": 6, "S_days": 1}},
])
def test_merged_deliveries_give_the_results_of_one_event_per_batch(
        monkeypatch: pytest.MonkeyPatch, replenishment: dict) -> None:
    scenario = stressed(replenishment=replenishment)
    merged = Simulation(scenario, 3)
    merged_result = merged.run()
    add = MinuteBatches.add

    def one_event_per_add(self: MinuteBatches, minutes: np.ndarray, rows: np.ndarray) -> None:
        add(self, minutes, rows)
        self._open.clear()  # what the next add brings gets events of its own

    monkeypatch.setattr(MinuteBatches, "add", one_event_per_add)
    apart = Simulation(scenario, 3)
    apart_result = apart.run()
    assert merged_result.kpis["units_received"] > 0
    assert next(merged.env._eid) < next(apart.env._eid)  # fewer events...
    assert merged_result.kpis == apart_result.kpis  # ...same run
    assert merged_result.tables == apart_result.tables
    for name, column in apart_result.series.items():
        np.testing.assert_array_equal(merged_result.series[name], column)
