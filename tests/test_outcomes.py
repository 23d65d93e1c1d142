"""Order outcomes: every due order counts in on-time and lead time; not-yet-due ones stand apart."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from simulator.actors.postings import CANCELLED, DELIVERED, NOT_ACCEPTED
from simulator.metrics import write_run_files
from simulator.model import Simulation
from simulator.outcomes import Outcomes
from simulator.scenario import parse_scenario

from .model_worlds import smoke_dict

DAY = 24 * 60


def test_each_order_gets_one_outcome_and_due_orders_count() -> None:
    # orders: on time, late, in flight past due, in flight not yet due, cancelled, not accepted
    yes, no = True, False
    delivered = np.array([yes, yes, no, no, no, no])
    outcomes = Outcomes.of(
        placed=np.ones(6, dtype=bool), delivered=delivered,
        in_flight=np.array([no, no, yes, yes, no, no]),
        cancelled=np.array([no, no, no, no, yes, no]),
        not_accepted=np.array([no, no, no, no, no, yes]),
        ordered_at=np.array([0.0, 0.0, 0.0, 2 * DAY, 0.0, 0.0]),
        delivered_at=np.array([DAY / 2, 2 * DAY, np.nan, np.nan, np.nan, np.nan]),
        promised_minutes=np.full(6, float(DAY)), end=2.5 * DAY)
    everything = np.ones(6, dtype=bool)
    counts = outcomes.counts(everything)
    assert counts == {"delivered_on_time": 1, "delivered_late": 1, "in_flight_late": 1,
                      "not_yet_due": 1, "cancelled": 1, "not_accepted": 1}
    # due: the two delivered, the overdue one and the refused one
    assert outcomes.on_time_rate(everything) == pytest.approx(1 / 4)
    # lead time: 12 h, 48 h, and the overdue order at its age (60 h); nothing else
    assert np.sort(outcomes.lead_hours[~np.isnan(outcomes.lead_hours)]).tolist() == [12, 48, 60]
    assert outcomes.lead_percentiles(everything)["lead_time_p50_hours"] == pytest.approx(48)


def test_orders_in_flight_at_the_end_are_late_or_not_yet_due(tmp_path) -> None:
    d = smoke_dict()
    d["clock"]["drain_hours"] = 0  # the run ends with parcels on the way
    d["network"]["regions"][0]["promised_days"] = 0.5
    sim = Simulation(parse_scenario(d), 2)
    result = sim.run()
    k = result.kpis
    assert k["orders_in_flight_late"] > 0 and k["orders_not_yet_due"] > 0
    # the same split by hand from the postings
    a, p = sim.arrivals, sim.postings
    status = p.status[: p.n]
    open_ = np.bincount(p.order[: p.n][~np.isin(status, [DELIVERED, CANCELLED, NOT_ACCEPTED])],
                        minlength=a.count) > 0
    promised = np.array([r.promised_days for r in sim.scenario.network.regions])[a.region] * DAY
    overdue = open_ & (a.time + promised <= sim.end)
    assert k["orders_in_flight_late"] == overdue.sum()
    assert k["orders_not_yet_due"] == (open_ & ~overdue).sum()
    # on time counts the overdue orders as late: lower than over delivered orders only
    assert k["on_time_rate"] == pytest.approx(
        k["orders_delivered_on_time"]
        / (k["orders_delivered"] + k["orders_in_flight_late"] + k["orders_not_accepted"]))
    assert k["on_time_rate"] < k["orders_delivered_on_time"] / k["orders_delivered"]
    # per region, and in kpis.csv
    rows = {r["region"]: r for r in result.tables["regions"]}
    assert rows["R-MSK"]["promised_days"] == 0.5
    assert rows["R-MSK"]["orders_in_flight_late"] > 0
    write_run_files(result, tmp_path)
    with (tmp_path / "kpis.csv").open(encoding="utf-8") as fh:
        table = {row["kpi"]: float(row["value"]) for row in csv.DictReader(fh)}
    for region, row in rows.items():
        assert table[f"on_time_rate[{region}]"] == pytest.approx(row["on_time_rate"])
        assert table[f"orders_not_yet_due[{region}]"] == row["orders_not_yet_due"]
